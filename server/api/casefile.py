"""The case file (一户一档): one household with everything about it in one resource."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..extensions import db
from ..services import audit, casefile
from ..services.cases import case_in_reach
from . import Schema
from .auth import api_user
from .cases import ApprovalSchema, CaseSummarySchema, MemberSchema, StatusChangeSchema
from .submissions import FlagSchema, SubmissionSchema, SubmissionSummarySchema

URL_PREFIX = "/api/v1/cases"
blp = Blueprint("casefile", __name__, description="The case file of a household (一户一档)")


class TimelineEventSchema(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "visit.received, visit.edited, spot_check.received, "
                                                  "review.approved, approval.county.agree, status.active …"})
    text = fields.String()
    by = fields.String(allow_none=True)
    submission_id = fields.Integer(allow_none=True)


class CaseFileSchema(Schema):
    case = fields.Nested(CaseSummarySchema, attribute="household")
    members = fields.List(fields.Nested(MemberSchema))
    latest_visit = fields.Nested(SubmissionSchema, allow_none=True,
                                 metadata={"description": "The latest home visit with its answers, photos and flags"})
    documents = fields.Dict(keys=fields.String(), values=fields.Nested(SubmissionSummarySchema, allow_none=True),
                            metadata={"description": "The three books and three tables: the latest of each, or null"})
    flags = fields.List(fields.Nested(FlagSchema), metadata={"description": "Flags of every submission's current version"})
    eligibility = fields.Raw(allow_none=True, metadata={"description": "Worked step by step from the latest done visit"})
    approvals = fields.List(fields.Nested(ApprovalSchema))
    status_changes = fields.List(fields.Nested(StatusChangeSchema))
    timeline = fields.List(fields.Nested(TimelineEventSchema), metadata={"description": "Every event, oldest first"})


@blp.route("/<case_number>/file")
class CaseFile(MethodView):
    @blp.response(200, CaseFileSchema)
    @blp.alt_response(404, description="No such household in your areas")
    def get(self, case_number):
        """Everything about one household: members, the latest visit, books and tables, flags,
        photos, eligibility worked step by step, decisions and a timeline."""
        user = api_user()
        household = case_in_reach(db.session, user, case_number)
        file = casefile.build(db.session, user, household)
        audit.note_read(user, "case.read", "case", household.case_number, household.village_id, view="file")
        return file
