"""sample item results: the re-visit and its comparison with the original

Revision ID: 0010_spot_results
Revises: 0009_sampling
Create Date: 2026-11-23 14:40:00
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0010_spot_results'
down_revision = '0009_sampling'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sample_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_submission_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', server.models.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('result', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('comparison', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sample_items_check_submission_id'), ['check_submission_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_sample_items_check_submission_id_submissions'), 'submissions',
                                    ['check_submission_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint(batch_op.f('ck_sample_items_result'),
                                         "result IS NULL OR result IN ('agree', 'differ', 'error')")
        batch_op.create_check_constraint(batch_op.f('ck_sample_items_result_checked'),
                                         "(result IS NULL) = (checked_at IS NULL)")


def downgrade() -> None:
    with op.batch_alter_table('sample_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_sample_items_result_checked'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_sample_items_result'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_sample_items_check_submission_id_submissions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sample_items_check_submission_id'))
        batch_op.drop_column('comparison')
        batch_op.drop_column('result')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('check_submission_id')
