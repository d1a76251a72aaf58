"""Household cases within the caller's areas, with their submissions; ID numbers are masked."""
from __future__ import annotations

from dataclasses import dataclass

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..extensions import db
from ..models import CASE_STATUSES, Household, SubmissionVersion
from ..services.cases import case_in_reach, cases_in_reach
from ..services.idnumbers import mask_id_number
from .auth import api_user
from .pagination import SqlPage
from ..services.submissions import submissions_of_household
from .submissions import SubmissionSummarySchema

blp = Blueprint("cases", __name__, description="Household cases (一户一档)")


class MemberSchema(Schema):
    name = fields.String()
    relation = fields.String()
    sex = fields.String()
    birth_date = fields.Date()
    id_number = fields.Function(lambda member: mask_id_number(member.id_number),
                                metadata={"description": "Masked: region code and last four digits"})
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
        """Households in the caller's areas, by case number."""
        return cases_in_reach(db.session, api_user(), village_code=query.get("village"), status=query.get("status"))


@blp.route("/<case_number>")
class CaseItem(MethodView):
    @blp.response(200, CaseSchema)
    @blp.alt_response(404, description="No such household in your areas")
    def get(self, case_number):
        """One household with its members and submissions (404 outside your areas, so case numbers do not leak)."""
        user = api_user()
        household = case_in_reach(db.session, user, case_number)
        return CaseWithSubmissions(household, submissions_of_household(db.session, user, household))
