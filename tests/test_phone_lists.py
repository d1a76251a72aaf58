"""cases.csv kept in the worker between downloads: the same bytes while nothing changed, and a new
list after any change to what its rows are made of, through whichever path the change came."""
from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import text, update

from server.extensions import db
from server.models import Area, Campaign, Household, Submission, VillageRedo, utcnow
from server.services import cases as case_service
from server.services import phone_lists, schedule
from server.services.cases import CsvFile

from .conftest import OPENROSA

CASES = "/key/{token}/forms/household_visit/media/cases.csv"
MANIFEST = "/key/{token}/forms/household_visit/manifest"


@pytest.fixture
def world(make, session):
    county = make.county()
    township = make.township(county)
    east = make.village(township, "001", "东村")
    west = make.village(township, "002", "西村")
    user = make.user("caseworker", [east])
    households = [make.household(east, next_visit_due=date(2027, 1, 1) + timedelta(days=n)) for n in range(3)]
    far = make.household(west, next_visit_due=date(2027, 6, 1))
    return {"county": county, "township": township, "east": east, "west": west, "user": user,
            "token": make.token(user), "households": households, "far": far}


def download(client, world) -> bytes:
    response = client.get(CASES.format(token=world["token"]), headers=OPENROSA)
    assert response.status_code == 200, response.data
    return response.data


def fresh(session, world) -> bytes:
    """The list built now, with no cache."""
    session.expire_all()
    return case_service.cases_csv(session, world["user"]).body


def assert_rebuilt(client, session, world, before: bytes) -> bytes:
    after = download(client, world)
    assert after == fresh(session, world)
    assert after != before
    return after


def test_an_unchanged_list_is_built_once_and_served_again(app, session, world):
    builds = []

    def build(session, user):
        builds.append(user.id)
        return case_service.cases_csv(session, user)

    made = phone_lists.cached("test", build)

    def make_list():
        with app.test_request_context():  # a request's own session, as a phone's download has
            return made(db.session, db.session.merge(world["user"]))

    first = make_list()
    again = make_list()
    assert again is first and builds == [world["user"].id]
    assert first.md5 == again.md5
    world["households"][0].head_name = "新户主"
    session.flush()
    third = make_list()
    assert third is not first and len(builds) == 2 and "新户主" in third.body.decode()


def test_the_manifest_and_the_download_agree_and_a_304_follows(client, session, world):
    from .openrosa_client import parse_manifest

    files = {f["filename"]: f for f in parse_manifest(
        client.get(MANIFEST.format(token=world["token"]), headers=OPENROSA).data)}
    response = client.get(CASES.format(token=world["token"]), headers=OPENROSA)
    assert files["cases.csv"]["hash"] == hashlib.md5(response.data).hexdigest() == response.get_etag()[0]
    unchanged = client.get(CASES.format(token=world["token"]),
                           headers={**OPENROSA, "If-None-Match": response.headers["ETag"]})
    assert unchanged.status_code == 304
    world["households"][0].address = "新地址"
    session.flush()
    changed = client.get(CASES.format(token=world["token"]),
                         headers={**OPENROSA, "If-None-Match": response.headers["ETag"]})
    assert changed.status_code == 200 and "新地址" in changed.data.decode()


@pytest.mark.parametrize("field, value", [
    ("head_name", "换了户主"), ("address", "新的门牌"), ("status", "suspended"), ("category", "A"),
    ("next_visit_due", date(2026, 1, 1)), ("latitude", 36.5), ("case_number", "623001100001999"),
])
def test_any_field_of_a_household_changes_the_list(client, session, world, field, value):
    before = download(client, world)
    household = world["households"][1]
    setattr(household, field, value)
    if field == "latitude":
        household.longitude = 105.5
    session.flush()
    assert_rebuilt(client, session, world, before)


def test_a_removed_household_leaves_and_a_new_one_comes(client, session, make, world):
    before = download(client, world)
    world["households"][0].status = "removed"
    session.flush()
    after = assert_rebuilt(client, session, world, before)
    assert world["households"][0].case_number not in after.decode()
    added = make.household(world["east"])
    assert added.case_number in assert_rebuilt(client, session, world, after).decode()


def test_a_household_moved_out_of_reach_and_into_it(client, session, world):
    before = download(client, world)
    world["households"][0].village_id = world["west"].id
    session.flush()
    after = assert_rebuilt(client, session, world, before)
    world["far"].village_id = world["east"].id
    session.flush()
    assert world["far"].case_number in assert_rebuilt(client, session, world, after).decode()


def test_a_change_made_in_sql_is_seen_too(client, session, world):
    """Not through the ORM (an import, a hand-made fix): the triggers see it all the same."""
    before = download(client, world)
    session.execute(update(Household).where(Household.id == world["households"][2].id).values(head_name="SQL改名"))
    after = assert_rebuilt(client, session, world, before)
    session.execute(text("UPDATE households SET address = 'raw' WHERE id = :id"), {"id": world["households"][2].id})
    assert_rebuilt(client, session, world, after)


def test_a_renamed_village_changes_the_list(client, session, world):
    before = download(client, world)
    world["east"].name = "东风村"
    session.flush()
    assert "东风村" in assert_rebuilt(client, session, world, before).decode()


def test_the_latest_visit_returned_its_reason_and_a_newer_visit(client, session, make, world):
    household = world["households"][2]
    visit = make.visit(household, world["user"])
    before = download(client, world)
    visit.review_state = "returned"
    visit.review_reason = "照片不清"
    session.flush()
    returned = assert_rebuilt(client, session, world, before)
    assert "照片不清" in returned.decode()
    visit.review_reason = "缺少签名"
    session.flush()
    reason = assert_rebuilt(client, session, world, returned)
    make.visit(household, world["user"])  # the visit sent again: the newer one is the latest
    assert "缺少签名" not in assert_rebuilt(client, session, world, reason).decode()


def test_a_visit_deleted_changes_which_is_latest(client, session, make, world):
    household = world["households"][0]
    older = make.visit(household, world["user"])
    older.review_state, older.review_reason = "returned", "重新入户"
    newer = make.visit(household, world["user"])
    before = download(client, world)
    session.execute(Submission.__table__.delete().where(Submission.id == newer.id))
    assert "重新入户" in assert_rebuilt(client, session, world, before).decode()


def test_a_redo_order_opened_moved_and_withdrawn(client, session, make, world):
    county = world["county"]
    campaign = Campaign(name="抽查", county_id=county.id, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                        population="active_households", rate_permille=1000, error_threshold_permille=20, seed=1,
                        created_by_id=make.user("county", [county]).id)
    session.add(campaign)
    session.flush()
    before = download(client, world)
    redo = VillageRedo(campaign_id=campaign.id, village_id=world["east"].id, flagged_at=utcnow(),
                       due_on=date(2027, 1, 2), sampled=10, checked=1, errors=1, threshold_permille=20)
    session.add(redo)
    session.flush()
    opened = assert_rebuilt(client, session, world, before)
    assert schedule.REDO_LABEL in opened.decode()
    redo.due_on = date(2027, 1, 1)
    session.flush()
    moved = assert_rebuilt(client, session, world, opened)
    redo.withdrawn_at, redo.withdrawn_by_id = utcnow(), world["user"].id
    redo.withdrawn_reason, redo.errors_at_withdrawal = "复核无误", 1
    session.flush()
    assert schedule.REDO_LABEL not in assert_rebuilt(client, session, world, moved).decode()


def test_a_new_day_builds_the_list_again(app, client, session, world, monkeypatch):
    """Nothing in the list reads the day today; a list kept across midnight is made again anyway,
    so a rule that does (a household due from today) cannot be served from yesterday's list."""
    download(client, world)
    key = ("cases.csv", phone_lists.reach_key(world["user"]))
    with app.test_request_context():
        today = phone_lists.fingerprint(db.session, db.session.merge(world["user"]))
    kept = phone_lists.cache_of(app).get(key, today)
    assert kept is not None
    monkeypatch.setattr(phone_lists, "today", lambda: schedule.today() + timedelta(days=1))
    with app.test_request_context():
        tomorrow = phone_lists.fingerprint(db.session, db.session.merge(world["user"]))
    assert tomorrow != today and phone_lists.cache_of(app).get(key, tomorrow) is None
    download(client, world)
    again = phone_lists.cache_of(app).get(key, tomorrow)
    assert again is not None and again is not kept


def test_the_callers_areas_change_the_list(client, session, make, world):
    before = download(client, world)
    user = world["user"]
    user.areas.append(world["west"])
    session.flush()
    widened = assert_rebuilt(client, session, world, before)
    assert world["far"].case_number in widened.decode()
    user.areas.remove(world["east"])
    session.flush()
    assert world["households"][0].case_number not in assert_rebuilt(client, session, world, widened).decode()


def test_a_village_moved_under_another_township_leaves_a_township_reach(client, session, make, world):
    supervisor = make.user("supervisor", [world["township"]])
    world = {**world, "user": supervisor, "token": make.token(supervisor)}
    before = download(client, world)
    other = make.township(world["county"], "200", "别镇")
    village = session.get(Area, world["west"].id)
    village.parent_id, village.path = other.id, f"{other.path}{village.id}/"
    session.flush()
    assert world["far"].case_number not in assert_rebuilt(client, session, world, before).decode()


def test_another_workers_change_reaches_this_worker(client, session, world):
    """Workers share nothing but the database: a change is seen through the counters alone."""
    before = download(client, world)
    versions = session.execute(text("SELECT version FROM list_versions WHERE area_id = :id"),
                               {"id": world["east"].id}).scalar_one()
    session.execute(text("UPDATE households SET head_name = 'x' WHERE id = :id"), {"id": world["households"][0].id})
    assert session.execute(text("SELECT version FROM list_versions WHERE area_id = :id"),
                           {"id": world["east"].id}).scalar_one() == versions + 1
    assert_rebuilt(client, session, world, before)


def test_the_cache_keeps_at_most_its_bytes_least_recently_used_first():
    kept = phone_lists.ListCache(max_bytes=10)
    kept.put("a", 1, CsvFile(b"12345", 1))
    kept.put("b", 1, CsvFile(b"12345", 1))
    assert kept.get("a", 1) is not None  # a used last
    kept.put("c", 1, CsvFile(b"123", 1))
    assert kept.get("b", 1) is None and kept.get("a", 1) is not None and kept.get("c", 1) is not None
    assert kept.get("a", 2) is None  # another fingerprint
    kept.put("d", 1, CsvFile(b"x" * 11, 1))  # larger than the whole cache: not kept
    assert kept.get("d", 1) is None and kept.get("a", 1) is not None
