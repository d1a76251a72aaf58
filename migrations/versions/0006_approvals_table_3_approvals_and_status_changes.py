"""table 3 approvals and status changes

Revision ID: 0006_approvals
Revises: 0005_review
Create Date: 2026-11-23 13:06:54.133447
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0006_approvals'
down_revision = '0005_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=10), nullable=False),
    sa.Column('to_status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_status_changes_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_status_changes_household_id_households'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_changes'))
    )
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_changes_household_id'), ['household_id'], unique=False)

    op.create_table('approval_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('basis_submission_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'approved', 'refused')", name=op.f('ck_approval_rounds_state')),
    sa.ForeignKeyConstraint(['basis_submission_id'], ['submissions.id'], name=op.f('fk_approval_rounds_basis_submission_id_submissions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_approval_rounds_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_approval_rounds_opened_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_rounds'))
    )
    with op.batch_alter_table('approval_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_rounds_household_id'), ['household_id'], unique=False)
        batch_op.create_index('uq_approval_rounds_open', ['household_id'], unique=True, sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))

    op.create_table('level_opinions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=1), nullable=True),
    sa.Column('monthly_amount_fen', sa.Integer(), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IS NULL OR category IN ('A', 'B', 'C')", name=op.f('ck_level_opinions_category')),
    sa.CheckConstraint("level IN ('village', 'township', 'county')", name=op.f('ck_level_opinions_level')),
    sa.CheckConstraint("outcome IN ('agree', 'disagree')", name=op.f('ck_level_opinions_outcome')),
    sa.CheckConstraint('monthly_amount_fen IS NULL OR monthly_amount_fen >= 0', name=op.f('ck_level_opinions_amount')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_level_opinions_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['approval_rounds.id'], name=op.f('fk_level_opinions_round_id_approval_rounds'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_level_opinions')),
    sa.UniqueConstraint('round_id', 'level', name=op.f('uq_level_opinions_round_id_level'))
    )
    with op.batch_alter_table('level_opinions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_level_opinions_round_id'), ['round_id'], unique=False)

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_amount_fen', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('monthly_amount_fen')

    with op.batch_alter_table('level_opinions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_level_opinions_round_id'))

    op.drop_table('level_opinions')
    with op.batch_alter_table('approval_rounds', schema=None) as batch_op:
        batch_op.drop_index('uq_approval_rounds_open', sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
        batch_op.drop_index(batch_op.f('ix_approval_rounds_household_id'))

    op.drop_table('approval_rounds')
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_changes_household_id'))

    op.drop_table('status_changes')
