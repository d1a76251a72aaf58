"""Table 2: beneficiaries who are near relatives of officials, cadres or assistance staff, listed
separately for county staff (they are published separately)."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.orm import selectinload, undefer

from ..models import Form, Household, Submission, SubmissionVersion
from ..services import audit
from ..services.forms import RELATIVE_REGISTRATION
from ..services.submissions import current_versions
from ..services.visits import record_of
from . import Schema
from .auth import require_role
from .pagination import SqlPage

blp = Blueprint("relatives", __name__, description="Table 2: near-relative registrations (county staff)")

FIELDS = ("member_name", "official_name", "official_type", "official_position", "official_unit", "relationship", "notes")


class RelativeSchema(Schema):
    submission_id = fields.Integer()
    case_number = fields.Function(lambda v: v.submission.household.case_number if v.submission.household else None,
                                  metadata={"type": "string", "nullable": True})
    village = fields.Function(lambda v: v.submission.household.village.name if v.submission.household else None,
                              metadata={"type": "string", "nullable": True})
    registered_at = fields.DateTime(attribute="received_at")
    registered_by = fields.String(attribute="submitted_by.username")
    entry = fields.Function(lambda v: _entry(record_of(v).tree()),
                            metadata={"type": "object", "description": "The table-2 entry: beneficiary, official, relation"})


def _entry(answers: dict) -> dict:
    return {name: answers.get(name, "") for name in FIELDS}


@blp.route("")
class Relatives(MethodView):
    @blp.response(200, RelativeSchema(many=True))
    @blp.paginate(SqlPage)
    def get(self):
        """Near-relative registrations in the caller's county (county staff only), newest first."""
        user = require_role("county")
        audit.note_list(user, "relative.list", "submission", {})
        return current_versions(user).where(
            Submission.form_pk.in_(select(Form.id).where(Form.form_id == RELATIVE_REGISTRATION))
        ).options(undefer(SubmissionVersion.record), selectinload(SubmissionVersion.form_version),
                  selectinload(SubmissionVersion.submission).selectinload(Submission.household)
                  .selectinload(Household.village))
