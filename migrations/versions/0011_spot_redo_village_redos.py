"""village redo flags: a village whose spot-check error rate exceeds the threshold redoes its review

Revision ID: 0011_spot_redo
Revises: 0010_spot_results
Create Date: 2026-11-23 16:10:00
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0011_spot_redo'
down_revision = '0010_spot_results'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('village_redos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('flagged_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('sampled', sa.Integer(), nullable=False),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('threshold_permille', sa.Integer(), nullable=False),
    sa.Column('withdrawn_at', server.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_reason', sa.String(length=500), nullable=True),
    sa.Column('errors_at_withdrawal', sa.Integer(), nullable=True),
    sa.CheckConstraint('errors <= checked AND checked <= sampled', name=op.f('ck_village_redos_figures')),
    sa.CheckConstraint('(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL) AND '
                       '(withdrawn_at IS NULL) = (withdrawn_reason IS NULL) AND '
                       '(withdrawn_at IS NULL) = (errors_at_withdrawal IS NULL)',
                       name=op.f('ck_village_redos_withdrawal_whole')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_village_redos_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_village_redos_village_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_village_redos_withdrawn_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_village_redos'))
    )
    with op.batch_alter_table('village_redos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_village_redos_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_village_redos_village_id'), ['village_id'], unique=False)
        batch_op.create_index('uq_village_redos_open', ['campaign_id', 'village_id'], unique=True,
                              sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('village_redos', schema=None) as batch_op:
        batch_op.drop_index('uq_village_redos_open', sqlite_where=sa.text('withdrawn_at IS NULL'),
                            postgresql_where=sa.text('withdrawn_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_village_redos_village_id'))
        batch_op.drop_index(batch_op.f('ix_village_redos_campaign_id'))

    op.drop_table('village_redos')
