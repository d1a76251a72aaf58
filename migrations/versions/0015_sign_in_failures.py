"""sign_in_failures: recent wrong passwords per (username, address), for sign-in throttling

Revision ID: 0015_sign_in_failures
Revises: 0014_attachment_index
Create Date: 2026-12-03 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0015_sign_in_failures'
down_revision = '0014_attachment_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'address', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_last_failed_at'), ['last_failed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_last_failed_at'))

    op.drop_table('sign_in_failures')
