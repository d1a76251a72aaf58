"""The spot-check comparison through the API: side by side with both photos, lists filtered by
result and checker, and only staff of the household's area see it."""
from __future__ import annotations

import re

from sqlalchemy import select

from server.models import AuditEvent

from .builders import household_visit, spot_check
from .conftest import basic_auth
from .test_spotcheck_compare import item_of, send, site  # noqa: F401 (site is a fixture)


def test_the_side_by_side_comparison_with_both_photos(client, session, site):
    send(client, site["checker_token"], spot_check(site["household"].case_number, head_seen="no"))
    item = item_of(session, site["campaign"], site["household"])
    auth = basic_auth(site["checker"].username, "pw-checker")
    response = client.get(f"/api/v1/campaigns/{site['campaign'].id}/items/{item.id}", headers=auth)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["case_number"] == site["household"].case_number and body["result"] == "differ"
    assert body["checker"] == site["checker"].username and body["original_investigator"] == site["worker"].username
    rows = {row["item"]: row for row in body["items"]}
    assert rows["head_seen"]["label_en"] == "Head of household seen" and rows["head_seen"]["agrees"] is False
    photos = rows["sight_home"]["photos"]
    assert photos["original"]["url"] != photos["check"]["url"]
    for side in ("original", "check"):
        assert client.get(photos[side]["thumbnail_url"], headers=auth).status_code == 200
        assert client.get(photos[side]["url"], headers=auth).status_code == 200
    assert rows["income"]["photos"] is None
    # No ID number of the original visit's members reaches the comparison. (The numbers themselves:
    # a shape like \d{17}[\dX] also turns up, now and then, inside a file's SHA-256 in a link.)
    original_xml, _ = household_visit(site["household"].case_number)
    id_numbers = re.findall(r"<id_number>([^<]+)</id_number>", original_xml.decode())
    assert id_numbers and not any(number in response.get_data(as_text=True) for number in id_numbers)
    session.expire_all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "spot_check.read")).all()
    assert [(e.object_type, e.object_id) for e in events] == [("sample_item", str(item.id))]


def test_the_list_filters_by_result_and_checker(client, session, site):
    send(client, site["checker_token"], spot_check(site["household"].case_number, assessed_eligible="no",
                                                   assessed_category=None, check_notes="不符合"))
    url = f"/api/v1/campaigns/{site['campaign'].id}/items"
    auth = basic_auth(site["county_user"].username, "pw-county")
    everything = client.get(url, headers=auth).json
    assert [row["case_number"] for row in everything] == [site["household"].case_number,
                                                          site["far_household"].case_number]
    assert [row["result"] for row in everything] == ["error", None]
    assert [r["case_number"] for r in client.get(f"{url}?result=error", headers=auth).json] == [site["household"].case_number]
    assert [r["case_number"] for r in client.get(f"{url}?result=unchecked", headers=auth).json] == [
        site["far_household"].case_number]
    assert client.get(f"{url}?result=agree", headers=auth).json == []
    assert [r["checker"] for r in client.get(f"{url}?checker={site['far_checker'].username}", headers=auth).json] == [
        site["far_checker"].username]
    assert client.get(f"{url}?result=wrong", headers=auth).status_code == 422


def test_only_staff_of_the_households_area_see_its_comparison(client, session, make, site):
    send(client, site["checker_token"], spot_check(site["household"].case_number))
    item = item_of(session, site["campaign"], site["household"])
    campaign_id = site["campaign"].id
    detail, items = f"/api/v1/campaigns/{campaign_id}/items/{item.id}", f"/api/v1/campaigns/{campaign_id}/items"
    far = basic_auth(site["far_checker"].username, "pw-far")
    # The other township's supervisor sees the campaign, but only the households of their township.
    assert [row["case_number"] for row in client.get(items, headers=far).json] == [site["far_household"].case_number]
    assert client.get(detail, headers=far).status_code == 404
    # A caseworker of the very village does not see campaigns at all; an administrator reaches no household.
    assert client.get(detail, headers=basic_auth(site["worker"].username, "pw-worker")).status_code == 404
    assert client.get(items, headers=basic_auth(site["worker"].username, "pw-worker")).status_code == 404
    make.user("admin", [], username="admin-sc", password="pw-admin")
    assert client.get(items, headers=basic_auth("admin-sc", "pw-admin")).json == []
    assert client.get(detail, headers=basic_auth("admin-sc", "pw-admin")).status_code == 404
    # Another county's staff do not see the campaign; an item of another campaign is not found under this one.
    other_county = make.county("623002", "乙县")
    make.user("county", [other_county], username="county-other", password="pw-other")
    assert client.get(items, headers=basic_auth("county-other", "pw-other")).status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign_id + 1000}/items/{item.id}",
                      headers=basic_auth(site["county_user"].username, "pw-county")).status_code == 404
    assert client.get(detail, headers=basic_auth(site["county_user"].username, "pw-county")).status_code == 200
