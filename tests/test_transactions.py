"""The transaction boundary (server/api/boundary.py, extensions.write_transaction): a write begins
as a writer after its sign-in's read, an audited read holds no write lock while it reads, a
unique-constraint race is a 409, a failure leaves nothing, and long work commits in batches.

These tests commit for real, in a database of their own (the server's transaction cannot be the
tests' rolled-back one when another connection must see it commit)."""
from __future__ import annotations

import sqlite3
import threading
from datetime import date

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import Conflict
from server.extensions import BATCH_SIZE, db, make_engine, write_transaction
from server.models import Area, AuditEvent, Campaign, Household, Member, VillageRedo, utcnow
from server.services import checking, schedule
from server.services.areas import create_area
from server.services.users import create_user

from .conftest import basic_auth, site_client
from .live import own_database


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    url, drop = own_database(tmp_path_factory.mktemp("transactions"))
    engine = make_engine(url)
    with Session(engine) as session:
        county = create_area(session, code="629001", name="县", level="county")
        township = create_area(session, code="629001100", name="镇", level="township", parent_code=county.code)
        village = create_area(session, code="629001100001", name="村", level="village", parent_code=township.code)
        create_user(session, username="tx-admin", password="pw-admin", role="admin", area_codes=[])
        create_user(session, username="tx-sup", password="pw-sup", role="supervisor", area_codes=[township.code])
        create_user(session, username="tx-other", password="pw-other", role="caseworker", area_codes=[village.code])
        session.add(Household(case_number="629001100001001", village_id=village.id, head_name="张三", residence="rural",
                              status="active", members=[Member(name="张三", relation="head", sex="male")]))
        session.commit()
        village_id = village.id
    yield {"engine": engine, "url": url, "village_id": village_id}
    engine.dispose()
    drop()


@pytest.fixture
def real(app, own):
    """Requests commit to the module's own database (not the tests' rolled-back transaction)."""
    db.session.remove()
    db.session.configure(bind=own["engine"])
    yield own
    db.session.remove()
    db.session.configure(bind=db.engine)


def other_writer(own, timeout: float):
    """Another process's write (a raw connection, as the check worker or the CLI would be):
    returns None when it committed, else the error it got."""
    def write():
        try:
            if own["url"].startswith("sqlite"):
                connection = sqlite3.connect(make_url(own["url"]).database, timeout=timeout)
                connection.execute("UPDATE users SET full_name = full_name || '.' WHERE username = 'tx-other'")
                connection.commit()
                connection.close()
            else:
                with own["engine"].begin() as connection:
                    connection.execute(text("UPDATE users SET full_name = full_name || '.' WHERE username = 'tx-other'"))
        except Exception as error:  # noqa: BLE001 - reported to the test
            outcome.append(error)
        else:
            outcome.append(None)

    outcome: list = []
    thread = threading.Thread(target=write)
    return thread, outcome


def after_statement(engine, needle: str, action):
    """Run action() once, right after the first statement containing `needle` (a moment inside a request)."""
    done = []

    def listener(_connection, _cursor, statement, *_args):
        if not done and needle in statement:
            done.append(True)
            action()

    event.listen(engine, "after_cursor_execute", listener)
    return lambda: event.remove(engine, "after_cursor_execute", listener)


def test_a_write_after_another_writer_committed_since_its_sign_in_succeeds(app, real):
    """Before: the sign-in's read transaction went on into the write, and SQLite refused its upgrade
    at once ('database is locked') because another writer had committed since its first read."""
    thread, outcome = other_writer(real, timeout=5)
    stop = after_statement(real["engine"], "FROM users", lambda: (thread.start(), thread.join(5)))
    try:
        response = site_client(app, "https://dibao.test").post(
            "/api/v1/areas", json={"code": "629002", "name": "新县", "level": "county"},
            headers=basic_auth("tx-admin", "pw-admin"))
    finally:
        stop()
    assert outcome == [None]  # the other writer did commit between the sign-in and the write
    assert response.status_code == 201, response.json
    with Session(real["engine"]) as session:
        assert session.scalar(select(Area.name).where(Area.code == "629002")) == "新县"


@pytest.mark.skipif("os.environ.get('TEST_DATABASE_URL')", reason="PostgreSQL's reads never lock out writers")
def test_an_audited_read_holds_no_write_lock_while_it_reads(app, real):
    """Before: an audited read began IMMEDIATE and held SQLite's write lock while it read (and
    serialised the response), so another writer waited; now only the audit row's short write does."""
    thread, outcome = other_writer(real, timeout=0.5)
    stop = after_statement(real["engine"], "FROM households", lambda: (thread.start(), thread.join(5)))
    try:
        response = site_client(app, "https://dibao.test").get("/api/v1/cases/629001100001001",
                                                              headers=basic_auth("tx-sup", "pw-sup"))
    finally:
        stop()
    assert response.status_code == 200
    assert outcome == [None], outcome  # not "database is locked" after 0.5 s
    with Session(real["engine"]) as session:
        reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.read")).all()
        assert [(e.object_id, e.area_id) for e in reads][-1:] == [("629001100001001", real["village_id"])]


def test_a_failure_after_a_flush_leaves_nothing(app, real):
    """create_area flushes the area, then its path: a database failure at the second statement
    is a 500 and rolls the first back (the boundary's one commit never comes)."""
    def fail():
        raise RuntimeError("the disk is full")

    stop = after_statement(real["engine"], "UPDATE areas SET path", fail)
    try:
        response = site_client(app, "https://dibao.test").post(
            "/api/v1/areas", json={"code": "629003", "name": "坏县", "level": "county"},
            headers=basic_auth("tx-admin", "pw-admin"))
    finally:
        stop()
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    with Session(real["engine"]) as session:
        assert session.scalar(select(func.count()).select_from(Area).where(Area.code == "629003")) == 0


def test_a_unique_constraint_race_is_a_conflict_and_other_integrity_errors_are_not(session, make):
    county = make.county()
    session.commit()  # the test's savepoint; the outer transaction is still rolled back at the end
    with pytest.raises(Conflict) as lost:
        with write_transaction(session):
            session.add(Area(code=county.code, name="同码", level="county", path="/0/"))
    assert lost.value.code == "lost_race"
    assert session.scalar(select(func.count()).select_from(Area).where(Area.code == county.code)) == 1
    session.commit()
    with pytest.raises(IntegrityError):  # a foreign key is a bug, not a race: a 500, logged
        with write_transaction(session):
            session.add(Household(case_number="x1", village_id=2**31 - 1, head_name="无", residence="rural"))
    with pytest.raises(RuntimeError, match="end the read first"):
        session.scalar(select(func.count()).select_from(Area))
        with write_transaction(session):
            pass


def test_a_redo_orders_due_dates_move_in_batches_and_a_stopped_run_is_finished_by_the_next(session, make):
    county = make.county()
    village = make.village(make.township(county))
    far = date(2030, 1, 1)
    households = [make.household(village, next_visit_due=far) for _ in range(BATCH_SIZE * 2 + 7)]
    campaign = Campaign(name="抽查", county_id=county.id, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                        population="active_households", rate_permille=1000, error_threshold_permille=20, seed=1,
                        created_by_id=make.user("county", [county]).id)
    session.add(campaign)
    session.flush()
    session.add(VillageRedo(campaign_id=campaign.id, village_id=village.id, flagged_at=utcnow(), due_on=schedule.today(),
                            sampled=10, checked=1, errors=1, threshold_permille=20))
    session.commit()
    assert len(schedule.households_behind_redo(session, village.id)) == len(households)
    session.commit()

    # A worker that stopped after its first batch: the data says what is left.
    with write_transaction(session):
        for household in households[:BATCH_SIZE]:
            schedule.recompute_due(session, household)
    assert schedule.households_behind_redo(session, village.id) == [h.id for h in households[BATCH_SIZE:]]

    ends = []
    listener = lambda _session, transaction: ends.append(transaction) if transaction.parent is None else None  # noqa: E731
    event.listen(session(), "after_transaction_end", listener)
    try:
        assert checking.move_redo_dates(session, village.id) == BATCH_SIZE + 7
    finally:
        event.remove(session(), "after_transaction_end", listener)
    assert len(ends) == 3  # the read that found the 57 households, then a batch of 50, then one of 7
    session.expire_all()
    assert {session.get(Household, h.id).next_visit_due for h in households} == {schedule.today()}
    assert schedule.households_behind_redo(session, village.id) == []
    assert checking.move_redo_dates(session, village.id) == 0  # done: nothing more to do
