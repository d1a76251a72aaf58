"""county_rules from a date on: effective_from, one row per county and date

Revision ID: 0002_county_rules_dated
Revises: 0001_baseline
Create Date: 2026-12-04 22:51:06
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_county_rules_dated'
down_revision = '0001_baseline'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_from', sa.Date(), nullable=True))
    # A county's one row so far was its rules for every visit: in force since always (RULES_SINCE).
    op.execute("UPDATE county_rules SET effective_from = '2000-01-01'")
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.alter_column('effective_from', existing_type=sa.Date(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_county_rules_county_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_county_rules_county_id_effective_from'),
                                          ['county_id', 'effective_from'])


def downgrade() -> None:
    # One row per county again: its latest.
    op.execute("DELETE FROM county_rules WHERE EXISTS (SELECT 1 FROM county_rules AS later "
               "WHERE later.county_id = county_rules.county_id AND later.effective_from > county_rules.effective_from)")
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_county_rules_county_id_effective_from'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_county_rules_county_id'), ['county_id'])
        batch_op.drop_column('effective_from')
