"""Table 3: village → township → county, in order, each recorded; the county decision sets the case;
status changes with reasons."""
from __future__ import annotations

import pytest

from .conftest import basic_auth


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    users = {
        "caseworker": make.user("caseworker", [village], password="pw-cw"),
        "supervisor": make.user("supervisor", [township], password="pw-sup"),
        "county": make.user("county", [county], password="pw-county"),
    }
    auth = {role: basic_auth(user.username, {"caseworker": "pw-cw", "supervisor": "pw-sup", "county": "pw-county"}[role])
            for role, user in users.items()}
    applicant = make.household(village, status="applicant", category=None)
    visit = make.visit(applicant, users["caseworker"])
    outsider = make.user("county", [make.county("623002", "别县")], password="pw-other")
    return {"auth": auth, "users": users, "applicant": applicant, "basis": {"basis_submission_id": visit.id},
            "outsider": basic_auth(outsider.username, "pw-other")}


def open_approval(client, site, who="caseworker"):
    response = client.post(f"/api/v1/cases/{site['applicant'].case_number}/approvals", json=site["basis"], headers=site["auth"][who])
    assert response.status_code == 201, response.json
    return response.json["id"]


def level(client, site, approval, who, body):
    return client.post(f"/api/v1/cases/{site['applicant'].case_number}/approvals/{approval}/levels",
                       json=body, headers=site["auth"][who])


def case(client, site):
    return client.get(f"/api/v1/cases/{site['applicant'].case_number}", headers=site["auth"]["county"]).json


def test_three_levels_in_order_and_the_county_decision_sets_the_case(client, site):
    approval = open_approval(client, site)
    assert level(client, site, approval, "caseworker", {"level": "village", "outcome": "agree",
                                                        "opinion": "经民主评议，同意上报"}).status_code == 201
    assert level(client, site, approval, "supervisor", {"level": "township", "outcome": "agree",
                                                        "opinion": "经入户核查属实，同意"}).status_code == 201
    decided = level(client, site, approval, "county", {"level": "county", "outcome": "agree", "opinion": "批准",
                                                       "category": "A", "monthly_amount_fen": 66000})
    assert decided.status_code == 201, decided.json
    record = client.get(f"/api/v1/cases/{site['applicant'].case_number}/approvals", headers=site["auth"]["caseworker"]).json
    assert record[0]["state"] == "approved"
    assert [(lv["level"], lv["by"]) for lv in record[0]["levels"]] == [
        ("village", site["users"]["caseworker"].username), ("township", site["users"]["supervisor"].username),
        ("county", site["users"]["county"].username)]
    assert all(lv["at"] for lv in record[0]["levels"])
    after = case(client, site)
    assert (after["status"], after["category"], after["monthly_amount_fen"]) == ("active", "A", 66000)
    history = client.get(f"/api/v1/cases/{site['applicant'].case_number}/status", headers=site["auth"]["county"]).json
    assert [(h["from_status"], h["status"], h["reason"]) for h in history] == [("applicant", "active", "approved")]


def test_no_level_is_skipped(client, site):
    approval = open_approval(client, site)
    skipped = level(client, site, approval, "supervisor", {"level": "township", "outcome": "agree", "opinion": "同意"})
    assert skipped.status_code == 409 and "village level comes next" in skipped.json["message"]
    assert skipped.json["code"] == "out_of_order"
    county_first = level(client, site, approval, "county", {"level": "county", "outcome": "agree", "opinion": "批准",
                                                            "category": "B", "monthly_amount_fen": 100})
    assert county_first.status_code == 409


def test_each_level_by_its_own_staff(client, site):
    approval = open_approval(client, site)
    level(client, site, approval, "caseworker", {"level": "village", "outcome": "agree", "opinion": "同意"})
    assert level(client, site, approval, "caseworker",
                 {"level": "township", "outcome": "agree", "opinion": "同意"}).status_code == 403
    level(client, site, approval, "supervisor", {"level": "township", "outcome": "agree", "opinion": "同意"})
    assert level(client, site, approval, "supervisor", {"level": "county", "outcome": "agree", "opinion": "批准",
                                                        "category": "B", "monthly_amount_fen": 1}).status_code == 403


def test_a_level_is_recorded_once(client, site):
    approval = open_approval(client, site)
    level(client, site, approval, "caseworker", {"level": "village", "outcome": "agree", "opinion": "同意"})
    again = level(client, site, approval, "supervisor", {"level": "village", "outcome": "disagree", "opinion": "不同意"})
    assert again.status_code == 409 and again.json["code"] == "out_of_order"


def test_a_refusal_is_written_and_closes_the_application(client, site):
    approval = open_approval(client, site)
    level(client, site, approval, "caseworker", {"level": "village", "outcome": "agree", "opinion": "同意"})
    level(client, site, approval, "supervisor", {"level": "township", "outcome": "disagree", "opinion": "有经营性收入"})
    empty = level(client, site, approval, "county", {"level": "county", "outcome": "disagree", "opinion": " "})
    assert empty.status_code == 400
    refused = level(client, site, approval, "county", {"level": "county", "outcome": "disagree",
                                                       "opinion": "家庭人均收入高于保障标准，不予批准"})
    assert refused.status_code == 201
    assert case(client, site)["status"] == "removed"
    history = client.get(f"/api/v1/cases/{site['applicant'].case_number}/status", headers=site["auth"]["county"]).json
    assert history[-1]["reason"] == "refused" and "不予批准" in history[-1]["note"]
    closed = level(client, site, approval, "county", {"level": "county", "outcome": "agree", "opinion": "x",
                                                      "category": "A", "monthly_amount_fen": 1})
    assert closed.status_code == 409 and closed.json["code"] == "already_decided"


def test_county_approval_needs_category_and_amount(client, site):
    approval = open_approval(client, site)
    level(client, site, approval, "caseworker", {"level": "village", "outcome": "agree", "opinion": "同意"})
    level(client, site, approval, "supervisor", {"level": "township", "outcome": "agree", "opinion": "同意"})
    response = level(client, site, approval, "county", {"level": "county", "outcome": "agree", "opinion": "批准"})
    assert response.status_code == 400 and "category" in response.json["message"]


def test_one_approval_at_a_time(client, site):
    open_approval(client, site)
    again = client.post(f"/api/v1/cases/{site['applicant'].case_number}/approvals", json=site["basis"], headers=site["auth"]["supervisor"])
    assert again.status_code == 409 and again.json["code"] == "approval_under_way"


def test_outside_reach_is_404(client, site):
    response = client.post(f"/api/v1/cases/{site['applicant'].case_number}/approvals", json=site["basis"], headers=site["outsider"])
    assert response.status_code == 404


@pytest.mark.parametrize("start, to, reason, expected", [
    ("active", "suspended", "circumstances_under_review", 201),
    ("suspended", "active", "resumed", 201),
    ("active", "removed", "death", 201),
    ("active", "removed", "not_home_three_times", 201),
    ("applicant", "active", "resumed", 409),      # only the county's approval makes an applicant active
    ("removed", "active", "resumed", 409),
    ("active", "removed", "because", 422),         # not a reason from the list
])
def test_status_changes_carry_a_reason_from_the_list(client, make, site, start, to, reason, expected):
    household = make.household(site["applicant"].village, status=start)
    response = client.post(f"/api/v1/cases/{household.case_number}/status", json={"status": to, "reason": reason},
                           headers=site["auth"]["county"])
    assert response.status_code == expected, response.json
    if expected == 409:
        assert response.json["code"] == "transition_refused"


def test_only_county_staff_change_status(client, make, site):
    household = make.household(site["applicant"].village, status="active")
    response = client.post(f"/api/v1/cases/{household.case_number}/status", json={"status": "suspended",
                           "reason": "circumstances_under_review"}, headers=site["auth"]["supervisor"])
    assert response.status_code == 403


def test_the_database_keeps_one_opinion_per_level_and_one_open_approval(session, client, site):
    from sqlalchemy.exc import IntegrityError

    from server.models import ApprovalRound, LevelOpinion

    approval_id = open_approval(client, site)
    by = site["users"]["caseworker"].id
    session.add(LevelOpinion(round_id=approval_id, level="village", outcome="agree", opinion="一", by_id=by))
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(LevelOpinion(round_id=approval_id, level="village", outcome="agree", opinion="二", by_id=by))
            session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(ApprovalRound(household_id=site["applicant"].id, opened_by_id=by))
            session.flush()


def test_removing_a_case_takes_it_off_the_due_list(client, make, site):
    from datetime import date

    household = make.household(site["applicant"].village, status="active", next_visit_due=date(2026, 12, 1))
    response = client.post(f"/api/v1/cases/{household.case_number}/status", json={"status": "removed", "reason": "death"},
                           headers=site["auth"]["county"])
    assert response.status_code == 201
    after = client.get(f"/api/v1/cases/{household.case_number}", headers=site["auth"]["county"]).json
    assert after["status"] == "removed" and after["next_visit_due"] is None
