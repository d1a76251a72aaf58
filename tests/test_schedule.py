"""Due visits: each frequency rule, the annual review, not at home, a county's own rules, the hook in
ingest, the due and overdue lists within reach, the rules API and the recompute command."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from server.models import Household, SubmissionVersion
from server.services import schedule
from server.services.areas import county_id_of
from server.services.visits import VisitRecord, visit_date

from .builders import DEFAULT_WHEN, household_visit
from .conftest import basic_auth
from .test_openrosa_download import cases_csv
from .test_submission import post


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    east, west = make.village(township, "001", "东村"), make.village(township, "002", "西村")
    worker = make.user("caseworker", [east], password="pw-worker")
    return {
        "county": county, "township": township, "east": east, "west": west,
        "worker": worker, "worker_auth": basic_auth(worker.username, "pw-worker"),
        "supervisor": basic_auth(make.user("supervisor", [township], password="pw-sup").username, "pw-sup"),
        "east_supervisor": basic_auth(make.user("supervisor", [east], password="pw-east").username, "pw-east"),
        "county_user": basic_auth(make.user("county", [county], password="pw-county").username, "pw-county"),
    }


def member(name="张三", capacity="full", operating=0, wage=0, wage_proven=None, transfer=0):
    return {"member_name": name, "work_capacity": capacity, "income_operating_gross": str(operating),
            "income_wage": str(wage), "wage_proven": wage_proven or "", "income_property": "0",
            "income_transfer": str(transfer)}


def visit(on: date, *members, outcome="done") -> VisitRecord:
    return VisitRecord(visit_date=on, outcome=outcome, answers={"members": list(members)})


def rule_of(session, household, done_visit=None, on=None):
    rules = schedule.rules_for(session, county_id_of(household.village), on)
    return schedule.classify(rules, household, done_visit)


# --- the rules ------------------------------------------------------------------------------------

def test_category_a_households_are_visited_yearly(session, make, site):
    household = make.household(site["east"], category="A")
    found = rule_of(session, household, visit(date(2026, 2, 10), member(capacity="none")))
    assert (found.rule, found.months) == ("yearly", 12) and "三无" in found.explanation
    assert schedule.interval_for(session, household).months == 12


def test_stable_income_every_six_months(session, make, site):
    household = make.household(site["east"], category="B")
    nobody_works = visit(date(2026, 2, 10), member(capacity="none", transfer=300), member(capacity="partial"))
    proven_wage = visit(date(2026, 2, 10), member(capacity="full", wage=1200, wage_proven="yes"),
                        member(name="李四", capacity="none"))
    for done in (nobody_works, proven_wage):
        found = rule_of(session, household, done)
        assert (found.rule, found.months) == ("stable", 6), found.explanation


@pytest.mark.parametrize("residence, rule, months", [("urban", "unstable_urban", 1), ("rural", "unstable_rural", 3)])
@pytest.mark.parametrize("members", [
    (member(capacity="full", wage=900, wage_proven="no"),),  # a wage without proof
    (member(capacity="full"), member(name="李四", capacity="none", operating=400)),  # farming income
    (member(capacity="full"),),  # able to work, earning nothing
], ids=["unproven-wage", "operating-income", "able-without-income"])
def test_unstable_income_with_members_able_to_work(session, make, site, residence, rule, months, members):
    household = make.household(site["east"], category="C", residence=residence)
    found = rule_of(session, household, visit(date(2026, 2, 10), *members))
    assert (found.rule, found.months) == (rule, months), found.explanation


def test_before_any_visit_the_roster_decides(session, make, site):
    able = make.household(site["east"], category="C", residence="urban")
    able.members[0].work_capacity = "full"
    unknown_c = make.household(site["east"], category="C")
    unable = make.household(site["east"], category="B")
    unable.members[0].work_capacity = "none"
    assert rule_of(session, able).rule == "unstable_urban"
    assert rule_of(session, unknown_c).rule == "unstable_rural"  # class C: members able to work
    assert rule_of(session, unable).rule == "stable"


def test_next_due_adds_the_interval_and_keeps_month_ends(session, make, site):
    household = make.household(site["east"], category="C", residence="urban", status="applicant")  # no annual review
    assert schedule.next_due(session, household, date(2026, 1, 31)) == date(2026, 2, 28)
    assert schedule.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


# --- the annual review ------------------------------------------------------------------------------

def test_annual_review_window(session, make, site):
    yearly = make.household(site["east"], category="A")
    # Visited in March: the August–September review has not seen it, so due by 30 September.
    assert schedule.next_due(session, yearly, date(2026, 3, 10)) == date(2026, 9, 30)
    # Visited during the review: the next review is a year on, later than the yearly visit.
    assert schedule.next_due(session, yearly, date(2026, 8, 15)) == date(2027, 8, 15)
    assert schedule.next_due(session, yearly, date(2026, 8, 1)) == date(2027, 8, 1)
    # Visited just before it opens: the review still wants it.
    assert schedule.next_due(session, yearly, date(2026, 7, 31)) == date(2026, 9, 30)
    # After the review: the next visit by the rule.
    assert schedule.next_due(session, yearly, date(2026, 10, 5)) == date(2027, 9, 30)
    # Applicants are visited by their application, not by the annual review.
    applicant = make.household(site["east"], category="A", status="applicant")
    assert schedule.next_due(session, applicant, date(2026, 3, 10)) == date(2027, 3, 10)


def test_a_window_over_the_new_year(session, make, site):
    rules = schedule.set_rules(session, site["county"], date(2000, 1, 1), review_start_month=12, review_start_day=1,
                               review_end_month=1, review_end_day=31)
    assert schedule.review_window(rules, 2026) == (date(2026, 12, 1), date(2027, 1, 31))
    household = make.household(site["east"], category="A")
    assert schedule.next_due(session, household, date(2026, 6, 1)) == date(2027, 1, 31)


# --- a county's own rules ---------------------------------------------------------------------------

def test_a_county_overrides_a_rule(session, make, site):
    household = make.household(site["east"], category="C", residence="rural")
    done = visit(date(2026, 2, 10), member(capacity="full", wage=900, wage_proven="no"))
    assert rule_of(session, household, done).months == 3
    schedule.set_rules(session, site["county"], date(2000, 1, 1), unstable_rural_months=6, annual_review=False)
    assert rule_of(session, household, done).months == 6
    # A change from a later day is not in force before it; what it does not name is carried over.
    later = schedule.set_rules(session, site["county"], date(2099, 1, 1), yearly_categories="A B")
    assert later.unstable_rural_months == 6 and later.annual_review is False
    b_household = make.household(site["east"], category="B")
    assert rule_of(session, b_household, done).rule == "unstable_rural"
    assert rule_of(session, b_household, done, on=date(2099, 1, 2)).rule == "yearly"
    # Another county keeps the defaults.
    other = make.county("623002", "别县")
    assert schedule.rules_for(session, other.id).unstable_rural_months == 3


def test_rules_refuse_nonsense(session, site):
    from server.errors import InvalidInput

    for values in ({"review_end_month": 2, "review_end_day": 30}, {"yearly_categories": "Z"},
                   {"able_to_work": "sometimes"}, {"stable_months": 0}):
        with pytest.raises(InvalidInput):
            with session.begin_nested():
                schedule.set_rules(session, site["county"], date(2026, 1, 1), **values)
    with pytest.raises(InvalidInput):
        schedule.set_rules(session, site["township"], date(2026, 1, 1), stable_months=4)


# --- through the phone: the hook in ingest ----------------------------------------------------------

def _due(session, household) -> date | None:
    session.expire_all()
    return session.get(Household, household.id).next_visit_due


def _expected_after(on: date, months: int) -> date:
    return min(schedule.add_months(on, months), schedule.next_review_window(schedule.default_rules(), on)[1])


def test_a_visit_from_the_phone_moves_the_due_date_and_the_phone_list(client, session, make, site):
    token = make.token(site["worker"])
    visited_on = DEFAULT_WHEN.date()
    expected = _expected_after(visited_on, 3)  # the builder's family: a spouse able to work, wage unproven
    household = make.household(site["east"], category="B", residence="rural", next_visit_due=visited_on - timedelta(days=30))
    sooner = make.household(site["east"], next_visit_due=expected - timedelta(days=1))
    later = make.household(site["east"], next_visit_due=expected + timedelta(days=1))

    def order():
        _, response = cases_csv(client, token)
        names = [row["name"] for row in csv.DictReader(io.StringIO(response.data.decode()))]
        return [n for n in names if n in (household.case_number, sooner.case_number, later.case_number)]

    assert order() == [household.case_number, sooner.case_number, later.case_number]
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    assert _due(session, household) == expected
    assert order() == [sooner.case_number, household.case_number, later.case_number]



def test_a_visit_dated_off_the_calendar_still_moves_the_due_date(client, session, make, site):
    # 9999-12-31 (no phone sends it; a hand-made upload can) made the next due date run past the
    # calendar: the error was logged and the household kept no due date. The day started counts.
    token = make.token(site["worker"])
    household = make.household(site["east"], category="B", residence="rural")
    xml, files = household_visit(household.case_number)
    xml = re.sub(rb"<visit_date>[^<]*</visit_date>", b"<visit_date>9999-12-31</visit_date>", xml)
    assert post(client, token, xml, files).status_code == 201
    assert _due(session, household) == _expected_after(DEFAULT_WHEN.date(), 3)


def test_not_at_home_keeps_the_household_due(client, session, make, site):
    token = make.token(site["worker"])
    household = make.household(site["east"], category="B", residence="urban")
    long_ago = DEFAULT_WHEN - timedelta(days=200)
    xml, files = household_visit(household.case_number, when=long_ago, members=1)  # stable: six months
    assert post(client, token, xml, files).status_code == 201
    assert _due(session, household) == _expected_after(long_ago.date(), 6)
    assert _due(session, household) < DEFAULT_WHEN.date()  # overdue by now

    xml, files = household_visit(household.case_number, outcome="not_home")
    assert post(client, token, xml, files).status_code == 201
    assert _due(session, household) == DEFAULT_WHEN.date() + timedelta(days=7)

    schedule.set_rules(session, site["county"], date(2000, 1, 1), not_home_retry_days=3)
    schedule.recompute_due(session, session.get(Household, household.id))
    assert _due(session, household) == DEFAULT_WHEN.date() + timedelta(days=3)


def test_a_failed_attempt_before_the_due_date_changes_nothing(session, make, site, client):
    token = make.token(site["worker"])
    household = make.household(site["east"], category="A", status="applicant")  # yearly, no annual review
    first = DEFAULT_WHEN - timedelta(days=40)
    assert post(client, token, *household_visit(household.case_number, when=first)).status_code == 201
    assert post(client, token, *household_visit(household.case_number, outcome="not_home")).status_code == 201
    assert _due(session, household) == schedule.add_months(first.date(), 12)


def test_applicants_without_a_visit_are_due_now_and_removed_never(session, make, site):
    applicant = make.household(site["east"], status="applicant", next_visit_due=None)
    assert schedule.recompute_due(session, applicant) == schedule.today()
    never = make.household(site["east"], next_visit_due=None)
    assert schedule.recompute_due(session, never) is None  # never visited: the top of the due list
    from_roster = make.household(site["east"], next_visit_due=date(2026, 12, 1))
    assert schedule.recompute_due(session, from_roster) == date(2026, 12, 1)
    removed = make.household(site["east"], status="removed", next_visit_due=date(2026, 12, 1))
    assert schedule.recompute_due(session, removed) is None


# --- the lists --------------------------------------------------------------------------------------

def test_the_due_list_is_the_callers_most_urgent_first(client, make, site):
    today = schedule.today()
    overdue = make.household(site["east"], next_visit_due=today - timedelta(days=3))
    never = make.household(site["east"], next_visit_due=None)
    soon = make.household(site["east"], next_visit_due=today + timedelta(days=20))
    far = make.household(site["east"], next_visit_due=today + timedelta(days=90))
    make.household(site["east"], status="removed", next_visit_due=today)
    elsewhere = make.household(site["west"], next_visit_due=today - timedelta(days=50))

    response = client.get("/api/v1/due", headers=site["worker_auth"])
    assert response.status_code == 200, response.json
    rows = response.json
    assert [r["case_number"] for r in rows] == [never.case_number, overdue.case_number, soon.case_number]
    assert [r["days_overdue"] for r in rows] == [None, 3, 0]
    assert rows[2]["next_visit_due"] == soon.next_visit_due.isoformat()

    later = client.get(f"/api/v1/due?before={(today + timedelta(days=100)).isoformat()}", headers=site["worker_auth"]).json
    assert far.case_number in [r["case_number"] for r in later]
    assert elsewhere.case_number not in [r["case_number"] for r in later]

    paged = client.get("/api/v1/due?page=2&page_size=2", headers=site["worker_auth"])
    assert [r["case_number"] for r in paged.json] == [soon.case_number]
    assert '"total": 3' in paged.headers["X-Pagination"]
    assert client.get("/api/v1/due?before=soon", headers=site["worker_auth"]).status_code == 422


def test_the_overdue_list_is_for_supervisors_within_their_areas(client, make, site):
    today = schedule.today()
    east_late = make.household(site["east"], next_visit_due=today - timedelta(days=10))
    east_later = make.household(site["east"], next_visit_due=today - timedelta(days=40))
    make.household(site["east"], next_visit_due=today)  # due today: not overdue yet
    west_late = make.household(site["west"], next_visit_due=today - timedelta(days=5))

    assert client.get("/api/v1/due/overdue", headers=site["worker_auth"]).status_code == 403
    rows = client.get("/api/v1/due/overdue", headers=site["supervisor"]).json
    assert [(r["case_number"], r["days_overdue"], r["village"]) for r in rows] == [
        (east_later.case_number, 40, "东村"), (east_late.case_number, 10, "东村"), (west_late.case_number, 5, "西村")]
    assert rows[0]["village_code"] == site["east"].code and rows[0]["township"] == "测试镇"

    east_only = client.get("/api/v1/due/overdue", headers=site["east_supervisor"]).json
    assert west_late.case_number not in [r["case_number"] for r in east_only] and len(east_only) == 2
    by_village = client.get(f"/api/v1/due/overdue?village={site['west'].code}", headers=site["county_user"]).json
    assert [r["case_number"] for r in by_village] == [west_late.case_number]
    other = client.get(f"/api/v1/due/overdue?village={site['west'].code}", headers=site["east_supervisor"]).json
    assert other == []


def test_rules_api(client, make, site):
    code = site["county"].code
    shown = client.get(f"/api/v1/due/rules/{code}", headers=site["worker_auth"]).json
    assert shown["is_default"] and shown["unstable_urban_months"] == 1 and shown["review_start_month"] == 8

    change = {"unstable_urban_months": 2, "effective_from": "2000-01-01"}
    assert client.post(f"/api/v1/due/rules/{code}", json=change, headers=site["supervisor"]).status_code == 403
    response = client.post(f"/api/v1/due/rules/{code}", json=change, headers=site["county_user"])
    assert response.status_code == 201, response.json
    assert response.json["unstable_urban_months"] == 2 and response.json["stable_months"] == 6
    assert client.get(f"/api/v1/due/rules/{code}", headers=site["worker_auth"]).json["unstable_urban_months"] == 2

    outsider = make.user("county", [make.county("623002", "别县")], password="pw-out")
    assert client.get(f"/api/v1/due/rules/{code}", headers=basic_auth(outsider.username, "pw-out")).status_code == 404


def test_recompute_command_after_a_rule_change(app, session, make, site, client):
    token = make.token(site["worker"])
    household = make.household(site["east"], category="C", residence="rural")
    assert post(client, token, *household_visit(household.case_number)).status_code == 201
    visited_on = DEFAULT_WHEN.date()
    assert _due(session, household) == _expected_after(visited_on, 3)
    schedule.set_rules(session, site["county"], date(2000, 1, 1), unstable_rural_months=1, annual_review=False)

    result = app.test_cli_runner().invoke(args=["households", "recompute-due", "--county", site["county"].code])
    assert result.exit_code == 0, result.output
    assert "changed" in result.output
    assert _due(session, household) == schedule.add_months(visited_on, 1)
    unknown = app.test_cli_runner().invoke(args=["households", "recompute-due", "--county", "999999"])
    assert unknown.exit_code != 0


def test_a_visits_day_is_its_answer_else_the_local_day_it_was_started_else_received():
    # 17:30 UTC on the 22nd is 01:30 on the 23rd in the county: the caseworker's day is the 23rd.
    started = datetime(2026, 11, 22, 17, 30, tzinfo=timezone.utc)
    received = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    version = SubmissionVersion(started_at=started, received_at=received)
    assert visit_date({"visit_date": "2026-11-20"}, version) == date(2026, 11, 20)
    assert visit_date({}, version) == date(2026, 11, 23)
    assert visit_date({"visit_date": "not a date"}, version) == date(2026, 11, 23)
    unstarted = SubmissionVersion(started_at=None, received_at=datetime(2026, 11, 24, 16, 10, tzinfo=timezone.utc))
    assert visit_date({}, unstarted) == date(2026, 11, 25)
    # A correction sent later keeps the day of the submission's first receipt.
    assert visit_date({}, unstarted, received=received) == date(2026, 11, 24)


def test_a_visit_dated_after_it_arrived_takes_the_day_it_was_started_or_received():
    # The form refuses a future date; only a wrong clock or a hand-made upload sends one, and it
    # would put the household's next visit off by as much (9999-12-31: past the calendar's end).
    started = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)
    version = SubmissionVersion(started_at=started, received_at=datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc))
    assert visit_date({"visit_date": "2026-11-24"}, version) == date(2026, 11, 24)
    for answer in ("2026-11-25", "2031-01-01", "9999-12-31", "0001-01-01"):
        assert visit_date({"visit_date": answer}, version) == date(2026, 11, 22)
    clock_ahead = SubmissionVersion(started_at=datetime(2027, 3, 1, 2, 0, tzinfo=timezone.utc),
                                    received_at=version.received_at)
    assert visit_date({"visit_date": "2027-03-01"}, clock_ahead) == date(2026, 11, 24)
