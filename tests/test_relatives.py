"""Table 2, near-relative registrations, listed separately for county staff."""
from __future__ import annotations

import uuid

from .builders import instance_xml, jpeg_with_exif
from .conftest import basic_auth
from .test_submission import post


def test_county_staff_see_the_near_relative_registrations_of_their_county(client, make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    worker = make.user("caseworker", [village])
    household = make.household(village)
    xml = instance_xml("relative_registration", {
        "case_id": household.case_number, "member_name": "王五", "official_name": "王大",
        "official_type": "village_cadre", "official_position": "村委会主任", "official_unit": "东村村委会",
        "relationship": "sibling", "paper_photo": "paper.jpg"}, instance_id=f"uuid:{uuid.uuid4()}")
    assert post(client, make.token(worker), xml, {"paper.jpg": jpeg_with_exif(None, seed=8)}).status_code == 201

    make.user("county", [county], username="county-rel", password="pw-county")
    listed = client.get("/api/v1/relatives", headers=basic_auth("county-rel", "pw-county"))
    assert listed.status_code == 200
    [entry] = listed.json
    assert entry["case_number"] == household.case_number
    assert entry["entry"]["official_name"] == "王大" and entry["entry"]["official_type"] == "village_cadre"

    make.user("supervisor", [township], username="sup-rel", password="pw-sup")
    assert client.get("/api/v1/relatives", headers=basic_auth("sup-rel", "pw-sup")).status_code == 403
    make.user("county", [make.county("623002", "别县")], username="other-rel", password="pw-other")
    assert client.get("/api/v1/relatives", headers=basic_auth("other-rel", "pw-other")).json == []
