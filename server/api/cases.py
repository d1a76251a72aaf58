"""Household cases within the caller's areas, with their submissions; ID numbers are masked."""
from __future__ import annotations

from dataclasses import dataclass

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..extensions import db
from ..models import CASE_STATUSES, LEVELS, STATUS_REASONS, Household, SubmissionVersion
from ..services import approvals, audit
from ..services.cases import case_in_reach, cases_in_reach
from ..services.idnumbers import mask_id_number
from ..services.submissions import submissions_of_household
from . import Schema
from .audit import RevealQuerySchema, allow_reveal, ids_revealed, reveal_requested
from .auth import api_user
from .pagination import SqlPage
from .submissions import SubmissionSummarySchema

blp = Blueprint("cases", __name__, description="Household cases (一户一档)")


class MemberSchema(Schema):
    name = fields.String()
    relation = fields.String()
    sex = fields.String()
    birth_date = fields.Date(allow_none=True)
    id_number = fields.Function(lambda member: member.id_number if ids_revealed() else mask_id_number(member.id_number),
                                metadata={"description": "Masked (region code and last four digits) unless revealed"})
    disability_grade = fields.Integer(allow_none=True)
    work_capacity = fields.String(allow_none=True)


class CaseSummarySchema(Schema):
    case_number = fields.String()
    village_code = fields.String(attribute="village.code")
    village = fields.String(attribute="village.name")
    head_name = fields.String()
    address = fields.String()
    residence = fields.String()
    category = fields.String(allow_none=True)
    monthly_amount_fen = fields.Integer(allow_none=True, metadata={"description": "Set by the county's approval, fen per month"})
    status = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    next_visit_due = fields.Date(allow_none=True)


class CaseSchema(CaseSummarySchema):
    members = fields.List(fields.Nested(MemberSchema))
    submissions = fields.List(fields.Nested(SubmissionSummarySchema),
                              metadata={"description": "Visits and records filed under it, newest first"})


@dataclass
class CaseWithSubmissions:
    """A household read for the API, with the submissions filed under it."""

    household: Household
    submissions: list[SubmissionVersion]

    def __getattr__(self, name):
        return getattr(self.household, name)


class CaseQuerySchema(Schema):
    village = fields.String(metadata={"description": "Village code"})
    status = fields.String(validate=lambda s: s in CASE_STATUSES)


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CaseSummarySchema(many=True))
    @blp.paginate(SqlPage)
    def get(self, query):
        """Households in the caller's areas, by case number (audited: who listed what, and how many)."""
        user = api_user()
        audit.note_list(user, "case.list", "case", query)
        return cases_in_reach(db.session, user, village_code=query.get("village"), status=query.get("status"))


@blp.route("/<case_number>")
class CaseItem(MethodView):
    @blp.arguments(RevealQuerySchema, location="query")
    @blp.response(200, CaseSchema)
    @blp.alt_response(403, description="reveal=ids asked by a role that may not see whole ID numbers")
    @blp.alt_response(404, description="No such household in your areas")
    def get(self, query, case_number):
        """One household with its members and submissions (404 outside your areas, so case numbers do not leak)."""
        user = api_user()
        reveal = reveal_requested(user, query)
        household = case_in_reach(db.session, user, case_number)
        case = CaseWithSubmissions(household, submissions_of_household(db.session, user, household))
        audit.note_read(user, "case.read", "case", household.case_number, household.village_id)
        if reveal:
            audit.note_read(user, "case.reveal_ids", "case", household.case_number, household.village_id,
                            fields=["members.id_number"], members=sum(1 for m in household.members if m.id_number))
            allow_reveal()
        return case


# --- table 3: the three levels, and status changes -------------------------------------------

class LevelOpinionSchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    outcome = fields.String(required=True, validate=validate.OneOf(["agree", "disagree"]))
    opinion = fields.String(required=True, metadata={"description": "Signed by whoever records it"})
    category = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["A", "B", "C"]))
    monthly_amount_fen = fields.Integer(load_default=None, allow_none=True,
                                        metadata={"description": "County approval: the household's monthly amount in fen"})
    by = fields.String(attribute="by.username", dump_only=True)
    at = fields.DateTime(dump_only=True)


class ApprovalSchema(Schema):
    id = fields.Integer(dump_only=True)
    state = fields.String(dump_only=True, metadata={"description": "open, approved or refused"})
    basis_submission_id = fields.Integer(load_default=None, allow_none=True,
                                         metadata={"description": "The visit the approval rests on"})
    opened_by = fields.String(attribute="opened_by.username", dump_only=True)
    opened_at = fields.DateTime(dump_only=True)
    levels = fields.List(fields.Nested(LevelOpinionSchema), dump_only=True)


class ApprovalOpenSchema(Schema):
    # Required: an approval with no basis would block the household's next one (one at a time).
    basis_submission_id = fields.Integer(required=True, validate=validate.Range(min=1), metadata={
        "description": "The household's visit the approval rests on"})


class StatusChangeSchema(Schema):
    status = fields.String(required=True, attribute="to_status", validate=validate.OneOf(CASE_STATUSES))
    from_status = fields.String(dump_only=True)
    reason = fields.String(required=True, validate=validate.OneOf(list(STATUS_REASONS)))
    note = fields.String(load_default="")
    by = fields.String(attribute="by.username", dump_only=True)
    at = fields.DateTime(dump_only=True)


@blp.route("/<case_number>/approvals")
class Approvals(MethodView):
    @blp.response(200, ApprovalSchema(many=True))
    def get(self, case_number):
        """The household's approvals (table 3), each with its levels in order (audited)."""
        user = api_user()
        household = case_in_reach(db.session, user, case_number)
        rounds = approvals.rounds_of(db.session, household)
        audit.note_list(user, "approval.list", "case", {}, object_id=household.case_number, area_id=household.village_id,
                        rows=len(rounds))
        return rounds

    @blp.arguments(ApprovalOpenSchema)
    @blp.response(201, ApprovalSchema)
    @blp.alt_response(409, description="An approval is already under way")
    def post(self, data, case_number):
        """Open an approval for a household (one at a time)."""
        return approvals.open_round(db.session, api_user(), case_number, data["basis_submission_id"])


@blp.route("/<case_number>/approvals/<id:round_id>/levels")
class ApprovalLevels(MethodView):
    @blp.arguments(LevelOpinionSchema)
    @blp.response(201, LevelOpinionSchema)
    @blp.alt_response(409, description="Out of order, already recorded, or the approval is closed")
    def post(self, data, case_number, round_id):
        """Record the next level: village (caseworker/supervisor), township (supervisor), county (county staff)."""
        return approvals.record_level(db.session, api_user(), case_number, round_id, **data)


@blp.route("/<case_number>/status")
class CaseStatus(MethodView):
    @blp.response(200, StatusChangeSchema(many=True))
    def get(self, case_number):
        """Every status change of the household, with its reason."""
        return approvals.status_changes_of(db.session, case_in_reach(db.session, api_user(), case_number))

    @blp.arguments(StatusChangeSchema)
    @blp.response(201, StatusChangeSchema)
    def post(self, data, case_number):
        """Suspend, resume or remove a case, with a reason (county staff)."""
        return approvals.change_status(db.session, api_user(), case_number, data["to_status"], data["reason"],
                                       data["note"])
