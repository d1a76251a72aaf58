"""spot check campaigns

Revision ID: 0009_sampling
Revises: 0008_audit
Create Date: 2026-11-23 13:37:46.082432
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0009_sampling'
down_revision = '0008_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('township_ids', sa.JSON(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('population', sa.String(length=20), nullable=False),
    sa.Column('rate_permille', sa.Integer(), nullable=False),
    sa.Column('error_threshold_permille', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('drawn_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("population IN ('approved_visits', 'active_households')", name=op.f('ck_campaigns_population')),
    sa.CheckConstraint('error_threshold_permille BETWEEN 0 AND 1000', name=op.f('ck_campaigns_threshold')),
    sa.CheckConstraint('period_start <= period_end', name=op.f('ck_campaigns_period')),
    sa.CheckConstraint('rate_permille BETWEEN 1 AND 1000', name=op.f('ck_campaigns_rate')),
    sa.ForeignKeyConstraint(['county_id'], ['areas.id'], name=op.f('fk_campaigns_county_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_county_id'), ['county_id'], unique=False)

    op.create_table('sample_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('original_submission_id', sa.Integer(), nullable=True),
    sa.Column('original_investigator_id', sa.Integer(), nullable=True),
    sa.Column('checker_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('checker_id IS NULL OR original_investigator_id IS NULL OR checker_id <> original_investigator_id', name=op.f('ck_sample_items_checker_not_original')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_sample_items_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['checker_id'], ['users.id'], name=op.f('fk_sample_items_checker_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_sample_items_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['original_investigator_id'], ['users.id'], name=op.f('fk_sample_items_original_investigator_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['original_submission_id'], ['submissions.id'], name=op.f('fk_sample_items_original_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_sample_items_village_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_items')),
    sa.UniqueConstraint('campaign_id', 'household_id', name=op.f('uq_sample_items_campaign_id_household_id'))
    )
    with op.batch_alter_table('sample_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_items_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_items_checker_id'), ['checker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_items_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_items_village_id'), ['village_id'], unique=False)

    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sample_rate_permille', sa.Integer(), server_default='300', nullable=False))
        batch_op.add_column(sa.Column('error_threshold_permille', sa.Integer(), server_default='20', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('county_rules', schema=None) as batch_op:
        batch_op.drop_column('error_threshold_permille')
        batch_op.drop_column('sample_rate_permille')

    with op.batch_alter_table('sample_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_items_village_id'))
        batch_op.drop_index(batch_op.f('ix_sample_items_household_id'))
        batch_op.drop_index(batch_op.f('ix_sample_items_checker_id'))
        batch_op.drop_index(batch_op.f('ix_sample_items_campaign_id'))

    op.drop_table('sample_items')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_county_id'))

    op.drop_table('campaigns')
