"""Standards are data: set by county staff per area, residence and date, read by their staff."""
from __future__ import annotations

from .conftest import basic_auth


def test_county_staff_set_standards_and_everyone_below_reads_them(client, make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    make.user("county", [county], username="county-std", password="pw-county")
    make.user("caseworker", [village], username="cw-std", password="pw-cw")
    make.user("county", [make.county("623002", "别县")], username="other-std", password="pw-other")
    body = {"area_code": county.code, "residence": "rural", "monthly_fen": 22000, "effective_from": "2026-01-01"}

    assert client.post("/api/v1/standards", json=body, headers=basic_auth("cw-std", "pw-cw")).status_code == 403
    assert client.post("/api/v1/standards", json=body, headers=basic_auth("other-std", "pw-other")).status_code == 403
    assert client.post("/api/v1/standards", json=body, headers=basic_auth("cw-std", "pw-cw")).json["code"] == "forbidden"
    elsewhere = client.post("/api/v1/standards", json=body, headers=basic_auth("other-std", "pw-other"))
    assert elsewhere.json["code"] == "outside_reach"
    created = client.post("/api/v1/standards", json=body, headers=basic_auth("county-std", "pw-county"))
    assert created.status_code == 201 and created.json["monthly_fen"] == 22000
    again = client.post("/api/v1/standards", json=body, headers=basic_auth("county-std", "pw-county"))
    assert again.status_code == 409 and again.json["code"] == "duplicate"
    bad = client.post("/api/v1/standards", json={**body, "monthly_fen": 0}, headers=basic_auth("county-std", "pw-county"))
    assert bad.status_code == 422

    seen = client.get("/api/v1/standards", headers=basic_auth("cw-std", "pw-cw")).json
    assert [(s["area_code"], s["monthly_fen"]) for s in seen] == [(county.code, 22000)]
    assert client.get("/api/v1/standards", headers=basic_auth("other-std", "pw-other")).json == []
