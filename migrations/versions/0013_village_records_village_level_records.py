"""village-level records (publicity, democratic appraisal) filed under the village they name

Revision ID: 0013_village_records
Revises: 0012_merge
Create Date: 2026-11-23 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_village_records'
down_revision = '0012_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('village_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_submissions_village_id'), ['village_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_submissions_village_id_areas'), 'areas', ['village_id'], ['id'],
                                    ondelete='RESTRICT')


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_submissions_village_id_areas'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_submissions_village_id'))
        batch_op.drop_column('village_id')
