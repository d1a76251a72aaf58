"""attachments: drop ix_attachments_version_id, which the unique (version_id, filename) index covers

Revision ID: 0014_attachment_index
Revises: 0013_village_records
Create Date: 2026-11-23 20:00:00
"""
from alembic import op


revision = '0014_attachment_index'
down_revision = '0013_village_records'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_version_id'))


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_version_id'), ['version_id'], unique=False)
