"""Staff accounts: creation, password checks (scrypt) and phone tokens."""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import Duplicate, InvalidInput, NotFound
from ..models import ROLES, ApiToken, PhoneToken, User, utcnow
from .areas import area_by_code
from .password_proofs import PasswordProofs

# A hash to compare against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = generate_password_hash("not-a-password")
FULL_NAME_LENGTH = 100  # the column's length; PostgreSQL refuses longer values with a DataError


def create_user(
    session: Session, *, username: str, password: str, role: str, area_codes: list[str], full_name: str = ""
) -> User:
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise InvalidInput("A username is 2–64 letters, digits, '.', '_' or '-'.")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if len(password or "") < 4:
        raise InvalidInput("A password has at least 4 characters.")
    full_name = (full_name or username).strip()
    if len(full_name) > FULL_NAME_LENGTH:
        raise InvalidInput(f"A full name has at most {FULL_NAME_LENGTH} characters.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Duplicate(f"The username {username!r} is taken.")
    if role != "admin" and not area_codes:
        raise InvalidInput(f"A {role} needs at least one area.")
    # The same code given twice would insert the same (user, area) pair twice.
    areas = sorted({area.id: area for area in (area_by_code(session, code) for code in area_codes)}.values(),
                   key=lambda area: area.code)
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=generate_password_hash(password),  # scrypt, salted
        areas=areas,
    )
    session.add(user)
    session.flush()
    return user


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user is called {username!r}.")
    return user


def authenticate(session: Session, username: str, password: str, proofs: PasswordProofs | None = None) -> User | None:
    """The active user with this password, or None. With `proofs`, a password checked right a short
    time ago is not checked again (its scrypt costs ~100 ms); a wrong one always is."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if proofs is not None and proofs.holds(user.password_hash, password):
        return user if user.is_active else None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    if proofs is not None:
        proofs.add(user.password_hash, password)
    return user


def _token_hash(token: str) -> str:
    # Tokens are 32 random bytes: a fast hash is enough, no KDF needed to resist guessing.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_phone_token(session: Session, user: User) -> str:
    """Revoke the user's live token, make a new one and return it; only its hash is kept."""
    revoke_phone_token(session, user)
    token = secrets.token_urlsafe(32)
    session.add(PhoneToken(user_id=user.id, token_hash=_token_hash(token)))
    session.flush()
    return token


def revoke_phone_token(session: Session, user: User) -> bool:
    result = session.execute(
        update(PhoneToken)
        .where(PhoneToken.user_id == user.id, PhoneToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount > 0


def _holder_of(token_model) -> Select:
    return (
        select(User)
        .join(token_model, token_model.user_id == User.id)
        .where(token_model.token_hash == bindparam("token_hash"), token_model.revoked_at.is_(None), User.is_active)
        .options(joinedload(User.areas))  # every phone and script request asks what the user may reach
    )


# Built once: every phone request runs one of these (building a statement costs more than running it).
_HOLDER = {PhoneToken: _holder_of(PhoneToken), ApiToken: _holder_of(ApiToken)}


def _user_holding(session: Session, token_model, token: str) -> User | None:
    """The active user whose live token (phone or script) this is."""
    if not token or len(token) > 128:
        return None
    return session.execute(_HOLDER[token_model], {"token_hash": _token_hash(token)}).unique().scalars().first()


def user_for_token(session: Session, token: str) -> User | None:
    return _user_holding(session, PhoneToken, token)


def has_live_token(session: Session, user: User, token: str) -> bool:
    found = user_for_token(session, token)
    return found is not None and found.id == user.id


def issue_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new named token for a script; the secret is returned once, only its hash is kept."""
    name = (name or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise InvalidInput("A token name is 1–64 letters, digits, '.', '_' or '-' (e.g. monthly-export).")
    live = select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    if session.scalar(live) is not None:
        raise Duplicate(f"{user.username} already has a live token called {name!r}; revoke it first.")
    token = secrets.token_urlsafe(32)
    api_token = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token))
    session.add(api_token)
    session.flush()
    return api_token, token


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    api_token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if api_token is None:
        raise NotFound(f"{user.username} has no token {token_id}.")
    if api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        session.flush()


def user_for_api_token(session: Session, token: str) -> User | None:
    return _user_holding(session, ApiToken, token)
