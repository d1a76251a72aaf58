"""merge parallel branches: the checks' queue, the spot-check comparison and the redo flags

Revision ID: 0012_merge
Revises: 0011_checks_queue, 0011_spot_compare, 0011_spot_redo
Create Date: 2026-11-23 15:20:00
"""


revision = '0012_merge'
down_revision = ('0011_checks_queue', '0011_spot_compare', '0011_spot_redo')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
