"""Spot-check campaigns: set one up, draw its sample, assign checkers, follow progress."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from ..errors import InvalidInput, NotFound
from ..extensions import commit, db
from ..models import POPULATIONS, Area, Campaign, SampleItem, User
from ..services import sampling
from ..services.users import user_by_username
from .auth import api_user, require_role

blp = Blueprint("campaigns", __name__, description="Spot-check campaigns (抽查)")


class CampaignSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(load_default="")
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


class ProgressSchema(Schema):
    sampled = fields.Integer()
    unassigned = fields.Integer()
    by_village = fields.List(fields.Dict())
    by_checker = fields.List(fields.Dict())


class CampaignDetailSchema(CampaignSchema):
    progress = fields.Nested(ProgressSchema, dump_only=True)


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


def _progress(campaign: Campaign) -> dict:
    by_village = db.session.execute(
        select(Area.code, Area.name, func.count(SampleItem.id))
        .join(SampleItem, SampleItem.village_id == Area.id).where(SampleItem.campaign_id == campaign.id)
        .group_by(Area.code, Area.name).order_by(Area.code)).all()
    by_checker = db.session.execute(
        select(User.username, func.count(SampleItem.id))
        .join(SampleItem, SampleItem.checker_id == User.id).where(SampleItem.campaign_id == campaign.id)
        .group_by(User.username).order_by(User.username)).all()
    sampled = sum(count for _, _, count in by_village)
    assigned = sum(count for _, count in by_checker)
    return {"sampled": sampled, "unassigned": sampled - assigned,
            "by_village": [{"village_code": c, "village": n, "sampled": k} for c, n, k in by_village],
            "by_checker": [{"checker": u, "assigned": k} for u, k in by_checker]}


def _detail(campaign: Campaign):
    campaign.progress = _progress(campaign)
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
        commit()
        return campaign


@blp.route("/<int:campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignDetailSchema)
    def get(self, campaign_id):
        """One campaign with its sample per village and its checkers' assignments."""
        return _detail(_campaign(campaign_id))


@blp.route("/<int:campaign_id>/draw")
class CampaignDraw(MethodView):
    @blp.response(200, CampaignDetailSchema)
    @blp.alt_response(409, description="Already drawn")
    def post(self, campaign_id):
        """Draw the sample (once; county staff)."""
        campaign = _campaign(campaign_id)
        require_role("county", "admin")
        sampling.draw(db.session, campaign)
        commit()
        return _detail(campaign)


@blp.route("/<int:campaign_id>/assign")
class CampaignAssign(MethodView):
    @blp.arguments(AssignSchema)
    @blp.response(200, CampaignDetailSchema)
    def post(self, data, campaign_id):
        """Share the unassigned households among checkers (never their own visits; county staff)."""
        campaign = _campaign(campaign_id)
        require_role("county", "admin")
        if campaign.drawn_at is None:
            raise InvalidInput("Draw the sample first.")
        sampling.assign(db.session, campaign, [user_by_username(db.session, name) for name in data["checkers"]])
        commit()
        return _detail(campaign)
