"""visit frequency rules: how often each county re-visits its households (docs/schedule.md)

Revision ID: 0005_schedule
Revises: 0004
Create Date: 2026-11-23 13:06:43.408760
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0005_schedule'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visit_frequency_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('yearly_categories', sa.String(length=20), server_default='A', nullable=False),
    sa.Column('able_to_work', sa.String(length=20), server_default='full', nullable=False),
    sa.Column('unstable_if_operating_income', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('unstable_if_wage_unproven', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('unstable_if_able_without_income', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('yearly_months', sa.Integer(), server_default='12', nullable=False),
    sa.Column('stable_months', sa.Integer(), server_default='6', nullable=False),
    sa.Column('unstable_urban_months', sa.Integer(), server_default='1', nullable=False),
    sa.Column('unstable_rural_months', sa.Integer(), server_default='3', nullable=False),
    sa.Column('not_home_retry_days', sa.Integer(), server_default='7', nullable=False),
    sa.Column('annual_review', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('review_start_month', sa.Integer(), server_default='8', nullable=False),
    sa.Column('review_start_day', sa.Integer(), server_default='1', nullable=False),
    sa.Column('review_end_month', sa.Integer(), server_default='9', nullable=False),
    sa.Column('review_end_day', sa.Integer(), server_default='30', nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('not_home_retry_days > 0', name=op.f('ck_visit_frequency_rules_not_home_retry_days_positive')),
    sa.CheckConstraint('review_start_day BETWEEN 1 AND 31 AND review_end_day BETWEEN 1 AND 31', name=op.f('ck_visit_frequency_rules_review_days')),
    sa.CheckConstraint('review_start_month BETWEEN 1 AND 12 AND review_end_month BETWEEN 1 AND 12', name=op.f('ck_visit_frequency_rules_review_months')),
    sa.CheckConstraint('stable_months > 0', name=op.f('ck_visit_frequency_rules_stable_months_positive')),
    sa.CheckConstraint('unstable_rural_months > 0', name=op.f('ck_visit_frequency_rules_unstable_rural_months_positive')),
    sa.CheckConstraint('unstable_urban_months > 0', name=op.f('ck_visit_frequency_rules_unstable_urban_months_positive')),
    sa.CheckConstraint('yearly_months > 0', name=op.f('ck_visit_frequency_rules_yearly_months_positive')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_visit_frequency_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_frequency_rules')),
    sa.UniqueConstraint('county_id', 'effective_from', name=op.f('uq_visit_frequency_rules_county_id_effective_from'))
    )


def downgrade() -> None:
    op.drop_table('visit_frequency_rules')
