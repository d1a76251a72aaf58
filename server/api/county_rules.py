"""A county's check thresholds and spot-check rules (docs/api.md, docs/spot-checks.md)."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..extensions import db
from ..services import county_rules
from ..services.spotchecks import ITEMS
from . import Schema
from .auth import require_role
from .due import county_in_reach

blp = Blueprint("county_rules", __name__, description="A county's check thresholds and spot-check rules")
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


@blp.route("/<county_code>")
class CountyRules(MethodView):
    @blp.response(200, CountyRulesSchema)
    @blp.alt_response(403, description="Supervisors, county staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    def get(self, county_code):
        """A county's check thresholds and spot-check rules (the defaults if it set none)."""
        require_role("supervisor", "county", "admin")
        county = county_in_reach(county_code)
        return county_rules.rules_of(db.session, county)

    @blp.arguments(CountyRulesSchema)
    @blp.response(200, CountyRulesSchema)
    @blp.alt_response(403, description="County staff and administrators only")
    @blp.alt_response(404, description="No such county in your areas")
    def put(self, data, county_code):
        """Change some of a county's rules (county staff of the county, admin); what is not given
        stays. Applies to checks and comparisons from now on and to campaigns set up afterwards;
        results already stored keep the rules they were made with. Audited."""
        user = require_role("county", "admin")
        county = county_in_reach(county_code, to_change=True)
        row = county_rules.change_rules(db.session, user, county, **data)
        return row
