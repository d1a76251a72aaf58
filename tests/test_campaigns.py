"""Spot-check campaigns through the API, and the checker's phone list of assigned households."""
from __future__ import annotations

import csv
import io

from .conftest import OPENROSA, basic_auth


def test_set_up_draw_assign_and_the_checkers_phone_list(client, make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    other = make.village(make.township(county, "200", "乙镇"))
    households = [make.household(village) for _ in range(10)] + [make.household(other) for _ in range(4)]
    make.user("county", [county], username="county-sc", password="pw-county")
    checker = make.user("supervisor", [county], username="checker-sc", password="pw-check")
    make.user("caseworker", [village], username="cw-sc", password="pw-cw")
    auth = basic_auth("county-sc", "pw-county")

    created = client.post("/api/v1/campaigns", headers=auth, json={
        "name": "2026 秋季抽查", "county_code": county.code, "period_start": "2026-09-01",
        "period_end": "2026-11-30", "population": "active_households"})
    assert created.status_code == 201, created.json
    campaign = created.json
    assert campaign["seed"] and campaign["rate_permille"] == 300
    early = client.post(f"/api/v1/campaigns/{campaign['id']}/assign", headers=auth, json={"checkers": ["checker-sc"]})
    assert early.status_code == 400 and early.json["code"] == "sample_not_drawn"

    drawn = client.post(f"/api/v1/campaigns/{campaign['id']}/draw", headers=auth)
    assert drawn.status_code == 200
    assert drawn.json["progress"]["sampled"] == 3 + 2 and drawn.json["progress"]["unassigned"] == 5
    again = client.post(f"/api/v1/campaigns/{campaign['id']}/draw", headers=auth)
    assert again.status_code == 409
    assert again.json["code"] == "already_done"

    assigned = client.post(f"/api/v1/campaigns/{campaign['id']}/assign", headers=auth, json={"checkers": ["checker-sc"]})
    assert assigned.json["progress"]["by_checker"] == [{"checker": "checker-sc", "assigned": 5, "checked": 0, "unchecked": 5}]

    # The checker's spot_check list holds exactly the assignments; the caseworkers' lists are unchanged.
    token = make.token(checker)
    body = client.get(f"/key/{token}/forms/spot_check/media/cases.csv", headers=OPENROSA).data.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 5 and all(r["label"].startswith("【抽查】") for r in rows)
    assert {r["name"] for r in rows} <= {h.case_number for h in households}
    visit_list = client.get(f"/key/{token}/forms/household_visit/media/cases.csv", headers=OPENROSA).data.decode()
    assert len(visit_list.splitlines()) == 1 + 14

    assert client.get(f"/api/v1/campaigns/{campaign['id']}", headers=basic_auth("cw-sc", "pw-cw")).status_code == 404
    assert client.post("/api/v1/campaigns", headers=basic_auth("checker-sc", "pw-check"), json={
        "county_code": county.code, "period_start": "2026-09-01", "period_end": "2026-11-30",
        "population": "active_households"}).status_code == 403
