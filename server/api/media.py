"""Photos, signatures and other files sent with submissions, for callers who may see such a submission."""
from __future__ import annotations

import logging
import os
from pathlib import PurePath

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..errors import FileMissing, NoThumbnail, NotFound
from ..extensions import db
from ..models import Attachment, Submission, SubmissionVersion, User
from ..storage import get_storage
from ..services import audit, media
from ..services.submissions import visible_to
from .auth import api_user

log = logging.getLogger(__name__)

blp = Blueprint("media", __name__, description="Files sent with submissions (photos, signatures, audit logs)")


def attachment_in_reach(user: User, sha256: str, *, pictures_only: bool = False) -> Attachment:
    """An attachment holding these bytes, in any version of a submission the caller may see.

    NotFound whether the bytes are unknown or only in submissions out of reach: a hash must not
    tell a caller that a photo exists elsewhere."""
    query = (
        select(Attachment)
        .join(SubmissionVersion, SubmissionVersion.id == Attachment.version_id)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(Attachment.sha256 == sha256, visible_to(user))
        .order_by(Attachment.id)
        .limit(1)
    )
    if pictures_only:
        query = query.where(Attachment.content_type.like("image/%"))
    attachment = db.session.scalar(query)
    if attachment is None:
        raise NotFound("No such file in your areas.")
    return attachment


def _stream(sha256: str, *, content_type: str, download_name: str):
    """The stored bytes, conditional on the ETag (= the SHA-256) and with byte ranges."""
    try:
        handle = get_storage().open(sha256)
    except FileNotFoundError:
        log.error("file %s is referred to by a submission but missing from storage", sha256)
        raise FileMissing("The file is recorded but missing from storage; tell the administrator.") from None
    size = os.fstat(handle.fileno()).st_size
    response = send_file(handle, mimetype=content_type, download_name=download_name, conditional=False,
                         etag=sha256, max_age=None)
    response.content_length = size
    # The bytes behind a hash never change, but who may see them can: a browser keeps them for this
    # user only and asks again each time (a 304 when unchanged), so a withdrawn area stops at once.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request, accept_ranges=True, complete_length=size)


def _record_read(user: User, attachment: Attachment, *, thumbnail: bool) -> None:
    """Every read of a photo or signature is audited, a 304 too (the caller proved they hold it)."""
    submission = attachment.version.submission
    audit.note_read(user, "media.read", "media", attachment.sha256, audit.area_of_submission(submission),
                    submission_id=submission.id, field=attachment.field, thumbnail=thumbnail)


FILE_RESPONSES = dict(content_type="application/octet-stream",
                      description="The file's bytes; ETag is its SHA-256, 304 on If-None-Match, byte ranges")


@blp.route("/<sha256>")
class MediaFile(MethodView):
    @blp.response(200, **FILE_RESPONSES)
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @blp.alt_response(404, description="No submission you may see holds this file")
    def get(self, sha256):
        """Download a file sent with a submission, by its SHA-256."""
        user = api_user()
        attachment = attachment_in_reach(user, sha256)
        _record_read(user, attachment, thumbnail=False)
        response = _stream(attachment.sha256, content_type=attachment.content_type or "application/octet-stream",
                           download_name=attachment.filename)
        return response


@blp.route("/<sha256>/thumbnail")
class MediaThumbnail(MethodView):
    @blp.response(200, content_type="image/jpeg",
                  description="JPEG, longest side 320 px, EXIF orientation applied; ETag is its SHA-256")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @blp.alt_response(404, description="No submission you may see holds this file, or it is not a picture")
    def get(self, sha256):
        """The review thumbnail of a photo or signature, by the original file's SHA-256."""
        user = api_user()
        attachment = attachment_in_reach(user, sha256, pictures_only=True)
        _record_read(user, attachment, thumbnail=True)
        thumbnail = _thumbnail_of(attachment)
        response = _stream(thumbnail, content_type="image/jpeg",
                           download_name=f"{PurePath(attachment.filename).stem}-thumbnail.jpg")
        return response


def _thumbnail_of(attachment: Attachment) -> str:
    """The stored thumbnail; made now from the original when the check worker has not made it yet
    or when it was lost (thumbnails are not fsynced: they can always be made again)."""
    storage = get_storage()
    if attachment.thumbnail_sha256 and storage.exists(attachment.thumbnail_sha256):
        return attachment.thumbnail_sha256
    try:
        facts = media.inspect_image(storage.path_of(attachment.sha256), declared_name=attachment.filename,
                                    max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
    except FileNotFoundError:
        log.error("file %s is referred to by a submission but missing from storage", attachment.sha256)
        raise FileMissing("The file is recorded but missing from storage; tell the administrator.") from None
    except media.ImageRefused:
        raise NoThumbnail("This picture cannot be opened, so it has no thumbnail; download the file itself.") from None
    if attachment.thumbnail_sha256:
        log.warning("thumbnail %s of %s was missing; made again", attachment.thumbnail_sha256, attachment.sha256)
    return storage.commit(storage.stage_bytes(facts.thumbnail), durable=False)
