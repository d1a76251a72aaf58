"""Sign-in throttling: wrong passwords per (username, address) pair make that pair wait, longer
and longer, before its next try. Kept in the database, so every server process shares it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import SignInFailures

KEY_LENGTH = 64  # the columns' length: usernames are at most 64 characters, addresses fit


@dataclass(frozen=True)
class Policy:
    free_attempts: int  # wrong passwords in a row that cost no wait
    base_delay: float  # seconds: the wait after the first failure past the free ones, doubled after each next
    max_delay: float  # seconds: the longest wait
    remembered: float  # seconds: a pair with no failure for this long starts afresh

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(free_attempts=config["SIGN_IN_FREE_ATTEMPTS"], base_delay=config["SIGN_IN_BASE_DELAY_SECONDS"],
                   max_delay=config["SIGN_IN_MAX_DELAY_SECONDS"],
                   remembered=config["SIGN_IN_FAILURES_REMEMBERED_SECONDS"])

    def delay_after(self, failures: int) -> float:
        """The wait after the `failures`-th wrong password in a row."""
        past_free = failures - self.free_attempts
        if past_free <= 0:
            return 0.0
        return min(self.base_delay * 2 ** min(past_free - 1, 40), self.max_delay)


def blocked_until(session: Session, policy: Policy, username: str, address: str, now: datetime) -> datetime | None:
    """Until when the pair must wait (a time not after `now`: it may try), or None when it has no
    failure to remember."""
    row = session.execute(
        select(SignInFailures.blocked_until, SignInFailures.last_failed_at)
        .where(SignInFailures.username == username, SignInFailures.address == address)
    ).first()
    if row is None or row.last_failed_at < now - timedelta(seconds=policy.remembered):
        return None
    return row.blocked_until


def record_failure(session: Session, policy: Policy, username: str, address: str, now: datetime) -> datetime:
    """Count one more wrong password for the pair and return until when it must wait. Also deletes
    every pair forgotten by now, so the table holds only the last `remembered` seconds' failures
    (each of which cost a password check, which bounds their number). Flushed, not committed."""
    forget_before = now - timedelta(seconds=policy.remembered)
    table = SignInFailures.__table__
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    # One statement, so two failures at once both count (the row is locked until the commit).
    upsert = insert(table).values(username=username, address=address, failures=1, last_failed_at=now,
                                  blocked_until=now)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.username, table.c.address],
        set_={"failures": case((table.c.last_failed_at < forget_before, 1), else_=table.c.failures + 1),
              "last_failed_at": now},
    ).returning(table.c.failures)
    failures = session.execute(upsert).scalar_one()
    until = now + timedelta(seconds=policy.delay_after(failures))
    session.execute(update(table).where(table.c.username == username, table.c.address == address)
                    .values(blocked_until=until))
    session.execute(delete(table).where(table.c.last_failed_at < forget_before, table.c.blocked_until < now))
    return until


def forget(session: Session, username: str, address: str | None = None) -> int:
    """A success (or an administrator) clears the pair, or all of a username's pairs; flushed."""
    query = delete(SignInFailures).where(SignInFailures.username == username)
    if address is not None:
        query = query.where(SignInFailures.address == address)
    return session.execute(query).rowcount
