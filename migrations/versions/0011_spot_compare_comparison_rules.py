"""comparison rules: each county's income tolerance and the items that make a re-visit an error

Revision ID: 0011_spot_compare
Revises: 0010_spot_results
Create Date: 2026-11-23 16:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_spot_compare'
down_revision = '0010_spot_results'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('income_tolerance_permille', sa.Integer(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('error_items', sa.JSON(),
                                      server_default='["household_size", "income", "category", "eligibility"]',
                                      nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_county_rules_income_tolerance_permille'),
                                         'income_tolerance_permille BETWEEN 0 AND 1000')


def downgrade() -> None:
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_county_rules_income_tolerance_permille'), type_='check')
        batch_op.drop_column('error_items')
        batch_op.drop_column('income_tolerance_permille')
