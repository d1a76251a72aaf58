"""pictures and checks after receipt: the versions still to check are the queue

Revision ID: 0011_checks_queue
Revises: 0010_spot_results
Create Date: 2026-11-23 15:05:00
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0011_checks_queue'
down_revision = '0010_spot_results'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', server.models.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('check_lease_until', server.models.base.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inspected_at', server.models.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('picture_problem', sa.Text(), nullable=True))
    # Everything received so far was inspected and checked at receipt.
    op.execute("UPDATE submission_versions SET checked_at = received_at")
    op.execute("UPDATE attachments SET inspected_at = received_at WHERE phash IS NOT NULL")
    op.create_index('ix_submission_versions_unchecked', 'submission_versions', ['id'], unique=False,
                    sqlite_where=sa.text('checked_at IS NULL'), postgresql_where=sa.text('checked_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_submission_versions_unchecked', table_name='submission_versions',
                  sqlite_where=sa.text('checked_at IS NULL'), postgresql_where=sa.text('checked_at IS NULL'))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('picture_problem')
        batch_op.drop_column('inspected_at')
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.drop_column('check_lease_until')
        batch_op.drop_column('check_attempts')
        batch_op.drop_column('checked_at')
