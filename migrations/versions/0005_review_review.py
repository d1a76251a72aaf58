"""review

Revision ID: 0005_review
Revises: 0004
Create Date: 2026-11-23 13:03:32.072782
"""
from alembic import op
import sqlalchemy as sa
import server.models.base


revision = '0005_review'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('approved', 'returned', 'rejected', 'comment', 'resubmitted')", name=op.f('ck_review_events_kind')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_events_author_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_review_events_submission_id_submissions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_events'))
    )
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_events_submission_id'), ['submission_id'], unique=False)

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_state', sa.String(length=10), server_default='received', nullable=False))
        batch_op.add_column(sa.Column('review_reason', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', server.models.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('row_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_submissions_reviewed_by_id_users'), 'users', ['reviewed_by_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint(
            'review_state', "review_state IN ('received', 'approved', 'returned', 'rejected')")
        batch_op.create_check_constraint(
            'reason_given', "review_state IN ('received', 'approved') OR review_reason <> ''")



def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_submissions_reason_given'), type_='check')
        batch_op.drop_constraint(op.f('ck_submissions_review_state'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_submissions_reviewed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('row_version')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('review_reason')
        batch_op.drop_column('review_state')

    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_events_submission_id'))

    op.drop_table('review_events')
