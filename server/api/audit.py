"""The audit log for supervisors and county staff (their areas' events), and the reveal of ID and
phone numbers: who may ask for the full values."""
from __future__ import annotations

from datetime import timezone

from flask import g, has_request_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..errors import Forbidden
from ..extensions import db
from ..models import Area, User
from ..services.audit import events_in_reach
from . import Schema
from .auth import require_role
from .pagination import SqlPage

blp = Blueprint("audit", __name__, description="The audit log: reads, reveals, decisions, status changes, tokens")

# Who may see whole ID and phone numbers when they ask: the staff who decide on a household.
# Caseworkers collect them on the phone and need not read them back; administrators manage
# accounts, not households.
REVEAL_ROLES = ("county", "supervisor")


class RevealQuerySchema(Schema):
    reveal = fields.String(validate=validate.OneOf(["ids"]), metadata={
        "description": "ids: show ID and phone numbers whole (county and supervisor staff; audited as a reveal)"})


def reveal_requested(user: User, query: dict) -> bool:
    """True when the request asks for whole ID numbers and the caller's role allows it; 403 when a
    role that may not asks (whatever the object: the answer says nothing about it)."""
    if query.get("reveal") != "ids":
        return False
    if user.role not in REVEAL_ROLES:
        raise Forbidden(f"Whole ID and phone numbers are shown to {' and '.join(REVEAL_ROLES)} staff only.")
    return True


def allow_reveal() -> None:
    """This request's response shows ID and phone numbers whole; call it after auditing the reveal."""
    g.reveal_ids = True


def ids_revealed() -> bool:
    """Read by the schemas: false unless this very request's reveal was allowed and audited."""
    return has_request_context() and g.get("reveal_ids", False)


# --- the log -------------------------------------------------------------------------------------

class AuditQuerySchema(Schema):
    user = fields.String(metadata={"description": "Username of whoever acted"})
    action = fields.String(metadata={"description": "e.g. case.read, or a prefix: review"})
    object_type = fields.String(metadata={"description": "case, submission, media, user"})
    object_id = fields.String(metadata={"description": "Case number, submission id, file SHA-256, username"})
    since = fields.AwareDateTime(default_timezone=timezone.utc, metadata={
        "description": "ISO 8601; UTC unless a time zone is given"})


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    user = fields.Method("_username", metadata={"type": "string", "nullable": True})
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    area_code = fields.Method("_area_code", metadata={"type": "string", "nullable": True})
    details = fields.Dict(metadata={"description": "What was done, in names and figures; never the values revealed"})
    ip = fields.String(allow_none=True)

    def _username(self, event):
        return _name_of(User, event.user_id, "username")

    def _area_code(self, event):
        return _name_of(Area, event.area_id, "code")


def _name_of(model, key, attribute):
    if key is None:
        return None
    found = db.session.get(model, key)  # the identity map keeps this at one query per distinct key
    return getattr(found, attribute) if found is not None else None


@blp.route("")
class AuditEvents(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SqlPage)
    def get(self, query):
        """Audit events in the caller's areas, newest first (supervisor, county; admin: events about no area)."""
        user = require_role("supervisor", "county", "admin")
        return events_in_reach(user, user_name=query.get("user"), action=query.get("action"),
                               object_type=query.get("object_type"), object_id=query.get("object_id"),
                               since=query.get("since"))
