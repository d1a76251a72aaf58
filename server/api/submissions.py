"""Submissions from phones within the caller's reach: answers (ID numbers masked), versions, files, flags."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import exists, not_, select

from ..extensions import db
from ..models import REVIEW_STATES, Attachment, Flag, Form, Household, Submission, SubmissionVersion
from ..services.idnumbers import mask_id_number, mask_phone_number
from ..services import audit, review
from ..services.submissions import current_versions, submission_in_reach
from ..services.visits import record_of
from . import Schema
from .audit import RevealQuerySchema, allow_reveal, ids_revealed, reveal_requested
from .auth import api_user
from .pagination import SqlPage

blp = Blueprint("submissions", __name__, description="Visits and other forms sent from phones")


def masked_answers(value, name: str = "", *, reveal: bool = False):
    """Answers with every ID number and phone number masked, at any depth (repeats too); whole
    with `reveal` (a reveal the caller's role allows, asked for and audited by the view)."""
    if reveal:
        return value
    if isinstance(value, dict):
        return {key: masked_answers(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [masked_answers(item, name) for item in value]
    if isinstance(value, str) and name.endswith("id_number"):
        return mask_id_number(value)
    if isinstance(value, str) and name.endswith("phone"):
        return mask_phone_number(value)
    return value


def personal_fields(value, path: str = "") -> list[str]:
    """The paths of the answers masked_answers masks (members/id_number ...), for the audit of a reveal."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.update(personal_fields(item, f"{path}/{key}" if path else key))
    elif isinstance(value, list):
        for item in value:
            found.update(personal_fields(item, path))
    elif isinstance(value, str) and value and (path.endswith("id_number") or path.endswith("phone")):
        found.add(path)
    return sorted(found)


# --- schemas -------------------------------------------------------------------------------------

def _case_number(version: SubmissionVersion) -> str | None:
    household = version.submission.household
    return household.case_number if household else None


class SubmissionSummarySchema(Schema):
    """A submission in lists; read from its current version."""

    id = fields.Integer(attribute="submission_id")
    form_id = fields.String(attribute="submission.form.form_id")
    instance_id = fields.String(attribute="submission.instance_id",
                                metadata={"description": "The instanceID it was first sent with; names it for good"})
    case_number = fields.Function(_case_number, metadata={"type": "string", "nullable": True,
                                                          "description": "The household it is filed under, if any"})
    received_at = fields.DateTime(attribute="submission.created_at", metadata={"description": "First received"})
    last_received_at = fields.DateTime(attribute="received_at", metadata={"description": "Current version received"})
    submitted_by = fields.String(attribute="submission.submitted_by.username")
    is_complete = fields.Boolean(metadata={"description": "Every file the form data names has arrived"})
    checks_done = fields.Function(lambda version: version.checked_at is not None, metadata={
        "type": "boolean", "description": "False for the seconds after receipt while its pictures are decoded and its "
                                          "checks run: flags may still come, and it cannot be approved yet"})
    flag_count = fields.Function(lambda version: len(version.flags), metadata={"type": "integer"})
    review_state = fields.String(attribute="submission.review_state",
                                 metadata={"description": "received, approved, returned or rejected"})
    review_reason = fields.String(attribute="submission.review_reason")
    version = fields.Integer(attribute="submission.row_version",
                             metadata={"description": "Send it back with a decision: a decision taken meanwhile makes yours 409"})


class GeopointSchema(Schema):
    latitude = fields.Float()
    longitude = fields.Float()
    accuracy = fields.Float(allow_none=True, metadata={"description": "Metres, as the phone reported it"})


class SubmissionVersionSchema(Schema):
    instance_id = fields.String()
    deprecated_id = fields.String(allow_none=True, metadata={"description": "The version this one corrects"})
    received_at = fields.DateTime()
    submitted_by = fields.String(attribute="submitted_by.username")
    is_current = fields.Boolean()
    is_complete = fields.Boolean()
    form_version = fields.String(attribute="form_version.version")


def _media_url(attachment: Attachment) -> str | None:
    return url_for("media.MediaFile", sha256=attachment.sha256) if attachment.sha256 else None


def _thumbnail_url(attachment: Attachment) -> str | None:
    is_picture = attachment.sha256 and (attachment.content_type or "").startswith("image/")
    return url_for("media.MediaThumbnail", sha256=attachment.sha256) if is_picture else None


class AttachmentSchema(Schema):
    filename = fields.String()
    field = fields.String(metadata={"description": "The question's path, e.g. sights/sight_head_photo"})
    content_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    received = fields.Function(lambda a: a.sha256 is not None, metadata={
        "type": "boolean", "description": "False: named in the form data but not yet sent by the phone"})
    received_at = fields.DateTime(allow_none=True)
    sha256 = fields.String(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    exif_latitude = fields.Float(allow_none=True)
    exif_longitude = fields.Float(allow_none=True)
    taken_at = fields.DateTime(allow_none=True, metadata={"description": "EXIF time the photo was taken"})
    camera = fields.String(allow_none=True, metadata={"description": "EXIF make and model"})
    picture_problem = fields.String(allow_none=True, metadata={
        "description": "Why the picture could not be decoded after receipt (its bytes are kept as received)"})
    url = fields.Function(_media_url, metadata={"type": "string", "nullable": True,
                                                "description": "Download the file (null until received)"})
    thumbnail_url = fields.Function(_thumbnail_url, metadata={"type": "string", "nullable": True,
                                                              "description": "A JPEG thumbnail of a photo or signature"})


class FlagSchema(Schema):
    code = fields.String()
    severity = fields.String()
    message = fields.String()
    figures = fields.Dict(metadata={"description": "The numbers behind the flag (distances, amounts ...)"})
    created_at = fields.DateTime()


class ReviewEventSchema(Schema):
    kind = fields.String(metadata={"description": "approved, returned, rejected, comment or resubmitted"})
    text = fields.String()
    author = fields.String(attribute="author.username")
    created_at = fields.DateTime()


class ReviewDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "return", "reject"]))
    reason = fields.String(load_default="", metadata={"description": "Required to return (what to re-do) or reject"})
    version = fields.Integer(required=True, metadata={"description": "The submission's `version` as you read it"})


class CommentSchema(Schema):
    text = fields.String(required=True, validate=[validate.Length(max=review.COMMENT_LENGTH), validate.Regexp(r"^\s*\S")],
                         metadata={"description": "Not blank; at most 4,000 characters"})


class SubmissionSchema(SubmissionSummarySchema):
    form_version = fields.String(attribute="form_version.version")
    current_instance_id = fields.String(attribute="instance_id")
    answers = fields.Function(lambda version: masked_answers(record_of(version).tree(), reveal=ids_revealed()), metadata={
        "type": "object",
        "description": "The current version's answers as nested objects (repeats as lists); ID and phone numbers masked unless revealed"})
    geopoint = fields.Function(
        lambda v: None if v.latitude is None else GeopointSchema().dump(v),
        metadata={"type": "object", "nullable": True, "description": "The visit's own location"})
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    versions = fields.List(fields.Nested(SubmissionVersionSchema), attribute="submission.versions",
                           metadata={"description": "Every version received, oldest first"})
    attachments = fields.List(fields.Nested(AttachmentSchema))
    missing_files = fields.Function(lambda v: [a.filename for a in v.attachments if a.sha256 is None],
                                    metadata={"type": "array", "items": {"type": "string"}})
    flags = fields.List(fields.Nested(FlagSchema))
    reviewed_by = fields.String(attribute="submission.reviewed_by.username", allow_none=True)
    reviewed_at = fields.DateTime(attribute="submission.reviewed_at", allow_none=True)
    review_events = fields.List(fields.Nested(ReviewEventSchema), attribute="submission.review_events",
                                metadata={"description": "Decisions and comments, oldest first"})


class SubmissionQuerySchema(Schema):
    case = fields.String(metadata={"description": "Case number of a household"})
    form = fields.String(metadata={"description": "Form ID, e.g. household_visit"})
    flagged = fields.Boolean(metadata={"description": "true: only with flags; false: only without"})
    review_state = fields.String(validate=validate.OneOf(REVIEW_STATES))


# --- views ---------------------------------------------------------------------------------------

@blp.route("")
class Submissions(MethodView):
    @blp.arguments(SubmissionQuerySchema, location="query")
    @blp.response(200, SubmissionSummarySchema(many=True))
    @blp.paginate(SqlPage)
    def get(self, query):
        """Submissions in the caller's areas, newest first (audited: who listed what, and how many)."""
        user = api_user()
        audit.note_list(user, "submission.list", "submission", query)
        selected = current_versions(user)
        if query.get("case"):
            selected = selected.where(Submission.household_id.in_(
                select(Household.id).where(Household.case_number == query["case"])))
        if query.get("form"):
            selected = selected.where(Submission.form_pk.in_(select(Form.id).where(Form.form_id == query["form"])))
        if query.get("review_state"):
            selected = selected.where(Submission.review_state == query["review_state"])
        if "flagged" in query:
            has_flags = exists(select(Flag.id).where(Flag.version_id == SubmissionVersion.id))
            selected = selected.where(has_flags if query["flagged"] else not_(has_flags))
        return selected


@blp.route("/<id:submission_id>")
class SubmissionItem(MethodView):
    @blp.arguments(RevealQuerySchema, location="query")
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(403, description="reveal=ids asked by a role that may not see whole ID numbers")
    @blp.alt_response(404, description="No such submission in your areas")
    def get(self, query, submission_id):
        """One submission: answers, versions, files and flags (404 outside your areas)."""
        user = api_user()
        reveal = reveal_requested(user, query)
        version = submission_in_reach(db.session, user, submission_id)
        area_id = audit.area_of_submission(version.submission)
        audit.note_read(user, "submission.read", "submission", submission_id, area_id)
        if reveal:
            audit.note_read(user, "submission.reveal_ids", "submission", submission_id, area_id,
                            fields=personal_fields(record_of(version).tree()))
            allow_reveal()
        return version


@blp.route("/<id:submission_id>/review")
class SubmissionReview(MethodView):
    @blp.arguments(ReviewDecisionSchema)
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(409, description="Already decided, or someone decided meanwhile (stale version)")
    def post(self, data, submission_id):
        """Approve, return (with what to re-do) or reject a received visit (supervisor, county)."""
        user = api_user()
        review.decide(db.session, user, submission_id, data["decision"], data["reason"], data["version"])
        return submission_in_reach(db.session, user, submission_id)


@blp.route("/<id:submission_id>/comments")
class SubmissionComments(MethodView):
    @blp.arguments(CommentSchema)
    @blp.response(201, ReviewEventSchema)
    def post(self, data, submission_id):
        """Comment on a visit (anyone who may read it)."""
        event = review.comment(db.session, api_user(), submission_id, data["text"])
        return event
