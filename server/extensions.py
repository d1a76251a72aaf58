"""Shared extensions: the database engine and session (the flask-smorest Api is made per app)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from flask import Flask
from flask.globals import app_ctx
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .errors import LostRace


class Database:
    """One engine and one scoped session per app; services receive the session and flush, the
    boundaries (server/api/boundary.py, the CLI, the check worker, the phone's upload) commit."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        # One session per application context: a request's session ends with its request.
        self.session: scoped_session[Session] = scoped_session(
            sessionmaker(expire_on_commit=False), scopefunc=_current_app_context
        )

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.session.configure(bind=self.engine)

        @app.teardown_appcontext
        def remove_session(exc: BaseException | None) -> None:
            # Anything not committed by the view is rolled back here.
            self.session.remove()


def _current_app_context():
    try:
        return app_ctx._get_current_object()
    except RuntimeError:  # outside any app context (scripts): one shared session
        return None


# A pooled connection idle longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, as pool_pre_ping but only for connections that sat idle.

    A database restart leaves every pooled connection dead; a request must not fail on one. A
    connection whose last transaction ended under a second ago was alive then, so it is used as it
    is; one idle longer is pinged first and, if dead, replaced with every other pooled connection
    (the pool retries the checkout on InvalidatePoolError). A request checks a connection out
    three times (sign-in, read, write), so pool_pre_ping cost three round trips per upload; this
    costs none under load.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def mark_alive(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info["idle_since"] < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # As pool_pre_ping does: after a restart every older pooled connection is dead too.
                raise InvalidatePoolError("the database closed this connection; taking a new one") from error
            raise


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINTs and starts transactions late; take
    # control of BEGIN ourselves (the SQLAlchemy "serializable isolation / savepoints" recipe).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")  # evidence: a commit survives power loss
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        # A writer asks for BEGIN IMMEDIATE (see begin_write): it waits for the write lock at the
        # start instead of failing later when a read transaction cannot be upgraded.
        connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('sqlite_begin', '')}")


db = Database()


def begin_read(session=None) -> None:
    """Start the session's next transaction as a reader: on PostgreSQL its queries run in
    autocommit, with no BEGIN and COMMIT round trips. Under PostgreSQL's READ COMMITTED each query
    sees its own snapshot anyway, so reads lose nothing; anything written before the session's next
    commit would be committed statement by statement, so only read-only work starts this way. On
    SQLite (no round trips to save), or in a session bound to one connection (a test's outer
    transaction), a transaction begins as usual."""
    session = session or db.session
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def begin_write(session=None) -> None:
    """Start the session's next transaction as a writer (BEGIN IMMEDIATE on SQLite; no-op elsewhere)."""
    (session or db.session).connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def write_transaction(session=None) -> Iterator[Session]:
    """One write: begun as a writer, committed when the block ends, rolled back on any exception.

    Every write of the JSON API, the CLI and the check worker goes through here. On SQLite it begins
    IMMEDIATE, taking the write lock at its start and waiting up to the busy timeout (30 s) for
    another writer; a transaction that began as a read and writes later is refused at once
    ("database is locked") whenever another writer committed since its first read, whatever the
    timeout. So the session must not be inside a transaction already: end a read (commit) first.

    A unique constraint that refuses the write means someone did the same at the same moment (two
    people recording one approval level, two areas with one code): LostRace, a 409."""
    session = session or db.session
    if _in_transaction(session):
        raise RuntimeError("write_transaction() inside a transaction: end the read first (commit it)")
    begin_write(session)
    try:
        yield session
        session.commit()
    except IntegrityError as error:
        session.rollback()
        if is_unique_violation(error):
            raise LostRace("Someone else did the same at the same moment; reload and look again. "
                           "Nothing was saved.") from None
        raise
    except BaseException:
        session.rollback()
        raise


def _in_transaction(session) -> bool:
    return (session() if isinstance(session, scoped_session) else session).in_transaction()


def is_unique_violation(error: IntegrityError) -> bool:
    """A unique index or primary key refused the row (not a foreign key or check: those are bugs)."""
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return sqlstate == "23505"
    return getattr(original, "sqlite_errorname", "") in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


# A batch of long work holds SQLite's write lock for at most this many items (a household's due date
# takes 3-4 ms to work out: a batch holds the lock for about 0.2 s, a fraction of the busy timeout).
BATCH_SIZE = 50


def write_in_batches(ids: Sequence, work: Callable[[object], object], *, session=None, size: int = BATCH_SIZE) -> int:
    """Call work(id) for every id, `size` of them in each short write transaction, so other writers
    wait a fraction of a second instead of the whole run. What is committed stays committed if the
    process dies midway: `work` must be idempotent, and the caller must find what is left (a query
    of what still needs it) when it starts again. Returns how many were done."""
    session = session or db.session
    if _in_transaction(session):
        session.commit()  # the read that found the ids
    for start in range(0, len(ids), size):
        with write_transaction(session):
            for item in ids[start:start + size]:
                work(item)
    return len(ids)


def commit() -> None:
    """The commit of the phone upload's write phase (server/openrosa/submission.py, the one place that
    runs phased transactions of its own; everything else commits through write_transaction)."""
    db.session.commit()
