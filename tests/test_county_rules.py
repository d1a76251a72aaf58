"""A county's check thresholds and spot-check rules through the API: read (defaults when none),
changed by its county staff only, validated, audited, and used by the checks and the comparison."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import AuditEvent, CountyRules
from server.services.checks import rules_for
from server.services.spotchecks import comparison_rules

from .conftest import basic_auth


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
    return {"county": county, "village": village,
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
