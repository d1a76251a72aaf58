"""visit_records: each submission version's visit record, read once from its XML and audit log

Revision ID: 0003_visit_records
Revises: 0016_list_versions
Create Date: 2026-12-10 10:00:00

The record (server/services/visits.py) is made when a version's checks run; the versions received
before this revision get theirs here, each XML parsed once, with its audit.csv read from the media
folder (MEDIA_DIR) where it is there. A version not yet checked keeps none: its checks make it.
"""
from alembic import op
import sqlalchemy as sa

import server.models.base
from server.config import from_environment
from server.storage import LocalStorage
from server.services import visits
from server.services.xforms import form_structure

revision = '0003_visit_records'
down_revision = '0002_county_rules_dated'
branch_labels = None
depends_on = None

BATCH = 200

versions = sa.table(
    "submission_versions", sa.column("id", sa.Integer), sa.column("submission_id", sa.Integer),
    sa.column("form_version_id", sa.Integer), sa.column("instance_id", sa.String), sa.column("xml", sa.LargeBinary),
    sa.column("received_at", server.models.base.UtcDateTime), sa.column("started_at", server.models.base.UtcDateTime),
    sa.column("ended_at", server.models.base.UtcDateTime), sa.column("checked_at", server.models.base.UtcDateTime),
    sa.column("record", sa.JSON))
submissions = sa.table("submissions", sa.column("id", sa.Integer), sa.column("form_pk", sa.Integer),
                       sa.column("household_id", sa.Integer), sa.column("created_at", server.models.base.UtcDateTime))
forms = sa.table("forms", sa.column("id", sa.Integer), sa.column("form_id", sa.String))
form_versions = sa.table("form_versions", sa.column("id", sa.Integer), sa.column("version", sa.String),
                         sa.column("xml", sa.LargeBinary))
attachments = sa.table("attachments", sa.column("version_id", sa.Integer), sa.column("field", sa.String),
                       sa.column("sha256", sa.String))


def upgrade() -> None:
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record', sa.JSON(), nullable=True))
    fill_records(op.get_bind(), from_environment()["MEDIA_DIR"])


def fill_records(connection, media_dir: str) -> None:
    """Make the record of every checked version that has none, in batches of BATCH versions."""
    storage = None  # opened for the first audit.csv (an empty database needs no media folder)
    form_xml = dict(connection.execute(sa.select(form_versions.c.id, form_versions.c.xml)).all())
    last = 0
    while True:
        rows = connection.execute(
            sa.select(versions.c.id, versions.c.instance_id, versions.c.xml, versions.c.received_at,
                      versions.c.started_at, versions.c.ended_at, versions.c.form_version_id,
                      submissions.c.household_id, submissions.c.created_at.label("first_received"),
                      forms.c.form_id, form_versions.c.version.label("form_version"), attachments.c.sha256.label("audit"))
            .join(submissions, submissions.c.id == versions.c.submission_id)
            .join(forms, forms.c.id == submissions.c.form_pk)
            .join(form_versions, form_versions.c.id == versions.c.form_version_id)
            .outerjoin(attachments, (attachments.c.version_id == versions.c.id)
                       & (attachments.c.field == visits.AUDIT_FIELD) & attachments.c.sha256.is_not(None))
            .where(versions.c.id > last, versions.c.checked_at.is_not(None), versions.c.record.is_(None))
            .order_by(versions.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            structure = form_structure(form_xml[row.form_version_id])
            if row.audit and storage is None:
                storage = LocalStorage(media_dir)
            record = visits.read_visit(row, xml=row.xml, structure=structure, form_id=row.form_id,
                                       form_version=row.form_version, household_id=row.household_id,
                                       first_received=row.first_received,
                                       audit=row.audit and visits.stored_audit(storage, row.audit, structure.root_name))
            connection.execute(versions.update().where(versions.c.id == row.id).values(record=record.to_json()))
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.drop_column('record')
