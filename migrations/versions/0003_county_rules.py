"""county rules and assistance standards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:16:01.043092
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('county_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('location_threshold_m', sa.Integer(), server_default='300', nullable=False),
    sa.Column('max_accuracy_m', sa.Integer(), server_default='50', nullable=False),
    sa.Column('photo_distance_m', sa.Integer(), server_default='500', nullable=False),
    sa.Column('photo_time_slack_minutes', sa.Integer(), server_default='30', nullable=False),
    sa.Column('not_home_limit', sa.Integer(), server_default='3', nullable=False),
    sa.Column('updated_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('location_threshold_m > 0', name=op.f('ck_county_rules_location_threshold_m_positive')),
    sa.CheckConstraint('max_accuracy_m > 0', name=op.f('ck_county_rules_max_accuracy_m_positive')),
    sa.CheckConstraint('not_home_limit > 0', name=op.f('ck_county_rules_not_home_limit_positive')),
    sa.CheckConstraint('photo_distance_m > 0', name=op.f('ck_county_rules_photo_distance_m_positive')),
    sa.CheckConstraint('photo_time_slack_minutes >= 0', name=op.f('ck_county_rules_photo_time_slack_minutes_not_negative')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_county_rules_county_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_county_rules')),
    sa.UniqueConstraint('county_id', name=op.f('uq_county_rules_county_id'))
    )
    op.create_table('standards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('residence', sa.String(length=5), nullable=False),
    sa.Column('monthly_fen', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("residence IN ('urban', 'rural')", name=op.f('ck_standards_residence')),
    sa.CheckConstraint('monthly_fen > 0', name=op.f('ck_standards_monthly_fen_positive')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_standards_area_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards')),
    sa.UniqueConstraint('area_id', 'residence', 'effective_from', name=op.f('uq_standards_area_id_residence_effective_from'))
    )


def downgrade() -> None:
    op.drop_table('standards')
    op.drop_table('county_rules')
