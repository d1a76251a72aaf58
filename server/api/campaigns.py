"""Spot-check campaigns: set one up, draw its sample, assign checkers, follow progress, error rates
and the villages flagged to redo their review."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..errors import NotFound, SampleNotDrawn
from ..extensions import db
from ..models import POPULATIONS, Campaign, User, VillageRedo
from ..services import sampling, spot_rates
from ..services.areas import is_in_reach
from ..services.users import user_by_username
from . import MAX_ID, Schema
from .auth import api_user, require_role
from .pagination import SqlPage

blp = Blueprint("campaigns", __name__, description="Spot-check campaigns (抽查)")


class CampaignSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(load_default="", validate=validate.Length(max=Campaign.name.type.length))
    county_code = fields.String(required=True, attribute="county.code")
    township_codes = fields.List(fields.String(), load_default=list, load_only=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    population = fields.String(required=True, validate=validate.OneOf(POPULATIONS))
    rate_permille = fields.Integer(load_default=None, allow_none=True,
                                   metadata={"description": "300 = 30 %; default: the county's rule"})
    error_threshold_permille = fields.Integer(load_default=None, allow_none=True,
                                              metadata={"description": "20 = 2 %; default: the county's rule"})
    seed = fields.Integer(dump_only=True, metadata={"description": "Stored: the same campaign always draws the same"})
    drawn_at = fields.DateTime(dump_only=True, allow_none=True)
    created_by = fields.String(attribute="created_by.username", dump_only=True)


class VillageProgressSchema(Schema):
    village_code = fields.String()
    village = fields.String()
    sampled = fields.Integer()
    assigned = fields.Integer()
    checked = fields.Integer()
    unchecked = fields.Integer()


class CheckerProgressSchema(Schema):
    checker = fields.String(metadata={"description": "Username"})
    assigned = fields.Integer()
    checked = fields.Integer()
    unchecked = fields.Integer(metadata={"description": "Assigned and not yet re-visited"})


class ProgressSchema(Schema):
    sampled = fields.Integer(metadata={"description": "The whole campaign"})
    checked = fields.Integer()
    unchecked = fields.Integer()
    unassigned = fields.Integer()
    by_village = fields.List(fields.Nested(VillageProgressSchema), metadata={"description": "Villages in your reach"})
    by_checker = fields.List(fields.Nested(CheckerProgressSchema),
                             metadata={"description": "Their households in villages in your reach"})


class RedoSchema(Schema):
    id = fields.Integer()
    campaign_id = fields.Integer()
    campaign = fields.String(attribute="campaign.name")
    village_code = fields.String(attribute="village.code")
    village = fields.String(attribute="village.name")
    township_code = fields.String(attribute="village.parent.code")
    township = fields.String(attribute="village.parent.name")
    flagged_at = fields.DateTime()
    due_on = fields.Date(metadata={"description": "The village's households not visited since are due on this day"})
    sampled = fields.Integer(metadata={"description": "At flagging time"})
    checked = fields.Integer()
    errors = fields.Integer()
    threshold_permille = fields.Integer()
    is_open = fields.Function(lambda redo: redo.withdrawn_at is None)
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawn_by = fields.String(attribute="withdrawn_by.username", allow_none=True)
    withdrawn_reason = fields.String(allow_none=True)


class RedoQuerySchema(Schema):
    campaign = fields.Integer(validate=validate.Range(1, MAX_ID), metadata={"description": "Campaign id"})
    open = fields.Boolean(metadata={"description": "true: open flags only; false: withdrawn ones only"})


class WithdrawSchema(Schema):
    reason = fields.String(required=True, metadata={"description": "Why the redo order is withdrawn"})


class CampaignDetailSchema(CampaignSchema):
    progress = fields.Nested(ProgressSchema, dump_only=True)
    redos = fields.List(fields.Nested(RedoSchema), dump_only=True,
                        metadata={"description": "Redo flags of villages in your reach, open and withdrawn"})


class FiguresSchema(Schema):
    sampled = fields.Integer()
    checked = fields.Integer()
    unchecked = fields.Integer()
    errors = fields.Integer(metadata={"description": "Re-visits whose result is 'error'"})
    error_rate = fields.Float(allow_none=True, metadata={"description": "errors / checked; null when none checked"})
    interval_low = fields.Float(allow_none=True, metadata={"description": "95 % Wilson score interval"})
    interval_high = fields.Float(allow_none=True)
    exceeds_threshold = fields.Boolean(metadata={"description": "errors / checked > the campaign's threshold"})


class VillageRatesSchema(FiguresSchema):
    village_code = fields.String()
    village = fields.String()
    township_code = fields.String()
    redo = fields.Boolean(metadata={"description": "An open redo flag"})
    redo_flagged_at = fields.DateTime(allow_none=True)


class TownshipRatesSchema(FiguresSchema):
    township_code = fields.String()
    township = fields.String()
    villages_to_redo = fields.Integer()


class CampaignRatesSchema(FiguresSchema):
    villages_to_redo = fields.Integer()


class RatesSchema(Schema):
    threshold_permille = fields.Integer()
    villages = fields.List(fields.Nested(VillageRatesSchema), metadata={"description": "Villages in your reach"})
    townships = fields.List(fields.Nested(TownshipRatesSchema), metadata={"description": "Townships in your reach"})
    campaign = fields.Nested(CampaignRatesSchema)


class AssignSchema(Schema):
    checkers = fields.List(fields.String(), required=True, validate=validate.Length(min=1),
                           metadata={"description": "Usernames of supervisors or county staff"})


def _sees(user: User, campaign: Campaign) -> bool:
    """County staff of the county and supervisors of its townships see its campaigns."""
    if user.role == "admin":
        return True
    return user.role in ("supervisor", "county") and any(a.path.startswith(campaign.county.path) for a in user.areas)


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not _sees(api_user(), campaign):
        raise NotFound(f"No campaign {campaign_id} in your areas.")
    return campaign


def _detail(campaign: Campaign):
    user = api_user()
    campaign.progress = spot_rates.progress(db.session, campaign, user)
    campaign.redos = db.session.scalars(spot_rates.redos_in_reach(user, campaign_id=campaign.id)).all()
    return campaign


@blp.route("")
class Campaigns(MethodView):
    @blp.response(200, CampaignSchema(many=True))
    def get(self):
        """Campaigns of the caller's county."""
        user = require_role("supervisor", "county", "admin")
        campaigns = db.session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
        return [campaign for campaign in campaigns if _sees(user, campaign)]

    @blp.arguments(CampaignSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Set up a campaign (county staff of the county)."""
        campaign = sampling.create_campaign(
            db.session, api_user(), name=data["name"], county_code=data["county"]["code"],
            township_codes=data["township_codes"], period_start=data["period_start"], period_end=data["period_end"],
            population=data["population"], rate_permille=data["rate_permille"],
            error_threshold_permille=data["error_threshold_permille"])
        return campaign


@blp.route("/<id:campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignDetailSchema)
    def get(self, campaign_id):
        """One campaign with its progress per village and checker and its redo flags."""
        return _detail(_campaign(campaign_id))


@blp.route("/<id:campaign_id>/draw")
class CampaignDraw(MethodView):
    @blp.response(200, CampaignDetailSchema)
    @blp.alt_response(409, description="Already drawn")
    def post(self, campaign_id):
        """Draw the sample (once; county staff)."""
        campaign = _campaign(campaign_id)
        require_role("county", "admin")
        sampling.draw(db.session, campaign)
        return _detail(campaign)


@blp.route("/<id:campaign_id>/assign")
class CampaignAssign(MethodView):
    @blp.arguments(AssignSchema)
    @blp.response(200, CampaignDetailSchema)
    def post(self, data, campaign_id):
        """Share the unassigned households among checkers (never their own visits; county staff)."""
        campaign = _campaign(campaign_id)
        require_role("county", "admin")
        if campaign.drawn_at is None:
            raise SampleNotDrawn("Draw the sample first.")
        sampling.assign(db.session, campaign, [user_by_username(db.session, name) for name in data["checkers"]])
        return _detail(campaign)


@blp.route("/<id:campaign_id>/rates")
class CampaignRates(MethodView):
    @blp.response(200, RatesSchema)
    def get(self, campaign_id):
        """Error rates with 95 % Wilson intervals per village and township in your reach, and the campaign's."""
        return spot_rates.rates(db.session, _campaign(campaign_id), api_user())


@blp.route("/redos")
class Redos(MethodView):
    @blp.arguments(RedoQuerySchema, location="query")
    @blp.response(200, RedoSchema(many=True))
    @blp.alt_response(403, description="Supervisors, county staff and administrators only")
    @blp.paginate(SqlPage)
    def get(self, query):
        """Villages flagged to redo their review, in your reach, newest first (supervisor, county)."""
        user = require_role("supervisor", "county", "admin")
        return spot_rates.redos_in_reach(user, campaign_id=query.get("campaign"), is_open=query.get("open"))


@blp.route("/redos/<id:redo_id>/withdraw")
class RedoWithdraw(MethodView):
    @blp.arguments(WithdrawSchema)
    @blp.response(200, RedoSchema)
    @blp.alt_response(403, description="County staff of the village's county only")
    @blp.alt_response(404, description="No such flag in your areas")
    @blp.alt_response(409, description="Already withdrawn")
    def post(self, data, redo_id):
        """Withdraw a redo flag with a reason (county staff); its households get their own due dates back."""
        user = api_user()
        redo = db.session.get(VillageRedo, redo_id)
        if redo is None or (user.role != "admin" and not is_in_reach(user, redo.village)):
            raise NotFound(f"No redo flag {redo_id} in your areas.")
        spot_rates.withdraw(db.session, user, redo, data["reason"])
        return redo
