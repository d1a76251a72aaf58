"""Due visits: the caller's households due for a visit, the overdue ones for supervisors, and each
county's frequency rules (docs/schedule.md)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..models import CATEGORIES, WORK_CAPACITIES
from ..services import audit, schedule
from ..services.areas import area_by_code, is_in_reach, reach_condition
from . import Schema
from .auth import api_user, require_role
from .cases import CaseSummarySchema
from .pagination import SqlPage

blp = Blueprint("due", __name__, description="Due visits (动态管理): who is due, who is overdue, and the rules")

DUE_HORIZON_DAYS = 30  # the due list's default: what falls due within the next month


def _days_overdue(household) -> int | None:
    if household.next_visit_due is None:
        return None
    return max(0, (schedule.today() - household.next_visit_due).days)


def _due_reason(household) -> str | None:
    """Why a household is due out of its turn: its village redoes its review after a spot check.
    The open orders are read once per request."""
    if "open_redos" not in g:
        redos = schedule.open_redos()
        g.open_redos = dict(db.session.execute(select(redos.c.village_id, redos.c.due_on)).all())
    if schedule.is_due_for_redo(household.next_visit_due, g.open_redos.get(household.village_id)):
        return schedule.REDO_REASON
    return None


class DueCaseSchema(CaseSummarySchema):
    days_overdue = fields.Function(_days_overdue, allow_none=True,
                                   metadata={"description": "Days past next_visit_due (0 if not yet); null: never dated"})
    due_reason = fields.Function(_due_reason, allow_none=True,
                                 metadata={"description": "Why it is due out of turn (its village redoes its review "
                                                          "after a spot check); null otherwise"})


class OverdueCaseSchema(DueCaseSchema):
    township_code = fields.String(attribute="village.parent.code")
    township = fields.String(attribute="village.parent.name")


class DueQuerySchema(Schema):
    before = fields.Date(metadata={"description": f"Due on or before this day (default: today + {DUE_HORIZON_DAYS} days)"})
    village = fields.String(metadata={"description": "Village code"})


class OverdueQuerySchema(Schema):
    village = fields.String(metadata={"description": "Village code"})


class RulesSchema(Schema):
    county_code = fields.String(dump_only=True)
    effective_from = fields.Date(metadata={"description": "From this day on (default: today)"})
    is_default = fields.Boolean(dump_only=True, metadata={"description": "No row for this county: the defaults"})
    yearly_categories = fields.String(metadata={"description": f"Space-separated, among {' '.join(CATEGORIES)}"})
    able_to_work = fields.String(metadata={"description": f"Space-separated work capacities, among {' '.join(WORK_CAPACITIES)}"})
    unstable_if_operating_income = fields.Boolean()
    unstable_if_wage_unproven = fields.Boolean()
    unstable_if_able_without_income = fields.Boolean()
    yearly_months = fields.Integer(validate=validate.Range(min=1, max=60))
    stable_months = fields.Integer(validate=validate.Range(min=1, max=60))
    unstable_urban_months = fields.Integer(validate=validate.Range(min=1, max=60))
    unstable_rural_months = fields.Integer(validate=validate.Range(min=1, max=60))
    not_home_retry_days = fields.Integer(validate=validate.Range(min=1, max=365))
    annual_review = fields.Boolean()
    review_start_month = fields.Integer(validate=validate.Range(min=1, max=12))
    review_start_day = fields.Integer(validate=validate.Range(min=1, max=31))
    review_end_month = fields.Integer(validate=validate.Range(min=1, max=12))
    review_end_day = fields.Integer(validate=validate.Range(min=1, max=31))


class RulesQuerySchema(Schema):
    on = fields.Date(metadata={"description": "The rules in force on this day (default: today)"})


@blp.route("")
class Due(MethodView):
    @blp.arguments(DueQuerySchema, location="query")
    @blp.response(200, DueCaseSchema(many=True))
    @blp.paginate(SqlPage)
    def get(self, query):
        """The caller's households due for a visit, the most urgent first (never visited at the top)."""
        user = api_user()
        before = query.get("before") or schedule.today() + timedelta(days=DUE_HORIZON_DAYS)
        audit.note_list(user, "due.list", "case", {**query, "before": before})
        return schedule.due_query(reach_condition(user), before=before, village_code=query.get("village"))


@blp.route("/overdue")
class Overdue(MethodView):
    @blp.arguments(OverdueQuerySchema, location="query")
    @blp.response(200, OverdueCaseSchema(many=True))
    @blp.alt_response(403, description="Supervisors and county staff only")
    @blp.paginate(SqlPage)
    def get(self, query):
        """Overdue households in the caller's areas, by village, the longest overdue first (supervisor, county)."""
        user = require_role("supervisor", "county")
        audit.note_list(user, "overdue.list", "case", query)
        return schedule.overdue_query(reach_condition(user), on=schedule.today(), village_code=query.get("village"))


def county_in_reach(code: str, *, to_change: bool = False):
    """The county by its code: read by anyone working in it, changed only by someone answering for
    all of it (or an admin); 404 otherwise, so codes do not leak."""
    user = api_user()
    try:
        county = area_by_code(db.session, code)
    except NotFound:
        county = None
    if county is not None and county.level == "county" and user.role != "admin":
        mine = [a.path for a in user.areas]
        covers = is_in_reach(user, county)
        if not covers and (to_change or not any(path.startswith(county.path) for path in mine)):
            county = None
    if county is None or county.level != "county":
        raise NotFound(f"No county {code!r} in your areas.")
    return county


def _rules_out(county, rules) -> dict:
    out = {name: getattr(rules, name) for name in schedule.RULE_FIELDS}
    return out | {"county_code": county.code, "effective_from": rules.effective_from, "is_default": rules.id is None}


@blp.route("/rules/<county_code>")
class Rules(MethodView):
    @blp.arguments(RulesQuerySchema, location="query")
    @blp.response(200, RulesSchema)
    @blp.alt_response(404, description="No such county in your areas")
    def get(self, query, county_code):
        """A county's visit frequency rules in force on a day (the defaults if it has none)."""
        county = county_in_reach(county_code)
        return _rules_out(county, schedule.rules_for(db.session, county.id, query.get("on") or schedule.today()))

    @blp.arguments(RulesSchema)
    @blp.response(201, RulesSchema)
    @blp.alt_response(403, description="County staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    def post(self, data, county_code):
        """Change a county's rules from a day on (county, admin); what is not given is carried over.
        Then run `flask households recompute-due --county CODE`."""
        require_role("county", "admin")
        county = county_in_reach(county_code, to_change=True)
        effective_from: date = data.pop("effective_from", None) or schedule.today()
        row = schedule.set_rules(db.session, county, effective_from, **data)
        return _rules_out(county, row)
