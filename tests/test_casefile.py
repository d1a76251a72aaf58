"""The case file: one resource with members, the latest visit, books and tables, flags, photos,
eligibility, decisions and a timeline; never outside the caller's reach."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from server.models import Standard

from .builders import application, household_visit
from .conftest import basic_auth
from .test_submission import instance_id_of, post


@pytest.fixture
def site(make, session):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    worker = make.user("caseworker", [village], password="pw-cw")
    session.add(Standard(area_id=county.id, residence="rural", monthly_fen=22000, effective_from=date(2020, 1, 1)))
    session.flush()
    return {
        "token": make.token(worker),
        "worker": basic_auth(worker.username, "pw-cw"),
        "supervisor": basic_auth(make.user("supervisor", [township], password="pw-sup").username, "pw-sup"),
        "county": basic_auth(make.user("county", [county], password="pw-c").username, "pw-c"),
        "outsider": basic_auth(make.user("county", [make.county("623002", "别县")], password="pw-o").username, "pw-o"),
        "household": make.household(village, latitude=35.0312, longitude=104.7104),
    }


def test_the_case_file_has_everything_in_one_place(client, site):
    number = site["household"].case_number
    xml, files = household_visit(number)
    assert post(client, site["token"], xml, files).status_code == 201
    book, book_files = application(number)
    assert post(client, site["token"], book, book_files).status_code == 201
    [visit] = client.get(f"/api/v1/submissions?case={number}&form=household_visit", headers=site["worker"]).json
    client.post(f"/api/v1/submissions/{visit['id']}/review", headers=site["supervisor"],
                json={"decision": "return", "reason": "补拍存折", "version": visit["version"]})
    corrected, _ = household_visit(number, instance_id=f"uuid:{uuid.uuid4()}", deprecated_id=instance_id_of(xml))
    assert post(client, site["token"], corrected, {}).status_code == 201
    client.post(f"/api/v1/cases/{number}/status", headers=site["county"],
                json={"status": "suspended", "reason": "circumstances_under_review"})

    response = client.get(f"/api/v1/cases/{number}/file", headers=site["supervisor"])
    assert response.status_code == 200, response.json
    file = response.json
    assert file["case"]["case_number"] == number and file["case"]["status"] == "suspended"
    head = file["members"][0]
    assert head["id_number"].count("*") == 8  # masked
    assert file["latest_visit"]["current_instance_id"] == instance_id_of(corrected)
    assert file["latest_visit"]["review_state"] == "received"
    assert len([a for a in file["latest_visit"]["attachments"] if a["thumbnail_url"]]) >= 5  # sights, signatures
    assert file["documents"]["application"]["form_id"] == "application"
    assert file["documents"]["declaration"] is None and file["documents"]["review_approval"] is None
    assert file["eligibility"]["standard_fen"] == 22000 and file["eligibility"]["steps"]
    assert [c["status"] for c in file["status_changes"]] == ["suspended"]
    kinds = [event["kind"] for event in file["timeline"]]
    assert kinds[:2] == ["visit.received", "form.received"]
    assert kinds.index("review.returned") < kinds.index("review.resubmitted") < kinds.index("status.suspended")
    assert "visit.edited" in kinds
    times = [event["at"] for event in file["timeline"]]
    assert times == sorted(times)


def test_a_case_file_outside_reach_is_404(client, site):
    response = client.get(f"/api/v1/cases/{site['household'].case_number}/file", headers=site["outsider"])
    assert response.status_code == 404


def test_a_new_case_has_an_empty_file(client, site):
    file = client.get(f"/api/v1/cases/{site['household'].case_number}/file", headers=site["worker"]).json
    assert file["latest_visit"] is None and file["eligibility"] is None and file["timeline"] == []
    assert set(file["documents"]) == {"application", "declaration", "authorization", "household_visit",
                                      "relative_registration", "review_approval"}
