"""Staff accounts and their phone tokens with the Collect settings QR code."""
import base64

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from ..errors import Forbidden
from ..extensions import db
from ..models import ROLES, ApiToken, User
from ..services import audit
from ..services.phone import collect_settings, phone_server_url, qr_png, settings_qr_payload
from ..services.users import (
    FULL_NAME_LENGTH,
    create_user,
    issue_api_token,
    issue_phone_token,
    revoke_api_token,
    revoke_phone_token,
    user_by_username,
)
from . import Schema
from .auth import api_user, require_password_sign_in, require_role

blp = Blueprint("users", __name__, description="Staff accounts and phone tokens")


class UserSchema(Schema):
    username = fields.String(required=True)
    full_name = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean(dump_only=True)
    area_codes = fields.Method("_area_codes", dump_only=True)

    def _area_codes(self, user):
        return [area.code for area in user.areas]


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{2,64}$"))
    full_name = fields.String(load_default="", validate=validate.Length(max=FULL_NAME_LENGTH))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=4, max=256))
    area_codes = fields.List(fields.String(), load_default=list,
                             metadata={"description": "Required (at least one) for every role but admin"})


class ApiTokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$"),
                         metadata={"description": "What the token is for, e.g. monthly-export: 1–64 letters, "
                                                  "digits, '.', '_' or '-'"})
    created_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class NewApiTokenSchema(ApiTokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "Shown once; only its hash is kept"})


class PhoneTokenSchema(Schema):
    username = fields.String()
    token = fields.String(metadata={"description": "Shown once; only its hash is kept"})
    server_url = fields.String(metadata={"description": "What the phone uses as its server URL"})
    qr_payload = fields.String(metadata={"description": "Collect settings: zlib-compressed, base64 JSON"})
    qr_png = fields.String(metadata={"description": "data:image/png;base64,… of the QR code"})


def _self_or_admin(username: str) -> User:
    caller = api_user()
    if caller.role != "admin" and caller.username != username:
        raise Forbidden("Only an administrator manages other people's phones.")
    return user_by_username(db.session, username)


@blp.route("")
class Users(MethodView):
    @blp.response(200, UserSchema(many=True))
    def get(self):
        """All staff accounts (admin)."""
        require_role("admin")
        return db.session.scalars(select(User).order_by(User.username)).all()

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a staff account (admin)."""
        require_role("admin")
        require_password_sign_in()
        user = create_user(db.session, **data)
        return user


@blp.route("/<username>/phone-token")
class PhoneToken(MethodView):
    @blp.response(201, PhoneTokenSchema)
    def post(self, username):
        """Issue a new phone token (revoking the old one); returns the URL and the QR code once."""
        require_password_sign_in()
        user = _self_or_admin(username)
        token = issue_phone_token(db.session, user)
        audit.record(db.session, api_user(), "token.issued", "user", user.username, kind="phone")
        url = phone_server_url(current_app.config["PUBLIC_BASE_URL"], token)
        payload = settings_qr_payload(collect_settings(url, current_app.config["PROJECT_NAME"], user.username))
        png = base64.b64encode(qr_png(payload)).decode("ascii")
        return {"username": user.username, "token": token, "server_url": url, "qr_payload": payload,
                "qr_png": f"data:image/png;base64,{png}"}

    @blp.response(204)
    def delete(self, username):
        """Revoke the phone token (a lost phone): the phone gets 401 from then on."""
        user = _self_or_admin(username)
        revoked = revoke_phone_token(db.session, user)
        audit.record(db.session, api_user(), "token.revoked", "user", user.username, kind="phone", was_live=revoked)


@blp.route("/<username>/api-tokens")
class ApiTokens(MethodView):
    @blp.response(200, ApiTokenSchema(many=True))
    def get(self, username):
        """The user's script tokens (names and dates, never the secrets)."""
        user = _self_or_admin(username)
        return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()

    @blp.arguments(ApiTokenSchema)
    @blp.response(201, NewApiTokenSchema)
    def post(self, data, username):
        """Issue a named token for a script; the secret is in this answer only."""
        require_password_sign_in()
        user = _self_or_admin(username)
        api_token, secret = issue_api_token(db.session, user, data["name"])
        audit.record(db.session, api_user(), "token.issued", "user", user.username, kind="api", token_id=api_token.id,
                     name=api_token.name)
        return {"id": api_token.id, "name": api_token.name, "created_at": api_token.created_at,
                "revoked_at": None, "token": secret}


@blp.route("/<username>/api-tokens/<id:token_id>")
class ApiTokenItem(MethodView):
    @blp.response(204)
    def delete(self, username, token_id):
        """Revoke a script token."""
        revoke_api_token(db.session, _self_or_admin(username), token_id)
        audit.record(db.session, api_user(), "token.revoked", "user", username, kind="api", token_id=token_id)
