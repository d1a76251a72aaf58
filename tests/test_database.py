"""The engine's connection handling: a connection the database closed is replaced, not used; readers
on PostgreSQL skip BEGIN and COMMIT."""
from __future__ import annotations

import os

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.orm import Session

from server import extensions
from server.extensions import begin_read, begin_write, make_engine


# Pinging and autocommit reads are PostgreSQL's; they run in the suite's PostgreSQL pass (TEST_DATABASE_URL).
on_postgresql = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")


@pytest.fixture
def pg_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(database_url: str, pid: int) -> None:
    other = make_engine(database_url)
    with other.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


@on_postgresql
def test_a_connection_closed_by_the_database_while_idle_is_replaced(pg_engine, database_url, monkeypatch):
    with pg_engine.connect() as one, pg_engine.connect() as two:  # two pooled connections
        pids = {one.execute(text("SELECT pg_backend_pid()")).scalar_one(),
                two.execute(text("SELECT pg_backend_pid()")).scalar_one()}
    for pid in pids:
        _terminate(database_url, pid)  # as a database restart does to every pooled connection
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)  # they have sat idle long enough

    with pg_engine.connect() as one, pg_engine.connect() as two:  # no error: both were replaced
        assert not pids & {one.execute(text("SELECT pg_backend_pid()")).scalar_one(),
                           two.execute(text("SELECT pg_backend_pid()")).scalar_one()}


@on_postgresql
def test_a_connection_used_a_moment_ago_is_not_pinged_again(pg_engine, monkeypatch):
    pings = []
    real_ping = pg_engine.dialect.do_ping
    monkeypatch.setattr(pg_engine.dialect, "do_ping", lambda connection: pings.append(1) or real_ping(connection))
    for _ in range(3):  # a request's three checkouts: sign-in, read, write
        _backend_pid(pg_engine)
    assert pings == []

    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)  # after a pause, it is
    _backend_pid(pg_engine)
    assert pings == [1]


@on_postgresql
def test_a_reader_on_postgresql_runs_without_begin_and_commit_and_the_next_transaction_is_normal(pg_engine):
    session = Session(bind=pg_engine)
    try:
        begin_read(session)
        assert session.connection().connection.dbapi_connection.autocommit
        assert session.scalar(text("SELECT count(*) FROM users")) >= 0
        assert session.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
        session.commit()

        begin_write(session)  # the write phase after it: one transaction, as before
        session.execute(text("SELECT 1"))
        assert not session.connection().connection.dbapi_connection.autocommit
        assert session.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.INTRANS
        session.rollback()
    finally:
        session.close()


def test_a_reader_on_sqlite_begins_an_ordinary_transaction(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'read.sqlite3'}")
    session = Session(bind=engine)
    try:
        begin_read(session)  # nothing to save on SQLite: its reads keep one snapshot, as before
        session.execute(text("SELECT 1"))
        assert "isolation_level" not in session.connection().get_execution_options()  # not autocommit
        assert session.connection().connection.dbapi_connection.in_transaction
    finally:
        session.close()
        engine.dispose()
