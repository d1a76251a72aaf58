"""OpenRosa submission: HEAD answers the size limit, POST takes the form data and its files."""
from __future__ import annotations

import logging

from flask import Response, current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import SubmissionMalformed, TooLarge
from ..extensions import begin_read, begin_write, commit, db
from ..services import checking, ingest
from ..storage import get_storage
from . import bp
from . import xml as render

ATTEMPTS = 5
log = logging.getLogger(__name__)


@bp.route("/submission", methods=["HEAD"])
def submission_head():
    return Response(status=204)


@bp.post("/submission")
def submission_post():
    limit = current_app.config["MAX_SUBMISSION_BYTES"]  # not the split size announced: a big photo goes alone
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"The upload is larger than {limit // (1024 * 1024)} MB; the phone should split it.")
    request.max_content_length = limit
    # End the read transaction of the sign-in: the upload may take minutes on 2G.
    db.session.commit()
    if request.mimetype != "multipart/form-data":
        raise SubmissionMalformed(f"The upload is {request.mimetype or 'untyped'}, not multipart/form-data with the "
                                  "form data as its xml_submission_file part (as ODK Collect sends it). "
                                  "Nothing was saved.")
    xml_parts = request.files.getlist("xml_submission_file")
    if not xml_parts:
        raise SubmissionMalformed("The upload has no xml_submission_file part.")
    if len({part.stream.sha256 for part in xml_parts}) > 1:
        raise SubmissionMalformed(f"The upload carries {len(xml_parts)} different xml_submission_file parts; "
                                  "a submission has one form data. Nothing was saved.")
    xml_part = xml_parts[0]
    most = current_app.config["MAX_FORM_DATA_BYTES"]
    if xml_part.stream.size > most:  # staged on disk so far; read into memory below
        raise TooLarge(f"The form data (xml_submission_file) is larger than {most // 1024} KB, which no form of "
                       "this server produces. Nothing was saved.")
    xml = xml_part.stream.read()
    uploads: dict[str, ingest.Upload] = {}
    for name, part in request.files.items(multi=True):
        if name in ("xml_submission_file", "*isIncomplete*") or not part.filename:
            continue
        if part.filename in uploads and uploads[part.filename].staged.sha256 != part.stream.sha256:
            raise SubmissionMalformed(f"The upload carries two different files named {part.filename}; "
                                      "send the form again. Nothing was saved.")
        uploads[part.filename] = ingest.Upload(part.filename, part.stream)
    max_pixels = current_app.config["MAX_IMAGE_PIXELS"]
    get_storage().sync_soon([upload.staged for upload in uploads.values()])  # they run while the database is read
    begin_read()
    prepared = ingest.prepare(db.session, get_storage(), g.user, xml, uploads, max_pixels=max_pixels)
    db.session.commit()  # end the read phase; the write phase below holds the lock only briefly
    for attempt in range(ATTEMPTS):
        try:
            begin_write()
            received = ingest.receive(db.session, get_storage(), g.user, prepared, uploads, max_pixels=max_pixels)
            commit()
            break
        except (IntegrityError, OperationalError) as error:
            # A concurrent identical submission won the unique constraint, or SQLite was busy:
            # start again from what is now committed.
            db.session.rollback()
            prepared.seen = True
            if attempt == ATTEMPTS - 1 or (isinstance(error, OperationalError) and "locked" not in str(error)):
                raise
    if current_app.config["CHECKS_INLINE"] and received.status == 201:
        _check_now(received.version_id, max_pixels)
    return Response(render.response(received.message, "submit_success"), status=received.status,
                    content_type=render.XML_CONTENT_TYPE)


def _check_now(version_id: int, max_pixels: int) -> None:
    """CHECKS_INLINE: decode the pictures and run the checks before answering. The submission is
    already committed, so a failure here is logged and left to `flask checks work`, never a 500."""
    try:
        checking.check(db.session, get_storage(), version_id, max_pixels=max_pixels)
    except Exception:
        log.exception("inline checks of submission version %s failed; `flask checks work` will retry", version_id)
        db.session.rollback()
