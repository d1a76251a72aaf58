"""Signing in with a password (HTTP Basic), for phones and the JSON API alike: throttled per
(username, address) pair, and checked once in a while rather than on every request."""
from __future__ import annotations

import logging
import math

from flask import Flask, current_app, request

from .errors import TooManySignIns, WrongPassword
from .extensions import db, write_transaction
from .models import User, utcnow
from .services import throttle
from .services.password_proofs import PasswordProofs
from .services.users import authenticate

log = logging.getLogger(__name__)


def init_sign_in(app: Flask) -> None:
    app.extensions["password_proofs"] = PasswordProofs(app.config["PASSWORD_PROOF_SECONDS"])


def sign_in_with_password(username: str, password: str) -> User:
    """The user, or 401 (wrong) or 429 (this pair must wait; not even the right password is tried).

    A failure is committed at once, in a write transaction of its own: the request then fails
    with 401, and whatever becomes of its transaction, the count must stay. A success after
    failures clears them the same way. Sign-in comes before a request's own work, so at that point
    the session holds only the sign-in's reads."""
    if len(username) > throttle.KEY_LENGTH:  # no account has such a name: nothing to guess
        raise WrongPassword("Wrong username or password.")
    policy = throttle.Policy.from_config(current_app.config)
    address = (request.remote_addr or "")[: throttle.KEY_LENGTH]
    now = utcnow()
    until = throttle.blocked_until(db.session, policy, username, address, now)
    if until is not None and until > now:
        wait = max(1, math.ceil((until - now).total_seconds()))
        raise TooManySignIns(
            f"Too many wrong passwords for {username} from this address: wait {wait} seconds, then try again "
            "with the right password. Other addresses are not affected.", retry_after=wait)
    user = authenticate(db.session, username, password, current_app.extensions["password_proofs"])
    if user is None:
        until = _commit_apart(lambda session: throttle.record_failure(session, policy, username, address, now))
        if until > now:
            log.warning("sign-in of %r from %s throttled for %.0f s after repeated wrong passwords",
                        username, address, (until - now).total_seconds())
        raise WrongPassword("Wrong username or password.")
    if until is not None:
        _commit_apart(lambda session: throttle.forget(session, username, address))
    return user


def _commit_apart(work):
    """Run `work` in a short write transaction of its own and commit it. Sign-in comes before a
    request's own work (the JSON API's boundary begins a write only after it), so the session holds
    only the sign-in's reads, which end first."""
    session = db.session()
    session.rollback()
    with write_transaction(session):
        return work(session)
