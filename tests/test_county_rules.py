"""A county's check thresholds and spot-check rules through the API: read (defaults when none),
changed by its county staff only, validated, audited, and used by the checks and the comparison;
dated, so a visit is checked by the rules in force on its visit date."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from server.models import AuditEvent, CountyRules, Flag
from server.services import sampling, schedule
from server.services.checks import rules_for
from server.services.spotchecks import comparison_rules

from .builders import SHANGHAI, household_visit
from .conftest import basic_auth
from .test_submission import post


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    other = make.county("623002", "别县")
    people = {
        "county": make.user("county", [county], password="pw-pass"),
        "supervisor": make.user("supervisor", [township], password="pw-pass"),
        "caseworker": make.user("caseworker", [village], password="pw-pass"),
        "other_county": make.user("county", [other], password="pw-pass"),
        "admin": make.user("admin", [], password="pw-pass"),
    }
    return {"county": county, "village": village, "users": people,
            **{f"as_{role}": basic_auth(user.username, "pw-pass") for role, user in people.items()}}


def url(site):
    return f"/api/v1/county-rules/{site['county'].code}"


def test_a_county_without_rules_shows_the_defaults(client, site):
    shown = client.get(url(site), headers=site["as_supervisor"])
    assert shown.status_code == 200
    assert shown.json == {
        "county_code": site["county"].code, "is_default": True, "location_threshold_m": 300, "max_accuracy_m": 50,
        "photo_distance_m": 500, "photo_time_slack_minutes": 30, "not_home_limit": 3, "sample_rate_permille": 300,
        "error_threshold_permille": 20, "income_tolerance_permille": 100,
        "error_items": ["household_size", "income", "category", "eligibility"],
    }


def test_county_staff_change_some_rules_and_the_checks_and_comparison_use_them(client, session, site):
    change = {"location_threshold_m": 500, "income_tolerance_permille": 50, "error_items": ["eligibility", "category"]}
    response = client.put(url(site), json=change, headers=site["as_county"])
    assert response.status_code == 200, response.json
    assert response.json["is_default"] is False and response.json["location_threshold_m"] == 500
    assert response.json["max_accuracy_m"] == 50  # what is not given stays

    session.expire_all()
    assert rules_for(session, site["village"]).location_threshold_m == 500
    rules = comparison_rules(session, site["county"].id)
    assert rules.income_tolerance_permille == 50 and rules.error_items == ("eligibility", "category")
    # A second change updates the same row and says what moved.
    client.put(url(site), json={"location_threshold_m": 400}, headers=site["as_county"])
    assert len(session.scalars(select(CountyRules)).all()) == 1
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "county_rules.changed")
                             .order_by(AuditEvent.id)).all()
    assert [e.details["changed"] for e in events] == [
        {"location_threshold_m": [300, 500], "income_tolerance_permille": [100, 50],
         "error_items": [["household_size", "income", "category", "eligibility"], ["eligibility", "category"]]},
        {"location_threshold_m": [500, 400]},
    ]


@pytest.mark.parametrize("change", [
    {"location_threshold_m": 0},
    {"sample_rate_permille": 0},
    {"error_threshold_permille": 1001},
    {"income_tolerance_permille": -1},
    {"error_items": ["household_size", "shoe_size"]},
    {"error_items": "eligibility"},
    {"not_home_limit": "three"},
    {"colour": "red"},
])
def test_nonsense_is_refused_and_changes_nothing(client, session, site, change):
    response = client.put(url(site), json=change, headers=site["as_county"])
    assert response.status_code == 422, response.json
    assert session.scalars(select(CountyRules)).all() == []


def test_who_may_read_and_change(client, site):
    change = {"not_home_limit": 4}
    assert client.get(url(site), headers=site["as_caseworker"]).status_code == 403
    assert client.put(url(site), json=change, headers=site["as_supervisor"]).status_code == 403
    assert client.get(url(site), headers=site["as_other_county"]).status_code == 404
    assert client.put(url(site), json=change, headers=site["as_other_county"]).status_code == 404
    assert client.get("/api/v1/county-rules/623001100", headers=site["as_county"]).status_code == 404  # a township
    assert client.put(url(site), json=change, headers=site["as_admin"]).status_code == 200


# --- dated rules ---------------------------------------------------------------------------------

DATED = "/api/v1/county-rules"


def add(client, site, effective_from, as_role="as_county", **rules):
    return client.post(DATED, json={"county_code": site["county"].code, "effective_from": effective_from, **rules},
                       headers=site[as_role])


def test_dated_rules_are_created_and_listed_each_carrying_over_what_it_does_not_give(client, session, site):
    first = add(client, site, "2026-03-01", location_threshold_m=200, max_accuracy_m=40)
    assert first.status_code == 201, first.json
    assert first.json["effective_from"] == "2026-03-01" and first.json["county_code"] == site["county"].code
    assert first.json["photo_distance_m"] == 500 and "is_default" not in first.json  # the rest: the defaults
    second = add(client, site, "2026-06-01", location_threshold_m=2000)
    assert second.status_code == 201, second.json
    assert second.json["max_accuracy_m"] == 40  # carried over from the rules in force the day before
    # An earlier date, added afterwards, carries over the defaults and leaves the later rules alone.
    assert add(client, site, "2026-01-01", not_home_limit=4).json["location_threshold_m"] == 300

    listed = client.get(DATED, headers=site["as_supervisor"])
    assert listed.status_code == 200
    assert [(r["effective_from"], r["location_threshold_m"], r["max_accuracy_m"], r["not_home_limit"])
            for r in listed.json] == [("2026-01-01", 300, 50, 4), ("2026-03-01", 200, 40, 3),
                                      ("2026-06-01", 2000, 40, 3)]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "county_rules.changed")
                             .order_by(AuditEvent.id)).all()
    assert [(e.details["effective_from"], e.details["changed"]) for e in events] == [
        ("2026-03-01", {"location_threshold_m": [300, 200], "max_accuracy_m": [50, 40]}),
        ("2026-06-01", {"location_threshold_m": [200, 2000]}),
        ("2026-01-01", {"not_home_limit": [3, 4]}),
    ]


def test_the_rules_in_force_before_on_and_after_a_change_date(client, session, site):
    add(client, site, "2026-03-01", location_threshold_m=200, income_tolerance_permille=50)
    add(client, site, "2026-06-01", location_threshold_m=2000, income_tolerance_permille=150)
    session.expire_all()
    county, village = site["county"], site["village"]
    assert rules_for(session, village, date(2026, 2, 28)).location_threshold_m == 300  # before the first: defaults
    assert comparison_rules(session, county.id, date(2026, 2, 28)).income_tolerance_permille == 100
    assert rules_for(session, village, date(2026, 3, 1)).location_threshold_m == 200
    assert rules_for(session, village, date(2026, 5, 31)).location_threshold_m == 200
    assert comparison_rules(session, county.id, date(2026, 5, 31)).income_tolerance_permille == 50
    assert rules_for(session, village, date(2026, 6, 1)).location_threshold_m == 2000
    assert comparison_rules(session, county.id, date(2026, 6, 1)).income_tolerance_permille == 150


@pytest.mark.parametrize("visit_day, far_from_home", [
    (date(2026, 2, 28), None),  # before the county's first rules: the default 300 m
    (date(2026, 5, 31), {"distance_m": 222, "threshold_m": 200}),
    (date(2026, 6, 1), None),  # the looser rules from that day
])
def test_a_visit_is_checked_by_the_rules_in_force_on_its_visit_date(client, session, make, site, visit_day,
                                                                    far_from_home):
    add(client, site, "2026-03-01", location_threshold_m=200)
    add(client, site, "2026-06-01", location_threshold_m=2000)
    household = make.household(site["village"], latitude=35.0312, longitude=104.7104)
    token = make.token(make.user("caseworker", [site["village"]]))
    when = datetime.combine(visit_day, time(10, 30), tzinfo=SHANGHAI)
    xml, files = household_visit(household.case_number, when=when, lat=35.0312 + 0.002)  # 222 m from home
    assert post(client, token, xml, files).status_code == 201
    session.expire_all()
    flags = {flag.code: flag.figures for flag in session.scalars(select(Flag))}
    assert flags.get("far_from_home") == far_from_home


def test_a_change_from_today_keeps_the_rules_of_earlier_days(client, session, site):
    add(client, site, "2026-03-01", location_threshold_m=200)
    assert client.put(url(site), json={"location_threshold_m": 400}, headers=site["as_county"]).status_code == 200
    session.expire_all()
    rows = session.scalars(select(CountyRules).order_by(CountyRules.effective_from)).all()
    assert [(r.effective_from, r.location_threshold_m) for r in rows] == [
        (date(2026, 3, 1), 200), (schedule.today(), 400)]
    assert client.get(url(site), headers=site["as_supervisor"]).json["location_threshold_m"] == 400


def test_a_campaign_takes_the_rates_in_force_the_day_it_is_set_up(session, site):
    session.add(CountyRules(county_id=site["county"].id, effective_from=schedule.today(), sample_rate_permille=400))
    session.add(CountyRules(county_id=site["county"].id, effective_from=date(9999, 1, 1), sample_rate_permille=900))
    session.flush()
    created = sampling.create_campaign(session, site["users"]["county"], name="抽查", county_code=site["county"].code,
                                       period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                                       population="active_households")
    assert created.rate_permille == 400


@pytest.mark.parametrize("effective_from", ["2026-13-01", "2026-02-30", "yesterday", "", None, 20260301,
                                            "1999-12-31"])
def test_a_malformed_or_implausible_date_is_refused_and_stores_nothing(client, session, site, effective_from):
    response = add(client, site, effective_from, location_threshold_m=200)
    assert response.status_code == 422, response.json
    assert "effective_from" in str(response.json)
    assert session.scalars(select(CountyRules)).all() == []


def test_a_date_is_required(client, session, site):
    response = client.post(DATED, json={"county_code": site["county"].code, "location_threshold_m": 200},
                           headers=site["as_county"])
    assert response.status_code == 422 and "effective_from" in str(response.json)
    assert session.scalars(select(CountyRules)).all() == []


def test_a_second_set_of_rules_from_the_same_date_is_refused(client, session, site, make):
    assert add(client, site, "2026-03-01", location_threshold_m=200).status_code == 201
    again = add(client, site, "2026-03-01", location_threshold_m=900)
    assert again.status_code == 409 and again.json["code"] == "duplicate", again.json
    session.expire_all()
    assert [r.location_threshold_m for r in session.scalars(select(CountyRules))] == [200]
    # Another county may have rules from that date.
    other = make.county("623003", "又一县")
    response = client.post(DATED, json={"county_code": other.code, "effective_from": "2026-03-01"},
                           headers=site["as_admin"])
    assert response.status_code == 201, response.json


def test_who_may_list_and_add_dated_rules(client, session, site):
    assert add(client, site, "2026-03-01", location_threshold_m=200).status_code == 201
    assert client.get(DATED, headers=site["as_caseworker"]).status_code == 403
    assert client.get(DATED, headers=site["as_other_county"]).json == []  # not their county
    assert len(client.get(DATED, headers=site["as_admin"]).json) == 1
    assert add(client, site, "2026-04-01", as_role="as_supervisor").status_code == 403
    assert add(client, site, "2026-04-01", as_role="as_other_county").status_code == 404
    township = {"county_code": "623001100", "effective_from": "2026-04-01"}
    assert client.post(DATED, json=township, headers=site["as_admin"]).status_code == 404
