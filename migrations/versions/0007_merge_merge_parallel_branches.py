"""merge parallel branches

Revision ID: 0007_merge
Revises: 0005_eligibility, 0005_schedule, 0006_approvals
Create Date: 2026-11-23 13:12:54.846856
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0007_merge'
down_revision = ('0005_eligibility', '0005_schedule', '0006_approvals')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
