"""The audit log: each read, reveal, decision, status change and token leaves exactly one event with
who, what and where; reveals of whole ID and phone numbers only for the roles allowed and only when
asked; supervisors query their own areas' events; the database refuses to change or delete one."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from server.models import AuditEvent, Submission
from server.services import audit
from server.services.idnumbers import mask_id_number

from .builders import household_visit
from .conftest import OPENROSA, basic_auth
from .test_submission import instance_id_of, post


@pytest.fixture
def site(make, session):
    county = make.county()
    township = make.township(county)
    village, west = make.village(township, "001", "东村"), make.village(township, "002", "西村")
    other_township = make.township(county, "200", "别镇")
    make.village(other_township, "001", "远村")
    worker = make.user("caseworker", [village], password="pw-worker")
    supervisor = make.user("supervisor", [township], password="pw-sup")
    county_user = make.user("county", [county], password="pw-county")
    admin = make.user("admin", [], password="pw-admin")
    return {
        "village": village,
        "worker": worker,
        "supervisor_user": supervisor,
        "county_user": county_user,
        "token": make.token(worker),
        "caseworker": basic_auth(worker.username, "pw-worker"),
        "supervisor": basic_auth(supervisor.username, "pw-sup"),
        "county": basic_auth(county_user.username, "pw-county"),
        "admin": basic_auth(admin.username, "pw-admin"),
        "admin_user": admin,
        "far_supervisor": basic_auth(make.user("supervisor", [other_township], password="pw-far").username, "pw-far"),
        "west_caseworker": basic_auth(make.user("caseworker", [west], password="pw-west").username, "pw-west"),
        "household": make.household(village, latitude=35.0312, longitude=104.7104),
        "session": session,
    }


def events(session, **where) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query))


def only(session, **where) -> AuditEvent:
    found = events(session, **where)
    assert len(found) == 1, [(e.action, e.object_id) for e in found]
    return found[0]


def send_visit(client, site, **kwargs) -> dict:
    """Post a visit; its id and version are read from the database (a list read would be audited)."""
    xml, files = household_visit(site["household"].case_number, **kwargs)
    assert post(client, site["token"], xml, files).status_code == 201
    session = site["session"]
    session.expire_all()
    submission = session.scalar(select(Submission).where(Submission.instance_id == instance_id_of(xml)))
    return {"id": submission.id, "version": submission.row_version}


# --- recording -----------------------------------------------------------------------------------

def test_reading_a_case_is_one_event_with_who_what_and_where(client, session, site):
    number = site["household"].case_number
    body = client.get(f"/api/v1/cases/{number}", headers=site["supervisor"]).json
    event = only(session, action="case.read")
    assert (event.user_id, event.object_type, event.object_id, event.area_id) == (
        site["supervisor_user"].id, "case", number, site["village"].id)
    assert event.ip and event.at is not None and event.details == {}
    # the default stays masked, and a plain read is no reveal
    member = site["household"].members[0]
    assert body["members"][0]["id_number"] == mask_id_number(member.id_number) != member.id_number
    assert events(session, action="case.reveal_ids") == []


def test_a_refused_read_leaves_no_event(client, session, site):
    assert client.get(f"/api/v1/cases/{site['household'].case_number}", headers=site["far_supervisor"]).status_code == 404
    assert events(session) == []


def test_reading_a_submission_its_file_and_thumbnail(client, session, site):
    row = send_visit(client, site)
    assert events(session) == []  # receiving is not reading
    body = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json
    event = only(session, action="submission.read")
    assert (event.user_id, event.object_type, event.object_id, event.area_id) == (
        site["supervisor_user"].id, "submission", str(row["id"]), site["village"].id)

    photo = next(a for a in body["attachments"] if a["thumbnail_url"])
    assert client.get(photo["url"], headers=site["supervisor"]).status_code == 200
    assert client.get(photo["thumbnail_url"], headers=site["supervisor"]).status_code == 200
    reads = events(session, action="media.read")
    assert [(e.object_type, e.object_id, e.area_id, e.details["thumbnail"]) for e in reads] == [
        ("media", photo["sha256"], site["village"].id, False), ("media", photo["sha256"], site["village"].id, True)]
    assert reads[0].details["submission_id"] == row["id"] and reads[0].details["field"] == photo["field"]
    # a file out of reach: 404 and nothing recorded
    assert client.get(photo["url"], headers=site["far_supervisor"]).status_code == 404
    assert len(events(session, action="media.read")) == 2


def test_review_decisions_and_comments(client, session, site):
    row = send_visit(client, site)
    assert client.post(f"/api/v1/submissions/{row['id']}/comments", json={"text": "收入有证明吗？"},
                       headers=site["supervisor"]).status_code == 201
    assert client.post(f"/api/v1/submissions/{row['id']}/review", headers=site["supervisor"], json={
        "decision": "return", "reason": "户主照片模糊，请重拍", "version": row["version"]}).status_code == 200
    comment = only(session, action="review.comment")
    decided = only(session, action="review.decided")
    for event in (comment, decided):
        assert (event.user_id, event.object_type, event.object_id, event.area_id) == (
            site["supervisor_user"].id, "submission", str(row["id"]), site["village"].id)
    assert decided.details["decision"] == "returned"
    assert "户主照片模糊" not in str(decided.details)  # the reason stays in the review trail
    # a refused decision (stale version) leaves nothing
    assert client.post(f"/api/v1/submissions/{row['id']}/review", headers=site["county"], json={
        "decision": "approve", "version": row["version"]}).status_code == 409
    assert len(events(session, action="review.decided")) == 1


def test_approval_levels_and_status_changes(client, session, make, site):
    applicant = make.household(site["village"], status="applicant", category=None)
    path = f"/api/v1/cases/{applicant.case_number}"
    basis = make.visit(applicant, site["worker"])
    approval = client.post(f"{path}/approvals", json={"basis_submission_id": basis.id}, headers=site["caseworker"]).json["id"]
    for who, body in [("caseworker", {"level": "village", "outcome": "agree", "opinion": "属实"}),
                      ("supervisor", {"level": "township", "outcome": "agree", "opinion": "同意"}),
                      ("county", {"level": "county", "outcome": "agree", "opinion": "批准", "category": "B",
                                  "monthly_amount_fen": 42000})]:
        assert client.post(f"{path}/approvals/{approval}/levels", json=body, headers=site[who]).status_code == 201
    assert client.post(f"{path}/status", json={"status": "suspended", "reason": "circumstances_under_review"},
                       headers=site["county"]).status_code == 201

    assert only(session, action="approval.opened").object_id == applicant.case_number
    levels = events(session, action="approval.level")
    assert [(e.details["level"], e.user_id, e.object_id, e.area_id) for e in levels] == [
        ("village", site["worker"].id, applicant.case_number, site["village"].id),
        ("township", site["supervisor_user"].id, applicant.case_number, site["village"].id),
        ("county", site["county_user"].id, applicant.case_number, site["village"].id)]
    changes = events(session, action="case.status")
    assert [(e.details["from_status"], e.details["to_status"], e.details["reason"], e.user_id) for e in changes] == [
        ("applicant", "active", "approved", site["county_user"].id),
        ("active", "suspended", "circumstances_under_review", site["county_user"].id)]
    # a refused level (out of order) leaves nothing
    assert client.post(f"{path}/approvals/{approval}/levels", json={"level": "village", "outcome": "agree",
                       "opinion": "x"}, headers=site["caseworker"]).status_code == 409
    assert len(events(session, action="approval.level")) == 3


def test_tokens_issued_and_revoked(client, session, site):
    who = site["caseworker"]
    name = site["worker"].username
    phone = client.post(f"/api/v1/users/{name}/phone-token", headers=who).json
    assert client.delete(f"/api/v1/users/{name}/phone-token", headers=who).status_code == 204
    script = client.post(f"/api/v1/users/{name}/api-tokens", json={"name": "export"}, headers=who).json
    assert client.delete(f"/api/v1/users/{name}/api-tokens/{script['id']}", headers=who).status_code == 204
    found = [(e.action, e.details["kind"], e.object_type, e.object_id, e.area_id, e.user_id)
             for e in events(session) if e.action.startswith("token.")]
    assert found == [("token.issued", "phone", "user", name, None, site["worker"].id),
                     ("token.revoked", "phone", "user", name, None, site["worker"].id),
                     ("token.issued", "api", "user", name, None, site["worker"].id),
                     ("token.revoked", "api", "user", name, None, site["worker"].id)]
    for event in events(session):  # the secrets are nowhere in the log
        assert phone["token"] not in str(event.details) and script["token"] not in str(event.details)


# --- reveals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["supervisor", "county"])
def test_county_and_supervisors_may_reveal_and_it_is_audited(client, session, site, role):
    row = send_visit(client, site)
    member = site["household"].members[0]
    case = client.get(f"/api/v1/cases/{member.household.case_number}?reveal=ids", headers=site[role])
    assert case.status_code == 200 and case.json["members"][0]["id_number"] == member.id_number
    reveal = only(session, action="case.reveal_ids")
    assert (reveal.user_id, reveal.object_id, reveal.area_id) == (
        site[f"{role}_user"].id, member.household.case_number, site["village"].id)
    assert reveal.details == {"fields": ["members.id_number"], "members": 1}
    assert len(events(session, action="case.read")) == 1

    visit = client.get(f"/api/v1/submissions/{row['id']}?reveal=ids", headers=site[role]).json
    numbers = [m["id_number"] for m in visit["answers"]["members"]]
    assert all(len(n) == 18 and "*" not in n for n in numbers)
    reveal = only(session, action="submission.reveal_ids")
    assert reveal.details == {"fields": ["members/id_number"]} and reveal.object_id == str(row["id"])
    assert not any(n in str(e.details) for e in events(session) for n in numbers + [member.id_number])

    # the next plain read is masked again: a reveal holds for its own request only
    again = client.get(f"/api/v1/submissions/{row['id']}", headers=site[role]).json
    assert all("********" in m["id_number"] for m in again["answers"]["members"])
    assert len(events(session, action="submission.reveal_ids")) == 1


def test_a_new_applicants_phone_number_is_revealed_too(client, session, site):
    xml, files = household_visit(None)
    assert post(client, site["token"], xml, files).status_code == 201
    [row] = client.get("/api/v1/submissions", headers=site["caseworker"]).json
    masked = client.get(f"/api/v1/submissions/{row['id']}", headers=site["supervisor"]).json["answers"]
    assert masked["applicant"]["applicant_phone"] == "138****8000"
    whole = client.get(f"/api/v1/submissions/{row['id']}?reveal=ids", headers=site["supervisor"]).json["answers"]
    assert whole["applicant"]["applicant_phone"] == "13800138000"
    assert only(session, action="submission.reveal_ids").details["fields"] == [
        "applicant/applicant_id_number", "applicant/applicant_phone", "members/id_number"]


@pytest.mark.parametrize("role", ["caseworker", "admin"])
def test_other_roles_asking_for_a_reveal_get_403_and_nothing_is_recorded(client, session, site, role):
    row = send_visit(client, site)
    assert client.get(f"/api/v1/cases/{site['household'].case_number}?reveal=ids", headers=site[role]).status_code == 403
    assert client.get(f"/api/v1/submissions/{row['id']}?reveal=ids", headers=site[role]).status_code == 403
    assert events(session) == []


def test_a_reveal_outside_reach_is_404_and_an_unknown_reveal_400(client, session, site):
    number = site["household"].case_number
    assert client.get(f"/api/v1/cases/{number}?reveal=ids", headers=site["far_supervisor"]).status_code == 404
    assert client.get(f"/api/v1/cases/{number}?reveal=everything", headers=site["supervisor"]).status_code == 422
    assert events(session) == []


# --- the log's API -------------------------------------------------------------------------------

def test_supervisors_query_their_areas_events_newest_first(client, session, site):
    row = send_visit(client, site)
    number = site["household"].case_number
    client.get(f"/api/v1/cases/{number}", headers=site["caseworker"])
    client.get(f"/api/v1/submissions/{row['id']}?reveal=ids", headers=site["county"])
    client.post(f"/api/v1/users/{site['worker'].username}/phone-token", headers=site["caseworker"])

    response = client.get("/api/v1/audit", headers=site["supervisor"])
    assert response.status_code == 200 and "X-Pagination" in response.headers
    assert [(e["action"], e["object_id"]) for e in response.json] == [
        ("submission.reveal_ids", str(row["id"])), ("submission.read", str(row["id"])), ("case.read", number)]
    assert response.json[0]["user"] == site["county_user"].username
    assert response.json[0]["area_code"] == site["village"].code
    assert response.json[0]["details"] == {"fields": ["members/id_number"]}

    def listed(query, who="supervisor"):
        return [e["action"] for e in client.get(f"/api/v1/audit{query}", headers=site[who]).json]

    assert listed(f"?user={site['worker'].username}") == ["case.read"]
    assert listed("?action=submission") == ["submission.reveal_ids", "submission.read"]
    assert listed(f"?object_type=case&object_id={number}") == ["case.read"]
    assert listed("?since=2999-01-01T00:00:00Z") == []
    assert listed("?page=2&page_size=2") == ["case.read"]
    assert listed("", "county") == listed("")
    # another township's supervisor sees none of it; events with no area are the admin's
    assert listed("", "far_supervisor") == []
    assert listed("", "admin") == ["token.issued"]
    assert client.get("/api/v1/audit", headers=site["caseworker"]).status_code == 403


# --- append-only ---------------------------------------------------------------------------------

@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'nothing' WHERE id = :id",
                                       "DELETE FROM audit_events WHERE id = :id"])
def test_the_database_refuses_to_change_or_delete_an_event(session, site, statement):
    event = audit.record(session, site["county_user"], "case.read", "case", site["household"].case_number,
                         site["village"].id)
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text(statement), {"id": event.id})
    session.expire_all()
    assert only(session, action="case.read").id == event.id


def test_reading_the_case_file_is_audited(client, session, site):
    number = site["household"].case_number
    assert client.get(f"/api/v1/cases/{number}/file", headers=site["supervisor"]).status_code == 200
    event = only(session, action="case.read", object_id=number)
    assert event.user_id == site["supervisor_user"].id and event.area_id == site["village"].id
    assert event.details["view"] == "file"


def test_tokens_from_the_command_line_are_audited(app, session, site):
    session.commit()  # the command's own session joins the test's transaction
    runner = app.test_cli_runner()
    username = site["worker"].username
    assert runner.invoke(args=["users", "phone-token", username]).exit_code == 0
    assert runner.invoke(args=["users", "api-token", username, "nightly"]).exit_code == 0
    assert runner.invoke(args=["users", "revoke-token", username]).exit_code == 0
    session.expire_all()
    cli_events = [(e.action, e.details["kind"]) for e in events(session, object_id=username) if e.details.get("via") == "cli"]
    assert cli_events == [("token.issued", "phone"), ("token.issued", "api"), ("token.revoked", "phone")]
    assert all(e.user_id is None for e in events(session, object_id=username) if e.details.get("via") == "cli")


def test_a_record_about_no_household_belongs_to_the_smallest_area_holding_its_submitters(session, make):
    county = make.county()
    east, west = make.township(county, "101"), make.township(county, "102")
    villages = [make.village(east, "001", "东村"), make.village(east, "002", "西村"), make.village(west, "001", "南村")]

    def area_of(areas, role="caseworker"):
        return audit.area_of_submission(Submission(household=None, village_id=None, submitted_by=make.user(role, areas)))

    assert area_of(villages[:1]) == villages[0].id
    assert area_of(villages[:2]) == east.id
    assert area_of(villages) == county.id
    assert area_of([], role="admin") is None  # reaches no area


# --- list reads ------------------------------------------------------------------------------------

def test_list_reads_of_households_are_audited_with_their_filters_and_counts(client, session, make, site):
    village = site["village"]
    for _ in range(2):
        make.household(village)  # three households in 东村
    sup, who = site["supervisor"], site["supervisor_user"]
    township_id = who.areas[0].id  # the lister's reach: the events are filed under it

    def listed(action):
        event = only(session, action=action, user_id=who.id)
        assert (event.user_id, event.area_id, event.ip) == (who.id, township_id, "127.0.0.1")
        return event

    assert len(client.get(f"/api/v1/cases?village={village.code}&page_size=2", headers=sup).json) == 2
    assert listed("case.list").details == {"filters": {"village": village.code}, "page": 1, "rows": 2, "total": 3}

    rows = client.get("/api/v1/due?before=2099-01-01", headers=sup).json
    assert listed("due.list").details == {"filters": {"before": "2099-01-01"}, "page": 1, "rows": len(rows),
                                          "total": len(rows)} and len(rows) == 3
    client.get("/api/v1/due/overdue", headers=sup)
    assert listed("overdue.list").details["filters"] == {}

    visit = send_visit(client, site)
    client.get("/api/v1/submissions?form=household_visit&flagged=false", headers=sup)
    event = listed("submission.list")
    assert event.details["filters"] == {"form": "household_visit", "flagged": False}
    assert event.details["rows"] == event.details["total"]

    number = site["household"].case_number
    assert client.post(f"/api/v1/cases/{number}/approvals", json={"basis_submission_id": visit["id"]},
                       headers=site["caseworker"]).status_code == 201
    assert len(client.get(f"/api/v1/cases/{number}/approvals", headers=sup).json) == 1
    event = only(session, action="approval.list")
    assert (event.object_type, event.object_id, event.area_id, event.details) == (
        "case", number, village.id, {"filters": {}, "rows": 1})

    # A refused list leaves none; a read of the audit log itself is no list of households.
    assert client.get("/api/v1/due/overdue", headers=site["caseworker"]).status_code == 403
    assert client.get("/api/v1/audit", headers=sup).status_code == 200
    assert [e.action for e in events(session, user_id=who.id) if e.action.endswith(".list")] == [
        "case.list", "due.list", "overdue.list", "submission.list", "approval.list"]


def test_a_phones_download_of_its_household_list_is_audited(client, session, make, site):
    make.household(site["village"])
    body = client.get(f"/key/{site['token']}/forms/household_visit/media/cases.csv", headers=OPENROSA)
    assert body.status_code == 200 and body.data.count("\n".encode()) == 3  # the header and two households
    event = only(session, action="case.download")
    assert (event.user_id, event.object_type, event.object_id, event.area_id, event.details) == (
        site["worker"].id, "form", "household_visit", site["village"].id, {"filters": {}, "rows": 2})
    # The manifest only hashes the list, and a phone that has it already is answered 304: neither
    # shows it, and neither is audited.
    client.get(f"/key/{site['token']}/forms/household_visit/manifest", headers=OPENROSA)
    unchanged = client.get(f"/key/{site['token']}/forms/household_visit/media/cases.csv",
                           headers={**OPENROSA, "If-None-Match": body.headers["ETag"]})
    assert unchanged.status_code == 304
    assert len(events(session, action="case.download")) == 1
