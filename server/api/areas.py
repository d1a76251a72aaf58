"""Areas: the county's tree of townships and villages."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..extensions import db
from ..models import AREA_LEVELS, Area
from ..services.areas import NAME_LENGTH, areas_in_reach, create_area
from . import Schema
from .auth import api_user, require_role

blp = Blueprint("areas", __name__, description="Counties, townships, villages and communities")


class AreaSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Statistical division code: 6, 9 or 12 digits"})
    name = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(AREA_LEVELS))
    parent_code = fields.String(load_default=None, attribute="parent.code")


class AreaCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$"), metadata={
        "description": "Statistical division code: a county 6 digits, a township 9, a village or community 12, "
                       "starting with its parent's code"})
    name = fields.String(required=True, validate=[validate.Length(max=NAME_LENGTH), validate.Regexp(r"^\s*\S")])
    level = fields.String(required=True, validate=validate.OneOf(AREA_LEVELS))
    parent_code = fields.String(load_default=None)


@blp.route("")
class Areas(MethodView):
    @blp.response(200, AreaSchema(many=True))
    def get(self):
        """Areas the caller answers for (all areas for an admin)."""
        user = api_user()
        if user.role == "admin":
            return db.session.scalars(select(Area).order_by(Area.code)).all()
        return areas_in_reach(db.session, user)

    @blp.arguments(AreaCreateSchema)
    @blp.response(201, AreaSchema)
    def post(self, data):
        """Add an area (admin)."""
        require_role("admin")
        area = create_area(db.session, **data)
        return area
