"""A campaign's sampled households and how each re-visit compares with the original, side by side."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import NotFound
from ..extensions import db
from ..models import RESULTS, Area, Household, SampleItem, User
from ..services import audit, spotchecks
from ..services.areas import is_in_reach, reach_condition
from . import Schema
from .auth import api_user
from .campaigns import _campaign
from .pagination import SqlPage
from .submissions import AttachmentSchema

URL_PREFIX = "/api/v1/campaigns"
blp = Blueprint("spotchecks", __name__, description="Spot-check results: each re-visit compared with the original")


class SampleItemSchema(Schema):
    id = fields.Integer()
    campaign_id = fields.Integer()
    case_number = fields.String(attribute="household.case_number")
    head_name = fields.String(attribute="household.head_name")
    village_code = fields.String(attribute="household.village.code")
    village = fields.String(attribute="household.village.name")
    checker = fields.String(attribute="checker.username", allow_none=True)
    original_investigator = fields.Function(
        lambda item: item.original_investigator.username if item.original_investigator else None,
        metadata={"type": "string", "nullable": True})
    original_submission_id = fields.Integer(allow_none=True, metadata={
        "description": "The original home visit (GET /api/v1/submissions/{id}); null when none was on record"})
    check_submission_id = fields.Integer(allow_none=True, metadata={
        "description": "The re-visit (a spot_check submission), once received"})
    checked_at = fields.DateTime(allow_none=True, metadata={"description": "When the re-visit was last compared"})
    result = fields.String(allow_none=True, metadata={
        "description": "agree, differ or error; null until a re-visit that took place is compared"})


class PhotosSchema(Schema):
    original = fields.Nested(AttachmentSchema, allow_none=True)
    check = fields.Nested(AttachmentSchema, allow_none=True)


class ComparedItemSchema(Schema):
    item = fields.String(metadata={"description": "household_size, members, head_seen, sight_<s>, income, "
                                                  "category, red_flags, eligibility (outcome when not visited)"})
    label_zh = fields.String()
    label_en = fields.String()
    original = fields.Raw(allow_none=True, metadata={"description": "What the original visit recorded"})
    check = fields.Raw(allow_none=True, metadata={"description": "What the re-visit recorded"})
    agrees = fields.Boolean(allow_none=True, metadata={"description": "null: one side does not record the item"})
    error = fields.Boolean(metadata={"description": "The difference changes eligibility, category or amount"})
    reason = fields.String()
    photos = fields.Nested(PhotosSchema, allow_none=True, metadata={
        "description": "The five sights: each side's photo with its url and thumbnail_url (null: no photo)"})


class SampleItemDetailSchema(SampleItemSchema):
    items = fields.List(fields.Nested(ComparedItemSchema), metadata={"description": "Item by item, side by side"})


class SampleItemQuerySchema(Schema):
    result = fields.String(validate=validate.OneOf([*RESULTS, "unchecked"]),
                           metadata={"description": "agree, differ, error, or unchecked (no result yet)"})
    checker = fields.String(metadata={"description": "Username of the checker"})


@blp.route("/<id:campaign_id>/items")
class SampleItems(MethodView):
    @blp.arguments(SampleItemQuerySchema, location="query")
    @blp.response(200, SampleItemSchema(many=True))
    @blp.paginate(SqlPage)
    def get(self, query, campaign_id):
        """A campaign's sampled households in the caller's areas, with their results."""
        user = api_user()
        campaign = _campaign(campaign_id)
        audit.note_list(user, "sample_item.list", "campaign", query, object_id=campaign.id)
        selected = (
            select(SampleItem).join(Household, Household.id == SampleItem.household_id)
            .join(Area, Area.id == Household.village_id)  # where the household is now, as for its visits
            .where(SampleItem.campaign_id == campaign.id, reach_condition(user))
            .options(selectinload(SampleItem.household).selectinload(Household.village), selectinload(SampleItem.checker),
                     selectinload(SampleItem.original_investigator))
            .order_by(Area.code, Household.case_number)
        )
        if query.get("result") == "unchecked":
            selected = selected.where(SampleItem.result.is_(None))
        elif query.get("result"):
            selected = selected.where(SampleItem.result == query["result"])
        if query.get("checker"):
            selected = selected.where(SampleItem.checker_id.in_(select(User.id).where(User.username == query["checker"])))
        return selected


@blp.route("/<id:campaign_id>/items/<id:item_id>")
class SampleItemDetail(MethodView):
    @blp.response(200, SampleItemDetailSchema)
    @blp.alt_response(404, description="No such sampled household in your areas")
    def get(self, campaign_id, item_id):
        """One sampled household: the re-visit against the original, item by item, with both photos (audited)."""
        user = api_user()
        campaign = _campaign(campaign_id)
        item = db.session.get(SampleItem, item_id)
        if item is None or item.campaign_id != campaign.id or not is_in_reach(user, item.household.village):
            raise NotFound(f"No sampled household {item_id} of campaign {campaign_id} in your areas.")
        audit.note_read(user, "spot_check.read", "sample_item", item.id, item.household.village_id,
                        campaign_id=campaign.id, case_number=item.household.case_number)
        item.items = spotchecks.side_by_side(db.session, item)
        return item
