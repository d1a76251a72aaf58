"""A county's check thresholds and spot-check rules, from a date on (docs/api.md, docs/spot-checks.md)."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..extensions import db
from ..models.base import RULES_SINCE
from ..services import county_rules
from ..services.schedule import county_id_of
from ..services.spotchecks import ITEMS
from . import Schema
from .auth import require_role
from .due import county_in_reach

blp = Blueprint("county_rules", __name__, description="A county's check thresholds and spot-check rules, "
                                                     "from a date on")
URL_PREFIX = "/api/v1/county-rules"

PERMILLE = validate.Range(min=0, max=1000)


class CountyRulesSchema(Schema):
    county_code = fields.String(dump_only=True, attribute="county.code")
    is_default = fields.Function(lambda row: row.id is None, dump_only=True,
                                 metadata={"type": "boolean", "description": "No row for this county: the defaults"})
    location_threshold_m = fields.Integer(validate=validate.Range(min=1, max=100_000), metadata={
        "description": "Flag a visit this far from the case's registered location (metres)"})
    max_accuracy_m = fields.Integer(validate=validate.Range(min=1, max=10_000), metadata={
        "description": "Flag a visit whose GPS accuracy is worse (metres)"})
    photo_distance_m = fields.Integer(validate=validate.Range(min=1, max=100_000), metadata={
        "description": "Flag a photo whose EXIF position is this far from the visit (metres)"})
    photo_time_slack_minutes = fields.Integer(validate=validate.Range(min=0, max=24 * 60), metadata={
        "description": "EXIF time allowed before the form's start and after its end"})
    not_home_limit = fields.Integer(validate=validate.Range(min=1, max=20), metadata={
        "description": "Flag this many not-at-home visits in a row"})
    sample_rate_permille = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "description": "Spot-check sample rate for new campaigns (300 = 30 %)"})
    error_threshold_permille = fields.Integer(validate=PERMILLE, metadata={
        "description": "A village whose error rate exceeds it redoes its review (20 = 2 %), for new campaigns"})
    income_tolerance_permille = fields.Integer(validate=PERMILLE, metadata={
        "description": "Per-capita income of a re-visit agrees within this share of the original (100 = 10 %)"})
    error_items = fields.List(fields.String(validate=validate.OneOf(ITEMS)), metadata={
        "description": f"Compared items whose difference makes a household an error, among {', '.join(ITEMS)}"})


class DatedCountyRulesSchema(CountyRulesSchema):
    class Meta:
        exclude = ("is_default",)

    county_code = fields.String(required=True, attribute="county.code")
    effective_from = fields.Date(required=True, validate=validate.Range(min=RULES_SINCE), metadata={
        "description": f"In force from this day (on or after {RULES_SINCE.isoformat()}) until the county's next rules"})
    updated_at = fields.DateTime(dump_only=True)


@blp.route("")
class DatedCountyRules(MethodView):
    @blp.response(200, DatedCountyRulesSchema(many=True))
    @blp.alt_response(403, description="Supervisors, county staff and administrators only")
    def get(self):
        """The dated rules of the counties the caller works in (all, for an administrator), by county
        and date: each in force from its effective_from until the county's next."""
        user = require_role("supervisor", "county", "admin")
        counties = None if user.role == "admin" else list({county_id_of(area) for area in user.areas})
        return county_rules.dated_rules(db.session, counties)

    @blp.arguments(DatedCountyRulesSchema)
    @blp.response(201, DatedCountyRulesSchema)
    @blp.alt_response(403, description="County staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    @blp.alt_response(409, description="The county already has rules from that date")
    def post(self, data):
        """A county's rules from a date on (county staff of the county, admin): what is not given is
        carried over from the rules in force the day before; earlier rules stay. Visits dated from
        then on are checked, and re-visits compared, by them. Audited."""
        user = require_role("county", "admin")
        county = county_in_reach(data.pop("county")["code"], to_change=True)
        return county_rules.add_rules(db.session, user, county, data.pop("effective_from"), **data)


@blp.route("/<county_code>")
class CountyRules(MethodView):
    @blp.response(200, CountyRulesSchema)
    @blp.alt_response(403, description="Supervisors, county staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    def get(self, county_code):
        """A county's check thresholds and spot-check rules in force today (the defaults if none are)."""
        require_role("supervisor", "county", "admin")
        county = county_in_reach(county_code)
        return county_rules.rules_of(db.session, county)

    @blp.arguments(CountyRulesSchema)
    @blp.response(200, CountyRulesSchema)
    @blp.alt_response(403, description="County staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    def put(self, data, county_code):
        """Change some of a county's rules from today on (county staff of the county, admin); what is
        not given stays. Today's rules are corrected if they start today, else new ones start today
        and earlier ones stay. Visits dated from today on are checked, and re-visits compared, by
        them, and campaigns set up from now on take their rates; results already stored keep the
        rules they were made with. Audited."""
        user = require_role("county", "admin")
        county = county_in_reach(county_code, to_change=True)
        row = county_rules.change_rules(db.session, user, county, **data)
        return row
