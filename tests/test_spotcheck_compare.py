"""Comparing a re-visit with the original: re-visits sent from the phone (real spot_check instances
over OpenRosa) are filed under their sample items and compared item by item: agree, differ without
error, error; the income tolerance and its boundary; the county's rules; corrections; re-visits that
belong to no sample; and who may read the comparison.

The original visits (household_visit, two members: per-capita income (350 + 800) / 2 = 575 yuan)
and the re-visits (spot_check, the same members and answers unless overridden) come from
tests/builders.py; the rural standard is 700 yuan, so the original works out eligible."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from server.models import CountyRules, Household, SampleItem, Standard, SubmissionVersion, VillageRedo
from server.services import sampling, schedule, spotchecks
from server.services.spotchecks import ComparisonRules, Facts

from .builders import DEFAULT_WHEN, household_visit, spot_check
from .test_checks import HOME, version_of
from .test_submission import post

AGREEING = {"household_size", "members", "head_seen", "sight_head", "sight_certificate", "sight_passbook",
            "sight_hukou", "sight_home", "income", "category", "red_flags", "eligibility"}


@pytest.fixture
def site(client, session, make):
    """A county with two townships, one household visited in each, a campaign drawing every
    household, each assigned to its township's supervisor."""
    county = make.county()
    east, west = make.township(county, "100", "东镇"), make.township(county, "200", "西镇")
    village, far_village = make.village(east, "001", "东村"), make.village(west, "001", "西村")
    session.add(Standard(area_id=county.id, residence="rural", monthly_fen=70000, effective_from=date(2020, 1, 1)))
    household = make.household(village, latitude=HOME[0], longitude=HOME[1])
    far_household = make.household(far_village, latitude=HOME[0], longitude=HOME[1])
    worker = make.user("caseworker", [village, far_village], password="pw-worker")
    for visited in (household, far_household):
        xml, files = household_visit(visited.case_number)
        assert post(client, make.token(worker), xml, files).status_code == 201
    county_user = make.user("county", [county], password="pw-county")
    checker = make.user("supervisor", [east], password="pw-checker")
    far_checker = make.user("supervisor", [west], password="pw-far")
    campaign = new_campaign(session, county_user, county, [checker, far_checker])
    return {"county": county, "east": east, "village": village, "household": household,
            "far_household": far_household, "worker": worker, "county_user": county_user, "checker": checker,
            "checker_token": make.token(checker), "far_checker": far_checker, "campaign": campaign}


def new_campaign(session, county_user, county, checkers, name="2026 秋季抽查"):
    campaign = sampling.create_campaign(
        session, county_user, name=name, county_code=county.code, period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31), population="active_households", rate_permille=1000, seed=1)
    sampling.draw(session, campaign)
    sampling.assign(session, campaign, checkers)
    return campaign


def item_of(session, campaign, household) -> SampleItem:
    session.expire_all()
    return session.scalar(select(SampleItem).where(SampleItem.campaign_id == campaign.id,
                                                   SampleItem.household_id == household.id))


def send(client, token, xml_files):
    xml, files = xml_files
    response = post(client, token, xml, files)
    assert response.status_code == 201, response.data
    return xml


def by_item(item: SampleItem) -> dict[str, dict]:
    return {entry["item"]: entry for entry in item.comparison}


def members(spouse_wage=800, *more):
    """The spot_check's members repeat as the builders fill it for two members, the spouse's wage
    changed; `more` adds members without income."""
    rows = [
        {"member_name": "张建国", "relation": "head", "work_capacity": "partial", "income_operating_gross": 300,
         "income_operating_cost": 100, "income_self_consumed": 50, "income_wage": 0, "wage_proven": "no",
         "income_property": 0, "income_transfer": 150, "member_income": "350"},
        {"member_name": "李秀英", "relation": "spouse", "work_capacity": "full", "income_operating_gross": 0,
         "income_operating_cost": None, "income_self_consumed": 30, "income_wage": spouse_wage, "wage_proven": "no",
         "income_property": 0, "income_transfer": 0, "member_income": str(spouse_wage)},
    ]
    for name in more:
        rows.append({"member_name": name, "relation": "child", "work_capacity": "none", "income_operating_gross": 0,
                     "income_operating_cost": None, "income_self_consumed": 0, "income_wage": 0, "wage_proven": None,
                     "income_property": 0, "income_transfer": 0, "member_income": "0"})
    # By path: the builder's own `members` argument is the number of members.
    return {"/members": rows, "household_size_found": str(len(rows)), "members_present": str(len(rows)),
            "member_count": str(len(rows))}


# --- attaching and the three kinds of result -----------------------------------------------------

def test_a_re_visit_that_agrees_is_attached_and_compared(client, session, site):
    xml = send(client, site["checker_token"], spot_check(site["household"].case_number))
    item = item_of(session, site["campaign"], site["household"])
    version = version_of(session, xml)
    assert item.check_submission_id == version.submission_id
    assert item.result == "agree" and item.checked_at is not None
    compared = by_item(item)
    assert set(compared) == AGREEING
    assert all(entry["agrees"] is True and entry["error"] is False for entry in compared.values())
    assert compared["income"]["original"] == compared["income"]["check"] == "575.00"
    assert compared["members"]["original"] == ["张建国", "李秀英"]
    assert compared["eligibility"]["original"] is True and compared["category"]["check"] == "B"
    assert compared["sight_home"]["original"] == compared["sight_home"]["check"] == "photo"
    assert "spot_check_not_attached" not in {flag.code for flag in version.flags}
    # The other township's household waits for its own checker.
    assert item_of(session, site["campaign"], site["far_household"]).check_submission_id is None


def test_differences_that_change_no_decision_differ_without_error(client, session, site):
    send(client, site["checker_token"], spot_check(
        site["household"].case_number, head_seen="no", sight_certificate_seen="no", sight_certificate_photo=None,
        sight_certificate_reason="户主称低保证遗失", red_flags="luxury_goods", red_flag_notes="客厅有柜式空调"))
    item = item_of(session, site["campaign"], site["household"])
    compared = by_item(item)
    assert item.result == "differ"
    differing = {name for name, entry in compared.items() if entry["agrees"] is False}
    assert differing == {"head_seen", "sight_certificate", "red_flags"}
    assert not any(entry["error"] for entry in compared.values())
    assert compared["sight_certificate"]["original"] == "photo" and compared["sight_certificate"]["check"] == "explained"
    assert compared["red_flags"]["check"] == ["luxury_goods"]
    assert "柜式空调" in compared["red_flags"]["reason"] and "cabinet air-conditioner" in compared["red_flags"]["reason"]


def test_a_difference_in_size_and_income_makes_an_error(client, session, site):
    # A third person lives there: 3 persons, (350 + 800) / 3 = 383.33 per capita against 575.
    send(client, site["checker_token"], spot_check(site["household"].case_number, **members(800, "张小明")))
    item = item_of(session, site["campaign"], site["household"])
    compared = by_item(item)
    assert item.result == "error"
    assert compared["household_size"] == {**compared["household_size"], "original": 2, "check": 3, "agrees": False,
                                          "error": True}
    assert compared["income"]["check"] == "383.33" and compared["income"]["error"] is True
    assert compared["members"]["agrees"] is False and compared["members"]["error"] is False
    assert "张小明" in compared["members"]["reason"]


def test_a_different_eligibility_outcome_is_an_error(client, session, site):
    send(client, site["checker_token"], spot_check(
        site["household"].case_number, assessed_eligible="no", assessed_category=None, check_notes="子女有赡养能力"))
    item = item_of(session, site["campaign"], site["household"])
    compared = by_item(item)
    assert item.result == "error"
    assert compared["eligibility"] == {**compared["eligibility"], "original": True, "check": False, "error": True}
    assert compared["category"]["original"] == "B" and compared["category"]["check"] is None
    assert compared["category"]["error"] is True


def test_an_error_orders_the_village_to_redo_its_review(client, session, make, site):
    """The comparison's result goes on to the 2 % rule (services/spot_rates.py): one error of one
    checked household is over 2 %, so every household of the village is due again at once: the
    one visited today with the flag, the others by the check worker's batches after it, before
    the spot check counts as checked."""
    others = [make.household(site["village"], next_visit_due=date(2030, 1, 1)) for _ in range(3)]
    send(client, site["checker_token"], spot_check(
        site["household"].case_number, assessed_eligible="no", assessed_category=None, check_notes="子女有赡养能力"))
    session.expire_all()
    [redo] = session.scalars(select(VillageRedo).where(VillageRedo.campaign_id == site["campaign"].id)).all()
    assert (redo.village_id, redo.checked, redo.errors) == (site["village"].id, 1, 1)
    assert session.get(Household, site["household"].id).next_visit_due == redo.due_on == schedule.today()
    assert {session.get(Household, h.id).next_visit_due for h in others} == {schedule.today()}
    assert session.scalars(select(SubmissionVersion).where(SubmissionVersion.checked_at.is_(None))).all() == []


# --- the income tolerance and the county's rules -------------------------------------------------

@pytest.mark.parametrize("spouse_wage, check, agrees", [
    (915, "632.50", True),   # (350 + 915) / 2 = 632.50: 57.50 more, exactly 10 % of 575
    (916, "633.00", False),  # 58.00 more: beyond 10 %
    (685, "517.50", True),   # 57.50 less: exactly 10 %
    (684, "517.00", False),
])
def test_per_capita_income_agrees_within_ten_percent_of_the_original(client, session, site, spouse_wage, check, agrees):
    send(client, site["checker_token"], spot_check(site["household"].case_number, **members(spouse_wage)))
    item = item_of(session, site["campaign"], site["household"])
    income = by_item(item)["income"]
    assert (income["original"], income["check"], income["agrees"]) == ("575.00", check, agrees)
    assert item.result == ("agree" if agrees else "error")
    assert "10.0 %" in income["reason"]


def test_income_tolerance_is_exact_in_decimal():
    rules = ComparisonRules(income_tolerance_permille=100)
    original = Facts(source="visit", per_capita=Decimal(1150) / 3, per_capita_fen=38333)
    inside = Facts(source="check", per_capita=Decimal(1150) / 3 * Decimal("1.1"), per_capita_fen=42167)
    outside = Facts(source="check", per_capita=Decimal(1150) / 3 * Decimal("1.1") + Decimal("0.0001"), per_capita_fen=42167)
    income = {e["item"]: e for e in spotchecks.compare(original, inside, rules)}["income"]
    assert income["agrees"] is True
    income = {e["item"]: e for e in spotchecks.compare(original, outside, rules)}["income"]
    assert income["agrees"] is False and income["error"] is True
    # No income at all originally: any income found differs.
    zero = Facts(source="visit", per_capita=Decimal(0), per_capita_fen=0)
    assert spotchecks.income_agrees(Decimal(0), Decimal(0), 100) and not spotchecks.income_agrees(Decimal(0), Decimal("0.01"), 1000)
    assert {e["item"]: e for e in spotchecks.compare(zero, inside, rules)}["income"]["agrees"] is False


def test_the_countys_tolerance_and_error_items_apply(client, session, site):
    session.add(CountyRules(county_id=site["county"].id, income_tolerance_permille=200,
                            error_items=["eligibility", "head_seen"]))
    session.flush()
    send(client, site["checker_token"], spot_check(site["household"].case_number, head_seen="no",
                                                   **members(916, "张小明")))
    item = item_of(session, site["campaign"], site["household"])
    compared = by_item(item)
    # (350 + 916) / 3 = 422.00 against 575: 26.6 % less, beyond 20 %; but income is not an error item here.
    assert compared["income"]["agrees"] is False and compared["income"]["error"] is False
    assert "20.0 %" in compared["income"]["reason"]
    assert compared["household_size"]["agrees"] is False and compared["household_size"]["error"] is False
    assert compared["head_seen"]["error"] is True
    assert item.result == "error"


@pytest.mark.parametrize("from_revisit_day, head_seen_is_error", [(0, True), (1, False)])
def test_a_revisit_is_compared_by_the_rules_in_force_on_its_visit_date(client, session, site, from_revisit_day,
                                                                       head_seen_is_error):
    """Rules from the re-visit's own day apply to it; rules from the next day (today: the re-visit
    is dated yesterday) do not, though they are in force when it is compared."""
    revisit_day = DEFAULT_WHEN.date()
    session.add(CountyRules(county_id=site["county"].id, effective_from=revisit_day + timedelta(days=from_revisit_day),
                            error_items=["eligibility", "head_seen"]))
    session.flush()
    send(client, site["checker_token"], spot_check(site["household"].case_number, when=DEFAULT_WHEN, head_seen="no"))
    compared = by_item(item_of(session, site["campaign"], site["household"]))
    assert compared["head_seen"]["agrees"] is False and compared["head_seen"]["error"] is head_seen_is_error


def test_a_county_without_a_rules_row_has_the_documented_defaults(session, site):
    assert spotchecks.comparison_rules(session, site["county"].id) == ComparisonRules(
        100, ("household_size", "income", "category", "eligibility"))
    session.add(CountyRules(county_id=site["county"].id))
    session.flush()
    assert spotchecks.comparison_rules(session, site["county"].id) == ComparisonRules()


# --- corrections, re-visits that did not take place, two campaigns -------------------------------

def test_a_correction_is_compared_again(client, session, site):
    case = site["household"].case_number
    first = send(client, site["checker_token"], spot_check(case, instance_id="uuid:check-1", head_seen="no"))
    item = item_of(session, site["campaign"], site["household"])
    assert item.result == "differ"
    send(client, site["checker_token"], spot_check(case, instance_id="uuid:check-2", deprecated_id="uuid:check-1",
                                                   **members(800, "张小明")))
    item = item_of(session, site["campaign"], site["household"])
    assert item.check_submission_id == version_of(session, first).submission_id
    assert item.result == "error" and by_item(item)["head_seen"]["agrees"] is True
    assert by_item(item)["household_size"]["check"] == 3


def test_a_re_visit_that_did_not_take_place_leaves_the_household_open(client, session, site):
    case = site["household"].case_number
    send(client, site["checker_token"], spot_check(case, outcome="not_home"))
    item = item_of(session, site["campaign"], site["household"])
    assert item.check_submission_id is not None and item.result is None and item.checked_at is None
    assert [entry["item"] for entry in item.comparison] == ["outcome"]
    assert item.comparison[0]["check"] == "not_home"
    second = send(client, site["checker_token"], spot_check(case))
    item = item_of(session, site["campaign"], site["household"])
    assert item.check_submission_id == version_of(session, second).submission_id and item.result == "agree"


def test_a_household_in_two_campaigns_is_checked_in_the_newest_first(client, session, site):
    newer = new_campaign(session, site["county_user"], site["county"], [site["checker"], site["far_checker"]],
                         name="专项治理抽查")
    case = site["household"].case_number
    first = send(client, site["checker_token"], spot_check(case))
    assert item_of(session, newer, site["household"]).check_submission_id == version_of(session, first).submission_id
    assert item_of(session, site["campaign"], site["household"]).check_submission_id is None
    second = send(client, site["checker_token"], spot_check(case))
    older = item_of(session, site["campaign"], site["household"])
    assert older.check_submission_id == version_of(session, second).submission_id and older.result == "agree"


# --- re-visits that belong to no sample ----------------------------------------------------------

def test_a_re_visit_by_someone_not_assigned_is_kept_flagged_and_not_attached(client, session, make, site):
    other = make.user("supervisor", [site["east"]])
    xml = send(client, make.token(other), spot_check(site["household"].case_number))
    version = version_of(session, xml)
    assert version.submission.household_id == site["household"].id  # kept in the household's file
    [flag] = [flag for flag in version.flags if flag.code == "spot_check_not_attached"]
    assert flag.severity == "warning" and flag.figures["reason"] == "not_assigned"
    assert "未在任何已抽样的抽查活动中分配给您" in flag.message and "not assigned to you" in flag.message
    item = item_of(session, site["campaign"], site["household"])
    assert item.check_submission_id is None and item.result is None


def test_a_second_re_visit_of_a_checked_household_is_kept_but_not_compared(client, session, site):
    case = site["household"].case_number
    first = send(client, site["checker_token"], spot_check(case))
    second = send(client, site["checker_token"], spot_check(case, head_seen="no"))
    item = item_of(session, site["campaign"], site["household"])
    assert item.check_submission_id == version_of(session, first).submission_id and item.result == "agree"
    [flag] = [flag for flag in version_of(session, second).flags if flag.code == "spot_check_not_attached"]
    assert flag.figures["reason"] == "already_checked"
    assert flag.figures["checked_by_submission_ids"] == [item.check_submission_id]
    assert not [f for f in version_of(session, first).flags if f.code == "spot_check_not_attached"]


def test_the_flag_survives_the_checks_running_again_when_files_arrive(client, session, make, site):
    other = make.user("supervisor", [site["east"]])
    xml, files = spot_check(site["household"].case_number)
    photo = next(name for name in files if name.endswith(".jpg"))
    token = make.token(other)
    assert post(client, token, xml, {k: v for k, v in files.items() if k != photo}).status_code == 201
    assert post(client, token, xml, files).status_code == 201  # the checks run again on completion
    assert "spot_check_not_attached" in {flag.code for flag in version_of(session, xml).flags}


def test_a_failing_comparison_never_costs_the_re_visit(client, session, site, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the comparison")

    monkeypatch.setattr(spotchecks, "compare", broken)
    xml = send(client, site["checker_token"], spot_check(site["household"].case_number))
    version = version_of(session, xml)
    assert "spot_check_compare_failed" in {flag.code for flag in version.flags}
    assert item_of(session, site["campaign"], site["household"]).check_submission_id is None


# --- without an original visit -------------------------------------------------------------------

def test_without_a_done_original_visit_the_case_register_stands_for_it(session, make, site):
    household = make.household(site["village"], category="A")  # one registered member, never visited
    original = spotchecks.original_facts(session, household, None)
    assert (original.source, original.household_size, original.category, original.eligible) == ("register", 1, "A", True)
    check = Facts(source="check", household_size=2, members=("张建国", "李秀英"), head_seen="yes",
                  sights={s: "photo" for s in spotchecks.SIGHTS}, per_capita=Decimal(575), per_capita_fen=57500,
                  category="A", red_flags=(), eligible=True)
    compared = {e["item"]: e for e in spotchecks.compare(original, check, ComparisonRules())}
    assert compared["head_seen"]["agrees"] is None and compared["income"]["agrees"] is None
    assert compared["sight_home"]["agrees"] is None and compared["red_flags"]["agrees"] is None
    assert "case register" in compared["income"]["reason"]
    assert compared["category"]["agrees"] and compared["eligibility"]["agrees"]
    assert compared["household_size"]["error"] is True
    assert spotchecks.result_of(list(compared.values())) == "error"


def test_an_original_whose_eligibility_cannot_be_worked_out_is_not_an_error():
    original = Facts(source="visit", eligible=None, category="B")
    check = Facts(source="check", eligible=False)
    [eligibility] = [e for e in spotchecks.compare(original, check, ComparisonRules()) if e["item"] == "eligibility"]
    assert eligibility["agrees"] is None and eligibility["error"] is False and "no standard" in eligibility["reason"]
