"""Spot-check rates and the redo rule: figures and Wilson intervals worked by hand, the threshold
boundary, the redo flag and its effect on due dates (due list, the phone's cases.csv), who sees the
flags, their withdrawal, and checking progress per checker."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from server.models import AuditEvent, Household, SampleItem, VillageRedo, utcnow
from server.services import checking, sampling, schedule, spot_rates

from .builders import SHANGHAI, household_visit
from .conftest import OPENROSA, basic_auth
from .test_submission import post

FAR = date(2030, 1, 1)  # a due date well after today: moved only by a redo


@pytest.mark.parametrize("errors, checked, low, high", [
    # (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964, worked by hand:
    (1, 10, 0.0179, 0.4042),  # centre 0.29207/1.38415 = 0.21101, half 1.41600 × 0.13640 = 0.19314
    (1, 15, 0.0119, 0.2982),  # centre 0.19472/1.25610 = 0.15502, half 1.56036 × 0.09174 = 0.14315
    (0, 5, 0.0, 0.4345),  # centre = half = 0.38415/1.76829 = 0.21724
    (3, 3, 0.4385, 1.0),  # centre 1.64024/2.28049 = 0.71925, half 0.85945 × 0.32666 = 0.28075
    (1, 50, 0.0035, 0.1050),
])
def test_wilson_interval_by_hand(errors, checked, low, high):
    found = spot_rates.wilson_interval(errors, checked)
    assert found == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


def test_nothing_checked_has_no_rate_nor_interval():
    assert spot_rates.wilson_interval(0, 0) is None
    row = spot_rates.Figures(sampled=4, checked=0, errors=0).row(20)
    assert row == {"sampled": 4, "checked": 0, "unchecked": 4, "errors": 0, "error_rate": None,
                   "interval_low": None, "interval_high": None, "exceeds_threshold": False}


def test_exactly_at_the_threshold_is_not_over():
    assert not spot_rates.exceeds(1, 50, 20)  # 2 % of 50 is 1: at, not over
    assert spot_rates.exceeds(1, 49, 20)
    assert spot_rates.exceeds(2, 50, 20)
    assert not spot_rates.exceeds(0, 0, 0)  # nothing checked is never over, even at a 0 threshold
    assert spot_rates.exceeds(1, 1000, 0)


# --- a county with two townships ------------------------------------------------------------------

@pytest.fixture
def site(session, make):
    county = make.county()
    east_town, west_town = make.township(county, "100", "东镇"), make.township(county, "200", "西镇")
    a, b = make.village(east_town, "001", "甲村"), make.village(east_town, "002", "乙村")
    c = make.village(west_town, "001", "丙村")
    households = {v.code: [make.household(v, next_visit_due=FAR) for _ in range(n)] for v, n in ((a, 10), (b, 5), (c, 4))}
    county_user = make.user("county", [county], password="pw-county")
    campaign = sampling.create_campaign(session, county_user, name="全样本抽查", county_code=county.code,
                                        period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                                        population="active_households", rate_permille=1000, seed=5)
    sampling.draw(session, campaign)  # every household sampled: the figures below are exact
    return {"county": county, "east_town": east_town, "west_town": west_town, "a": a, "b": b, "c": c,
            "households": households, "county_user": county_user, "campaign": campaign}


def items_of(session, campaign, village) -> list[SampleItem]:
    return list(session.scalars(select(SampleItem).where(
        SampleItem.campaign_id == campaign.id, SampleItem.village_id == village.id).order_by(SampleItem.id)))


def due(session, household) -> date | None:
    session.expire_all()  # requests write through their own sessions
    return session.get(Household, household.id).next_visit_due


def record(session, item, result):
    """What the comparison does: store the result, then call the hook; then what the check worker
    does after its commit: move the redo order's due dates (in batches)."""
    item.result, item.checked_at = result, utcnow()
    session.flush()
    redo = spot_rates.result_recorded(session, item)
    checking.move_redo_dates(session, item.village_id)
    return redo


def test_rates_per_village_township_and_campaign(session, site):
    campaign = site["campaign"]
    campaign.error_threshold_permille = 200  # 20 %: village 甲's 10 % stays under it, no redo here
    for item, result in zip(items_of(session, campaign, site["a"]), ["error"] + ["agree"] * 6 + ["differ"] * 3):
        record(session, item, result)
    for item in items_of(session, campaign, site["b"]):
        record(session, item, "agree")
    # 丙村: nothing checked yet.

    found = spot_rates.rates(session, campaign)
    a, b, c = found["villages"]
    assert (a["village"], a["sampled"], a["checked"], a["unchecked"], a["errors"]) == ("甲村", 10, 10, 0, 1)
    assert (a["error_rate"], a["interval_low"], a["interval_high"]) == (0.1, 0.0179, 0.4042)
    assert not a["exceeds_threshold"] and not a["redo"]
    assert (b["errors"], b["checked"], b["error_rate"], b["interval_low"], b["interval_high"]) == (0, 5, 0.0, 0.0, 0.4345)
    assert (c["sampled"], c["checked"], c["error_rate"], c["interval_low"], c["interval_high"]) == (4, 0, None, None, None)

    east, west = found["townships"]
    assert (east["township"], east["sampled"], east["checked"], east["errors"]) == ("东镇", 15, 15, 1)
    assert (east["error_rate"], east["interval_low"], east["interval_high"]) == (0.0667, 0.0119, 0.2982)
    assert (west["sampled"], west["checked"], west["error_rate"]) == (4, 0, None)
    whole = found["campaign"]
    assert (whole["sampled"], whole["checked"], whole["unchecked"], whole["errors"]) == (19, 15, 4, 1)
    assert (whole["error_rate"], whole["interval_low"], whole["interval_high"]) == (0.0667, 0.0119, 0.2982)
    assert found["threshold_permille"] == 200 and whole["villages_to_redo"] == 0


def test_a_village_is_flagged_on_the_first_error_that_settles_it(session, site):
    campaign = site["campaign"]  # threshold 2 %
    items = items_of(session, campaign, site["a"])
    assert record(session, items[0], "agree") is None
    assert record(session, items[1], "differ") is None  # differences that change nothing are no error
    redo = record(session, items[2], "error")  # 1 of 10 sampled: over 2 % whatever the other 7 find
    assert redo is not None and (redo.sampled, redo.checked, redo.errors, redo.threshold_permille) == (10, 3, 1, 20)
    assert redo.due_on == schedule.today()
    assert record(session, items[3], "error").id == redo.id  # one open flag per village and campaign
    assert session.scalars(select(VillageRedo)).all() == [redo]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "redo.flagged"))
    assert event.area_id == site["a"].id and event.details["errors"] == 1 and event.user_id is None
    assert spot_rates.rates(session, campaign)["villages"][0]["redo"] is True


def test_a_large_sample_waits_until_the_rate_is_certain_and_at_the_threshold_is_not_over(session, make, site):
    village = make.village(site["west_town"], "002", "大村")
    for _ in range(50):
        make.household(village)
    campaign = sampling.create_campaign(session, site["county_user"], name="大村", county_code=site["county"].code,
                                        township_codes=[site["west_town"].code], period_start=date(2026, 1, 1),
                                        period_end=date(2026, 12, 31), population="active_households",
                                        rate_permille=1000, seed=9)
    sampling.draw(session, campaign)
    items = items_of(session, campaign, village)
    assert len(items) == 50
    assert record(session, items[0], "error") is None  # 1 of 50 may still end at exactly 2 %
    for item in items[1:]:
        assert record(session, item, "agree") is None
    row = next(r for r in spot_rates.rates(session, campaign)["villages"] if r["village"] == "大村")
    assert (row["error_rate"], row["exceeds_threshold"], row["redo"]) == (0.02, False, False)
    items[1].result = "error"  # a corrected re-visit: 2 of 50 = 4 %
    session.flush()
    assert spot_rates.result_recorded(session, items[1]) is not None


# --- the effect on due dates ----------------------------------------------------------------------

def test_a_redo_makes_the_villages_households_due_today_in_the_due_list_and_on_the_phone(client, session, make, site):
    a, b = site["a"], site["b"]
    removed = make.household(a, status="removed", next_visit_due=None)
    worker = make.user("caseworker", [site["east_town"]], password="pw-worker")
    token = make.token(worker)
    record(session, items_of(session, site["campaign"], a)[0], "error")

    today = schedule.today()
    village_a = site["households"][a.code]
    assert {session.get(Household, h.id).next_visit_due for h in village_a} == {today}
    assert session.get(Household, removed.id).next_visit_due is None  # removed households are never due
    assert {session.get(Household, h.id).next_visit_due for h in site["households"][b.code]} == {FAR}

    rows = client.get("/api/v1/due", headers=basic_auth(worker.username, "pw-worker")).json
    assert {r["case_number"] for r in rows} == {h.case_number for h in village_a}
    assert {r["due_reason"] for r in rows} == {schedule.REDO_REASON} and {r["days_overdue"] for r in rows} == {0}

    body = client.get(f"/key/{token}/forms/household_visit/media/cases.csv", headers=OPENROSA).data.decode()
    listed = list(csv.DictReader(io.StringIO(body)))
    assert [r["name"] for r in listed[:10]] == sorted(h.case_number for h in village_a)  # due first
    assert all(r["label"].startswith(schedule.REDO_LABEL) for r in listed[:10])
    assert not any(r["label"].startswith(schedule.REDO_LABEL) for r in listed[10:]) and len(listed) == 15

    # A visit made before the order does not count as the redo; one made since does.
    first, second = village_a[0], village_a[1]
    assert post(client, token, *household_visit(first.case_number)).status_code == 201  # yesterday
    assert due(session, first) == today
    since = max(datetime.now(SHANGHAI) - timedelta(minutes=15), datetime.combine(today, time(0, 12), tzinfo=SHANGHAI))
    assert post(client, token, *household_visit(second.case_number, when=since)).status_code == 201
    assert due(session, second) > today
    body = client.get(f"/key/{token}/forms/household_visit/media/cases.csv", headers=OPENROSA).data.decode()
    labels = {r["name"]: r["label"] for r in csv.DictReader(io.StringIO(body))}
    assert labels[first.case_number].startswith(schedule.REDO_LABEL)
    assert not labels[second.case_number].startswith(schedule.REDO_LABEL)


# --- who sees the flags, and withdrawing one ------------------------------------------------------

def test_flags_are_seen_by_the_township_and_the_county_only(client, session, make, site):
    campaign = site["campaign"]
    record(session, items_of(session, campaign, site["a"])[0], "error")
    record(session, items_of(session, campaign, site["c"])[0], "agree")
    east = basic_auth(make.user("supervisor", [site["east_town"]], password="pw-east").username, "pw-east")
    west = basic_auth(make.user("supervisor", [site["west_town"]], password="pw-west").username, "pw-west")
    county = basic_auth(site["county_user"].username, "pw-county")
    worker = basic_auth(make.user("caseworker", [site["a"]], password="pw-cw").username, "pw-cw")
    outsider = basic_auth(make.user("county", [make.county("623002", "别县")], password="pw-out").username, "pw-out")

    for auth in (east, county):
        flags = client.get("/api/v1/campaigns/redos", headers=auth).json
        assert [(f["village"], f["township"], f["errors"], f["is_open"]) for f in flags] == [("甲村", "东镇", 1, True)]
        detail = client.get(f"/api/v1/campaigns/{campaign.id}", headers=auth).json
        assert [f["village_code"] for f in detail["redos"]] == [site["a"].code]
    assert client.get("/api/v1/campaigns/redos", headers=west).json == []
    assert client.get(f"/api/v1/campaigns/{campaign.id}", headers=west).json["redos"] == []
    assert client.get("/api/v1/campaigns/redos", headers=outsider).json == []
    assert client.get("/api/v1/campaigns/redos", headers=worker).status_code == 403

    rates = client.get(f"/api/v1/campaigns/{campaign.id}/rates", headers=west)
    assert rates.status_code == 200
    assert [v["village"] for v in rates.json["villages"]] == ["丙村"]
    assert [t["township"] for t in rates.json["townships"]] == ["西镇"]
    assert rates.json["campaign"]["villages_to_redo"] == 1 and rates.json["campaign"]["errors"] == 1
    east_rates = client.get(f"/api/v1/campaigns/{campaign.id}/rates", headers=east).json
    assert [(v["village"], v["redo"]) for v in east_rates["villages"]] == [("甲村", True), ("乙村", False)]
    assert east_rates["townships"][0]["villages_to_redo"] == 1
    assert client.get(f"/api/v1/campaigns/{campaign.id}/rates", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign.id}/rates", headers=worker).status_code == 404


def test_county_staff_withdraw_a_flag_with_a_reason(client, session, make, site):
    campaign, a = site["campaign"], site["a"]
    visited = site["households"][a.code][0]
    worker = make.user("caseworker", [a])
    assert post(client, make.token(worker), *household_visit(visited.case_number)).status_code == 201
    by_rule = due(session, visited)
    assert schedule.today() < by_rule < FAR
    items = items_of(session, campaign, a)
    redo = record(session, items[0], "error")
    assert due(session, visited) == schedule.today()
    supervisor = basic_auth(make.user("supervisor", [site["east_town"]], password="pw-sup").username, "pw-sup")
    county = basic_auth(site["county_user"].username, "pw-county")
    url = f"/api/v1/campaigns/redos/{redo.id}/withdraw"

    assert client.post(url, json={"reason": "复核有误"}, headers=supervisor).status_code == 403
    assert client.post(url, json={"reason": "  "}, headers=county).status_code == 400
    response = client.post(url, json={"reason": "抽查人员录入有误，已更正"}, headers=county)
    assert response.status_code == 200, response.json
    assert response.json["is_open"] is False and response.json["withdrawn_reason"] == "抽查人员录入有误，已更正"
    again = client.post(url, json={"reason": "again"}, headers=county)
    assert again.status_code == 409
    assert again.json["code"] == "already_done"
    # A visited household gets its rule's date back (one never visited has no visit to count from:
    # it stays due); the withdrawal is in the audit log.
    assert due(session, visited) == by_rule
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "redo.withdrawn"))
    assert event.user_id == site["county_user"].id and event.area_id == a.id
    assert client.get("/api/v1/campaigns/redos?open=true", headers=county).json == []
    assert len(client.get("/api/v1/campaigns/redos?open=false", headers=county).json) == 1

    # Results that were known when it was withdrawn do not bring it back; a further error does.
    assert record(session, items[1], "agree") is None
    again = record(session, items[2], "error")
    assert again is not None and again.id != redo.id and again.errors == 2


# --- progress -------------------------------------------------------------------------------------

def test_progress_per_checker_and_village(client, session, make, site):
    campaign = site["campaign"]
    li = make.user("supervisor", [site["county"]], username="li-checker")
    wang = make.user("supervisor", [site["county"]], username="wang-checker")
    sampling.assign(session, campaign, [li, wang])  # 19 households in turn, village by village
    for item in session.scalars(select(SampleItem).where(SampleItem.campaign_id == campaign.id,
                                                         SampleItem.checker_id == li.id)).all()[:4]:
        record(session, item, "agree")
    record(session, items_of(session, campaign, site["c"])[-1], "differ")

    found = spot_rates.progress(session, campaign)
    assert (found["sampled"], found["checked"], found["unchecked"], found["unassigned"]) == (19, 5, 14, 0)
    by_checker = {row["checker"]: row for row in found["by_checker"]}
    assert by_checker["li-checker"]["assigned"] + by_checker["wang-checker"]["assigned"] == 19
    li_checked = 4 + (items_of(session, campaign, site["c"])[-1].checker_id == li.id)
    assert by_checker["li-checker"]["checked"] == li_checked
    assert by_checker["li-checker"]["unchecked"] == by_checker["li-checker"]["assigned"] - li_checked
    assert by_checker["wang-checker"]["unchecked"] == by_checker["wang-checker"]["assigned"] - (5 - li_checked)
    by_village = {row["village"]: row for row in found["by_village"]}
    assert by_village["丙村"] == {"village_code": site["c"].code, "village": "丙村", "sampled": 4, "assigned": 4,
                                  "checked": 1, "unchecked": 3}

    county = basic_auth(site["county_user"].username, "pw-county")
    detail = client.get(f"/api/v1/campaigns/{campaign.id}", headers=county).json
    assert detail["progress"]["by_checker"] == found["by_checker"] and detail["progress"]["unchecked"] == 14
