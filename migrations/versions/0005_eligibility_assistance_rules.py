"""assistance rules: uplift, supplements, minimum wage and disqualifying red flags per county and date

Revision ID: 0005_eligibility
Revises: 0004
Create Date: 2026-11-23 13:06:06.348460
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0005_eligibility'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assistance_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('bottom_line_uplift_percent', sa.Integer(), server_default='10', nullable=False),
    sa.Column('supplement_sanwu_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_sanwu_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_severe_disability_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_severe_disability_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_serious_illness_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_serious_illness_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('supplement_age_80_urban_fen', sa.Integer(), server_default='2500', nullable=False),
    sa.Column('supplement_age_80_rural_fen', sa.Integer(), server_default='1000', nullable=False),
    sa.Column('minimum_wage_fen', sa.Integer(), nullable=True),
    sa.Column('ineligible_red_flags', sa.JSON(), server_default='["owns_vehicle_or_machinery", "bought_housing_or_large_house", "business_or_rental_income", "luxury_goods", "pension_above_standard"]', nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('bottom_line_uplift_percent >= 0', name=op.f('ck_assistance_rules_bottom_line_uplift_percent_not_negative')),
    sa.CheckConstraint('minimum_wage_fen IS NULL OR minimum_wage_fen > 0', name=op.f('ck_assistance_rules_minimum_wage_fen_positive')),
    sa.CheckConstraint('supplement_sanwu_urban_fen >= 0 AND supplement_sanwu_rural_fen >= 0 AND supplement_severe_disability_urban_fen >= 0 AND supplement_severe_disability_rural_fen >= 0 AND supplement_serious_illness_urban_fen >= 0 AND supplement_serious_illness_rural_fen >= 0 AND supplement_age_80_urban_fen >= 0 AND supplement_age_80_rural_fen >= 0', name=op.f('ck_assistance_rules_supplements_not_negative')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_assistance_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_rules')),
    sa.UniqueConstraint('county_id', 'effective_from', name=op.f('uq_assistance_rules_county_id_effective_from'))
    )


def downgrade() -> None:
    op.drop_table('assistance_rules')
