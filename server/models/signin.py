"""Recent wrong passwords per (username, address) pair: what slows down guessing a password."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SignInFailures(Base):
    """One row per pair with a recent failure; deleted on a success and once forgotten.

    Keyed on the username as typed, known or not, so that a throttled name says nothing about
    whether the account exists; and on the address, so that a phone with an old saved password
    throttles only itself (its owner signs in from elsewhere), and many phones behind one township
    or carrier address do not throttle each other's accounts."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_failed_at: Mapped[datetime] = mapped_column(index=True)  # the clean-up's key
    # No sign-in of this pair is tried before this time (not even the right password).
    blocked_until: Mapped[datetime]
