"""Who is calling the JSON API, and what their role lets them do."""
from __future__ import annotations

from flask import g, request

from ..errors import Forbidden, PasswordRequired, Unauthenticated, UnknownToken
from ..extensions import db
from ..models import User
from ..openrosa.auth import require_secure_transport
from ..services.users import user_for_api_token
from ..signin import sign_in_with_password


def api_user() -> User:
    """A script's token (Authorization: Bearer …) or HTTP Basic with the user's password, over
    HTTPS outside development."""
    if "api_user" not in g:
        require_secure_transport()
        credentials = request.authorization
        if credentials is not None and credentials.type == "bearer":
            user = user_for_api_token(db.session, credentials.token or "")
            if user is None:
                raise UnknownToken("This API token is unknown or revoked.")
            g.signed_in_with = "token"
        elif credentials is not None and credentials.type == "basic":
            user = sign_in_with_password(credentials.username or "", credentials.password or "")
            g.signed_in_with = "password"
        else:
            raise Unauthenticated("Sign in with an API token (Authorization: Bearer …) or HTTP Basic.")
        g.api_user = user
    return g.api_user


def require_role(*roles: str) -> User:
    user = api_user()
    if user.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {user.role}.")
    return user


def require_password_sign_in() -> User:
    """A new credential (an API or phone token, an account with a password) is made only by a
    person who signed in with their password, never by a script's token: a token that could mint
    others would outlive its own revocation through them. Revoking stays open to tokens: it makes no
    credential, and a script whose token leaked, or its user's lost phone, is ended at once."""
    user = api_user()
    if g.signed_in_with != "password":
        raise PasswordRequired("A token cannot make tokens or accounts: sign in with your username and password "
                               "(HTTP Basic) to do this.")
    return user
