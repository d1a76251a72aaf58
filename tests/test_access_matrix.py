"""Access matrix: every role, inside and outside the household's areas, on every endpoint that
shows a household's people, answers or photos. Nothing leaks: outside reach a case is 404 (not
403, so case numbers do not leak) and lists do not mention it."""
from __future__ import annotations

import pytest

from .builders import household_visit
from .conftest import basic_auth
from .test_submission import post

ROLES = ("caseworker", "supervisor", "county", "admin")


@pytest.fixture
def world(client, make):
    """Township A holds the household and its visit; township B is next door."""
    county = make.county()
    home_town, next_town = make.township(county, "100", "甲镇"), make.township(county, "200", "乙镇")
    home, neighbour = make.village(home_town, "001", "甲村"), make.village(next_town, "001", "乙村")
    other_county = make.county("623002", "别县")
    areas = {
        ("caseworker", "inside"): [home], ("caseworker", "outside"): [neighbour],
        ("supervisor", "inside"): [home_town], ("supervisor", "outside"): [next_town],
        ("county", "inside"): [county], ("county", "outside"): [other_county],
        ("admin", "inside"): [], ("admin", "outside"): [],
    }
    auth = {}
    for (role, where), reach in areas.items():
        user = make.user(role, reach, username=f"{role}-{where}", password="pw-matrix")
        auth[(role, where)] = basic_auth(user.username, "pw-matrix")
    household = make.household(home, latitude=35.0312, longitude=104.7104)
    sender = make.user("caseworker", [home], username="sender", password="pw-matrix")
    xml, files = household_visit(household.case_number)
    assert post(client, make.token(sender), xml, files).status_code == 201
    [row] = client.get("/api/v1/submissions", headers=basic_auth("sender", "pw-matrix")).json
    detail = client.get(f"/api/v1/submissions/{row['id']}", headers=basic_auth("sender", "pw-matrix")).json
    photo = next(a for a in detail["attachments"] if a["thumbnail_url"])
    return {"auth": auth, "case": household.case_number, "submission": row["id"], "photo": photo,
            "id_number": household.members[0].id_number}


def sees(role: str, where: str) -> bool:
    """Who may see the household: anyone whose areas hold its village; admins manage, they do not read cases."""
    return where == "inside" and role != "admin"


def test_nothing_leaks(client, world):
    # One world for every cell of the matrix: building a visit with its photos is the slow part.
    for role in ROLES:
        for where in ("inside", "outside"):
            check_cell(client, world, role, where)


def check_cell(client, world, role: str, where: str) -> None:
    headers = world["auth"][(role, where)]
    case, submission = world["case"], world["submission"]
    items = {
        "case": f"/api/v1/cases/{case}",
        "case file": f"/api/v1/cases/{case}/file",
        "approvals": f"/api/v1/cases/{case}/approvals",
        "status history": f"/api/v1/cases/{case}/status",
        "submission": f"/api/v1/submissions/{submission}",
        "photo": world["photo"]["url"],
        "thumbnail": world["photo"]["thumbnail_url"],
    }
    lists = {
        "cases": "/api/v1/cases",
        "submissions": "/api/v1/submissions",
        "due": "/api/v1/due?before=2100-01-01",
    }
    for name, url in items.items():
        response = client.get(url, headers=headers)
        expected = 200 if sees(role, where) else 404
        assert response.status_code == expected, (role, where, name, response.status_code)
        assert world["id_number"].encode() not in response.data, name  # masked even when seen
    for name, url in lists.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (role, where, name, response.status_code)
        assert (case in response.get_data(as_text=True)) == sees(role, where), (role, where, name)
