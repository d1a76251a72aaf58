"""Assistance standards (保障标准) as data: per area, urban or rural, from a date on, in fen."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import or_, select

from ..errors import Duplicate, Forbidden, InvalidInput, OutsideReach
from ..extensions import db
from ..models import RESIDENCES, Area, Standard
from ..models.base import RULES_SINCE
from ..services.areas import area_by_code, is_in_reach, path_ids, reach_condition
from . import Schema
from .auth import api_user

blp = Blueprint("standards", __name__, description="Assistance standards per area, residence and date")


class StandardSchema(Schema):
    area_code = fields.String(required=True, attribute="area.code")
    area = fields.String(attribute="area.name", dump_only=True)
    residence = fields.String(required=True, validate=validate.OneOf(RESIDENCES))
    monthly_fen = fields.Integer(required=True, validate=validate.Range(min=1),
                                 metadata={"description": "Per person per month, in fen (22000 = 220 yuan)"})
    effective_from = fields.Date(required=True)
    created_at = fields.DateTime(dump_only=True)


@blp.route("")
class Standards(MethodView):
    @blp.response(200, StandardSchema(many=True))
    def get(self):
        """The standards that apply in the caller's areas: their own and those of the areas above them."""
        user = api_user()
        query = select(Standard).join(Area, Area.id == Standard.area_id)
        if user.role != "admin":
            above = {area_id for area in user.areas for area_id in path_ids(area)}
            query = query.where(or_(reach_condition(user), Area.id.in_(above)))
        return db.session.scalars(query.order_by(Area.code, Standard.residence, Standard.effective_from)).all()

    @blp.arguments(StandardSchema)
    @blp.response(201, StandardSchema)
    @blp.alt_response(409, description="That area already has a standard for that residence from that date")
    def post(self, data):
        """Set a standard from a date on (county staff for their county, or admin); earlier ones stay."""
        user = api_user()
        if user.role not in ("county", "admin"):
            raise Forbidden("Standards are set by county staff.")
        area = area_by_code(db.session, data["area"]["code"])
        if user.role == "county" and not is_in_reach(user, area):
            raise OutsideReach("You set standards only for your own county.")
        if data["effective_from"] < RULES_SINCE:
            raise InvalidInput("effective_from is not a plausible date.")
        duplicate = select(Standard.id).where(Standard.area_id == area.id, Standard.residence == data["residence"],
                                             Standard.effective_from == data["effective_from"])
        if db.session.scalar(duplicate) is not None:
            raise Duplicate("That area already has a standard for that residence from that date.")
        standard = Standard(area=area, residence=data["residence"], monthly_fen=data["monthly_fen"],
                            effective_from=data["effective_from"])
        db.session.add(standard)
        return standard
