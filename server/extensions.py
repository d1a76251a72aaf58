"""Shared extensions: the database engine and session (the flask-smorest Api is made per app)."""
from __future__ import annotations

import time

from flask import Flask
from flask.globals import app_ctx
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, scoped_session, sessionmaker


class Database:
    """One engine and one scoped session per app; services receive the session, views commit."""

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


def commit() -> None:
    """The one commit of a write request, called by the view when its work is done."""
    db.session.commit()
