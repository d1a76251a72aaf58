"""Reviewing visits: decisions and their order, reasons, the phone seeing a return, concurrent decisions."""
from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from server.models import Submission

from .builders import household_visit
from .conftest import OPENROSA, basic_auth
from .test_submission import instance_id_of, post


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    village, other = make.village(township, "001", "东村"), make.village(township, "002", "西村")
    worker = make.user("caseworker", [village], password="pw-worker")
    return {
        "village": village,
        "worker": worker,
        "token": make.token(worker),
        "worker_auth": basic_auth(worker.username, "pw-worker"),
        "supervisor": basic_auth(make.user("supervisor", [township], password="pw-sup").username, "pw-sup"),
        "county": basic_auth(make.user("county", [county], password="pw-county").username, "pw-county"),
        "outsider": basic_auth(make.user("supervisor", [other], password="pw-out").username, "pw-out"),
        "household": make.household(village, latitude=35.0312, longitude=104.7104),
    }


def send_visit(client, site, **kwargs):
    xml, files = household_visit(site["household"].case_number, **kwargs)
    assert post(client, site["token"], xml, files).status_code == 201
    [row] = [r for r in client.get("/api/v1/submissions", headers=site["worker_auth"]).json
             if r["instance_id"] == instance_id_of(xml)]
    return xml, row


def decide(client, auth, row, decision, reason="", version=None):
    return client.post(f"/api/v1/submissions/{row['id']}/review", headers=auth,
                       json={"decision": decision, "reason": reason, "version": version or row["version"]})


def phone_cases(client, site):
    body = client.get(f"/key/{site['token']}/forms/household_visit/media/cases.csv", headers=OPENROSA).data.decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_approve_records_who_and_when(client, site):
    _, row = send_visit(client, site)
    assert row["review_state"] == "received"
    response = decide(client, site["supervisor"], row, "approve")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["review_state"] == "approved" and body["version"] == row["version"] + 1
    assert body["reviewed_by"] and body["reviewed_at"]
    assert [(e["kind"], e["author"]) for e in body["review_events"]] == [("approved", body["reviewed_by"])]


@pytest.mark.parametrize("decision", ["return", "reject"])
def test_return_and_reject_need_a_reason(client, site, decision):
    _, row = send_visit(client, site)
    response = decide(client, site["supervisor"], row, decision, reason="  ")
    assert response.status_code == 400 and "why" in response.json["message"]


def test_a_returned_visit_reaches_the_phone_and_its_correction_is_reviewed_again(client, site, make):
    later = make.household(site["village"], next_visit_due=None)
    xml, row = send_visit(client, site)
    assert decide(client, site["supervisor"], row, "return", reason="户主照片模糊，请重拍").status_code == 200

    rows = phone_cases(client, site)
    assert rows[0]["name"] == site["household"].case_number  # to the top of the list
    assert rows[0]["return_reason"] == "户主照片模糊，请重拍" and rows[0]["label"].startswith("【退回】")
    assert next(r for r in rows if r["name"] == later.case_number)["return_reason"] == ""

    corrected, _ = household_visit(site["household"].case_number, instance_id=f"uuid:{uuid.uuid4()}",
                                   deprecated_id=instance_id_of(xml))
    assert post(client, site["token"], corrected, {}).status_code == 201
    again = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json
    assert again["review_state"] == "received" and again["review_reason"] == ""
    assert [e["kind"] for e in again["review_events"]] == ["returned", "resubmitted"]
    assert phone_cases(client, site)[0]["return_reason"] == ""
    assert decide(client, site["supervisor"], again, "approve").status_code == 200


def test_a_new_visit_after_a_return_clears_it_on_the_phone(client, site):
    _, row = send_visit(client, site)
    decide(client, site["supervisor"], row, "return", reason="缺少存折照片")
    send_visit(client, site, instance_id=f"uuid:{uuid.uuid4()}", photo_seed=5)
    assert all(r["return_reason"] == "" for r in phone_cases(client, site))


def test_who_may_decide(client, site):
    _, row = send_visit(client, site)
    assert decide(client, site["worker_auth"], row, "approve").status_code == 403
    assert decide(client, site["outsider"], row, "approve").status_code == 404
    assert decide(client, site["county"], row, "approve").status_code == 200


def test_nobody_reviews_their_own_visit(client, site, make):
    supervisor = make.user("supervisor", [site["village"]], password="pw-self")
    token = make.token(supervisor)
    xml, files = household_visit(site["household"].case_number)
    assert post(client, token, xml, files).status_code == 201
    [row] = client.get("/api/v1/submissions", headers=basic_auth(supervisor.username, "pw-self")).json
    response = decide(client, basic_auth(supervisor.username, "pw-self"), row, "approve")
    assert response.status_code == 403 and "谁调查谁签字" in response.json["message"]
    assert response.json["code"] == "own_visit"


def test_a_decided_visit_is_not_decided_again(client, site):
    _, row = send_visit(client, site)
    decide(client, site["supervisor"], row, "reject", reason="非本村户籍")
    fresh = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json
    response = decide(client, site["county"], fresh, "approve")
    assert response.status_code == 409 and "already rejected" in response.json["message"]
    assert response.json["code"] == "already_decided"


def test_two_decisions_on_the_same_version_one_wins(client, site):
    _, row = send_visit(client, site)
    first = decide(client, site["supervisor"], row, "approve")
    second = decide(client, site["county"], row, "return", reason="收入核算有误")
    assert first.status_code == 200 and second.status_code == 409
    assert second.json["code"] == "already_decided"  # the first one's decision is committed: this one sees it
    final = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json
    assert final["review_state"] == "approved" and len(final["review_events"]) == 1


def test_a_stale_version_is_refused_even_when_the_state_still_allows_it(client, session, site):
    _, row = send_visit(client, site)
    client.post(f"/api/v1/submissions/{row['id']}/comments", json={"text": "请核实"}, headers=site["county"])
    submission = session.get(Submission, row["id"])
    submission.row_version += 1  # someone's edit in between (a re-send that reset the review)
    session.flush()
    stale = decide(client, site["supervisor"], row, "approve")
    assert stale.status_code == 409
    assert stale.json["code"] == "stale_version"  # not already_decided: the visit is still as received


def test_comments_from_anyone_who_may_read_the_visit(client, site):
    _, row = send_visit(client, site)
    asked = client.post(f"/api/v1/submissions/{row['id']}/comments", json={"text": "第三个成员的收入是否有证明？"},
                        headers=site["supervisor"])
    answered = client.post(f"/api/v1/submissions/{row['id']}/comments", json={"text": "有工资单，已拍照"},
                           headers=site["worker_auth"])
    assert asked.status_code == answered.status_code == 201
    assert client.post(f"/api/v1/submissions/{row['id']}/comments", json={"text": "x"},
                       headers=site["outsider"]).status_code == 404
    events = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json["review_events"]
    assert [e["kind"] for e in events] == ["comment", "comment"]


def test_the_database_refuses_a_return_without_a_reason(session, client, site):
    _, row = send_visit(client, site)
    submission = session.get(Submission, row["id"])
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            submission.review_state = "returned"
            submission.review_reason = ""
            session.flush()


def test_review_state_filter(client, site):
    _, row = send_visit(client, site)
    decide(client, site["supervisor"], row, "approve")
    assert client.get("/api/v1/submissions?review_state=received", headers=site["supervisor"]).json == []
    assert len(client.get("/api/v1/submissions?review_state=approved", headers=site["supervisor"]).json) == 1
