"""Who is calling: the phone token in the URL, or HTTP Basic, over HTTPS outside development."""
from __future__ import annotations

from flask import current_app, g, request

from ..errors import HttpsRequired, Unauthenticated, UnknownToken
from ..extensions import db
from ..models import User
from ..services.users import user_for_token
from ..signin import sign_in_with_password


def require_secure_transport() -> None:
    """Passwords and tokens travel only over HTTPS (X-Forwarded-Proto from a trusted proxy counts)."""
    if not request.is_secure and not current_app.config["DEVELOPMENT"]:
        raise HttpsRequired("This server accepts phones only over HTTPS. Use the https:// address.")


def authenticate_phone() -> User:
    require_secure_transport()
    token = g.get("phone_token")
    if token is not None:
        user = user_for_token(db.session, token)
        if user is None:
            raise UnknownToken(
                "This phone's server address is no longer valid (the key was revoked or mistyped). "
                "Ask your supervisor for a new QR code."
            )
        return user
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise Unauthenticated("Sign in with your username and password, or scan your QR code.")
    return sign_in_with_password(credentials.username or "", credentials.password or "")
