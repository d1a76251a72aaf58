"""Eligibility and the monthly amount (services/eligibility.py), each example worked by hand in its comments.

The service is called directly with answer dicts shaped as the household_visit form sends them
(monthly yuan as decimal strings); one test goes through the phone protocol to show the income
flag at receipt counts income the same way.
"""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from server.models import AssistanceRules, Standard, SubmissionVersion
from server.services.eligibility import answer_fen, compute, uplifted_fen
from server.services.visits import record_of

from .builders import SHANGHAI, household_visit
from .conftest import OPENROSA
from .openrosa_client import parse_openrosa_response

ON = date(2026, 6, 15)


@pytest.fixture
def area(make):
    county = make.county()
    township = make.township(county)
    return {"county": county, "township": township, "village": make.village(township, "001", "东村")}


@pytest.fixture
def household(make, area):
    return make.household(area["village"])  # rural


def standard(session, area, yuan: str, since: date, residence: str = "rural") -> Standard:
    row = Standard(area_id=area.id, residence=residence, monthly_fen=int(Decimal(yuan) * 100), effective_from=since)
    session.add(row)
    session.flush()
    return row


def rules(session, county, since: date = date(2020, 1, 1), **values) -> AssistanceRules:
    row = AssistanceRules(county_id=county.id, effective_from=since, **values)
    session.add(row)
    session.flush()
    return row


def member(name="张建国", *, capacity="full", born="1970-01-01", disability="none", health="healthy",
           gross="0", cost=None, self_consumed="0", wage="0", proven="no", prop="0", transfer="0") -> dict:
    return {
        "member_name": name, "relation": "head", "birth_date": born, "disability_grade": disability,
        "work_capacity": capacity, "health": health, "is_student": "no",
        "income_operating_gross": gross, "income_operating_cost": cost, "income_self_consumed": self_consumed,
        "income_wage": wage, "wage_proven": proven, "income_property": prop, "income_transfer": transfer,
    }


def visit(*members: dict, red_flags: str = "none", **property_answers) -> dict:
    answers = {"visit_date": ON.isoformat(), "outcome": "done", "members": list(members), "red_flags": red_flags,
               "vehicle": "none", "owns_commercial_housing": "no", "built_large_house": "no",
               "business_registered": "no", "luxury_goods": "none"}
    return answers | property_answers


# A plain household used by several tests: head operating 300 - 100 = 200 plus transfer 100 = 300;
# spouse a proven wage of 500. 800 yuan for 2 persons: 400.00 per person.
def plain() -> dict:
    return visit(member("张建国", capacity="partial", gross="300", cost="100", transfer="100"),
                 member("李秀英", wage="500", proven="yes"))


def test_a_plain_difference_subsidy(session, area, household):
    # Standard 420: (420 - 400) x 2 persons = 40.00 yuan a month; nobody in a supplement group.
    standard(session, area["county"], "420", date(2025, 1, 1))
    result = compute(session, household, plain(), ON)
    assert [m.total_fen for m in result.members] == [30000, 50000]
    assert result.household_income_fen == 80000
    assert result.covered_persons == 2
    assert result.per_capita_fen == 40000
    assert result.standard_fen == result.applied_standard_fen == 42000
    assert result.uplift_percent == 0
    assert result.difference_subsidy_fen == 4000
    assert result.supplements_fen == 0
    assert result.monthly_amount_fen == 4000
    assert result.eligible is True
    assert [r.code for r in result.reasons] == ["income_below_standard"]
    assert not result.income_above_standard
    # The steps a supervisor reads, in order, ending with the amount.
    labels = [s.label_en for s in result.steps]
    assert labels[-1] == "Monthly amount" and result.steps[-1].value == "40.00"
    assert labels.index("Household monthly income") < labels.index("Difference subsidy = (standard − per capita) × covered persons")
    assert {"label_zh", "label_en", "value", "unit"} <= set(vars(result.steps[0]))
    assert next(s for s in result.steps if s.label_en == "Covered persons (co-resident members)").value == "2"


def test_bottom_line_households_get_the_standard_plus_ten_percent(session, area, household):
    # 420 x 110 % = 462.00; (462 - 400) x 2 = 124.00 yuan, against 40.00 without the uplift.
    standard(session, area["county"], "420", date(2025, 1, 1))
    result = compute(session, household, plain(), ON, bottom_line=True)
    assert result.uplift_percent == 10
    assert result.standard_fen == 42000 and result.applied_standard_fen == 46200
    assert result.difference_subsidy_fen == 12400 and result.monthly_amount_fen == 12400
    assert any(s.label_en == "Bottom-line poverty uplift" and s.value == "10" for s in result.steps)
    # The uplift can make a household eligible: 430 per person is above 420 but below 462;
    # (462 - 430) x 2 = 64.00. The income flag compares with the plain standard: still above it.
    richer = visit(member(capacity="partial", gross="300", cost="100", transfer="100"), member(wage="560", proven="yes"))
    assert compute(session, household, richer, ON).eligible is False
    lifted = compute(session, household, richer, ON, bottom_line=True)
    assert lifted.eligible and lifted.difference_subsidy_fen == 6400 and lifted.income_above_standard


def test_the_county_sets_the_uplift(session, area, household):
    # 15 % from July: 420 x 115 % = 483.00 -> (483 - 400) x 2 = 166.00; June still has the default 10 %.
    standard(session, area["county"], "420", date(2025, 1, 1))
    rules(session, area["county"], date(2026, 7, 1), bottom_line_uplift_percent=15)
    assert compute(session, household, plain(), ON, bottom_line=True).difference_subsidy_fen == 12400
    july = compute(session, household, plain(), date(2026, 7, 1), bottom_line=True)
    assert july.applied_standard_fen == 48300 and july.difference_subsidy_fen == 16600


def test_self_consumed_produce_is_not_income(session, area, household):
    # The head eats 250 yuan of his own produce a month: recorded, neither added nor subtracted.
    # Operating stays 300 - 100 = 200; the household 800; the subsidy 40.00 as in the plain case.
    standard(session, area["county"], "420", date(2025, 1, 1))
    answers = plain()
    answers["members"][0]["income_self_consumed"] = "250"
    result = compute(session, household, answers, ON)
    head = result.members[0]
    assert head.self_consumed_fen == 25000 and head.operating_fen == 20000 and head.total_fen == 30000
    assert result.household_income_fen == 80000 and result.monthly_amount_fen == 4000
    assert "self-consumed 250.00 not counted" in result.steps[0].label_en


def test_an_unproven_wage_counts_at_least_the_minimum_wage(session, area, household):
    # Minimum wage 1,620 yuan. Spouse, fully able to work, states 800 without proof -> 1,620.
    # Head, partly able, states 300 without proof -> 300 as stated (the minimum wage assumes a full job).
    # Household 1,920 / 2 = 960.00 per person: above 420, not eligible.
    standard(session, area["county"], "420", date(2025, 1, 1))
    rules(session, area["county"], minimum_wage_fen=162000)
    answers = visit(member("张建国", capacity="partial", wage="300"), member("李秀英", capacity="full", wage="800"))
    result = compute(session, household, answers, ON)
    head, spouse = result.members
    assert (head.wage_stated_fen, head.wage_fen, head.wage_rule) == (30000, 30000, "stated")
    assert (spouse.wage_stated_fen, spouse.wage_fen, spouse.wage_rule) == (80000, 162000, "minimum_wage")
    assert result.household_income_fen == 192000 and result.per_capita_fen == 96000
    assert result.eligible is False and result.monthly_amount_fen == 0
    assert [r.code for r in result.reasons] == ["income_not_below_standard"]
    assert "counted at the minimum wage" in next(s.label_en for s in result.steps if s.label_en.startswith("Member 2") and "wages" in s.label_en)

    # Proven: as stated. Stated above the minimum without proof: the declaration stands (2,000).
    # No wage declared at all: nothing imputed (able-bodied and not working is a red flag, not a figure).
    for wage, proven, counted, rule in (("800", "yes", 80000, "proven"), ("2000", "no", 200000, "stated"),
                                        ("0", "no", 0, "stated")):
        again = compute(session, household, visit(member(capacity="full", wage=wage, proven=proven)), ON)
        assert (again.members[0].wage_fen, again.members[0].wage_rule) == (counted, rule)


def test_without_a_minimum_wage_the_stated_wage_counts(session, area, household):
    # The seeds give no figure, so by default there is none: 800 unproven counts as 800.
    result = compute(session, household, visit(member(capacity="full", wage="800")), ON)
    assert result.rules.minimum_wage_fen is None
    assert (result.members[0].wage_fen, result.members[0].wage_rule) == (80000, "stated")


def test_an_operating_loss_counts_as_nothing_and_does_not_cancel_wages(session, area, household):
    # Head: gross 200, costs 500 -> operating 0 (a loss of 300 shown, not set against the wage).
    # Spouse: proven wage 600. Household 600 / 2 = 300.00; (420 - 300) x 2 = 240.00 yuan.
    standard(session, area["county"], "420", date(2025, 1, 1))
    answers = visit(member(capacity="partial", gross="200", cost="500"), member(wage="600", proven="yes"))
    result = compute(session, household, answers, ON)
    head = result.members[0]
    assert (head.operating_fen, head.operating_loss_fen, head.total_fen) == (0, 30000, 0)
    assert result.household_income_fen == 60000 and result.difference_subsidy_fen == 24000
    assert "a loss counts as 0" in result.steps[0].label_en


def test_a_property_red_flag_makes_the_household_ineligible(session, area, household):
    standard(session, area["county"], "420", date(2025, 1, 1))
    # Ticked by the investigators: income alone would give 40.00 (the plain case); the luxury goods give 0.
    ticked = compute(session, household, plain() | {"red_flags": "luxury_goods"}, ON)
    assert ticked.eligible is False and ticked.monthly_amount_fen == 0 and ticked.difference_subsidy_fen == 0
    assert ticked.ineligible_red_flags == ("luxury_goods",)
    assert [r.code for r in ticked.reasons] == ["income_below_standard", "red_flag:luxury_goods"]
    # Recorded under property but not ticked: a car still counts.
    car = compute(session, household, plain() | {"vehicle": "car"}, ON)
    assert car.red_flags_answered == () and car.red_flags_from_property == ("owns_vehicle_or_machinery",)
    assert car.eligible is False and car.ineligible_red_flags == ("owns_vehicle_or_machinery",)
    # A red flag that needs judgement but is not on the list does not decide by itself.
    judged = compute(session, household, plain() | {"red_flags": "concealed_income"}, ON)
    assert judged.eligible is True and judged.red_flags_answered == ("concealed_income",)
    # A county may narrow the list.
    rules(session, area["county"], ineligible_red_flags=["owns_vehicle_or_machinery"])
    assert compute(session, household, plain() | {"red_flags": "luxury_goods"}, ON).eligible is True
    assert compute(session, household, plain() | {"vehicle": "truck"}, ON).eligible is False


def test_the_default_red_flag_list(session, area, household):
    result = compute(session, household, plain(), ON)
    assert result.rules.ineligible_red_flags == (
        "owns_vehicle_or_machinery", "bought_housing_or_large_house", "business_or_rental_income", "luxury_goods",
        "pension_above_standard")
    # A row created with only the county and date gets the same defaults.
    row = rules(session, area["county"])
    session.expire(row)
    assert row.ineligible_red_flags == list(result.rules.ineligible_red_flags)
    assert row.bottom_line_uplift_percent == 10 and row.minimum_wage_fen is None
    assert row.supplement_age_80_urban_fen == 2500 and row.supplement_age_80_rural_fen == 1000


def test_the_standard_in_force_on_the_visit_date(session, area, household):
    # 400 from 2025, 420 from 2026: a visit on 31 Dec 2025 gets 400 -> (400 - 400) x 2 = 0, not eligible;
    # on 1 Jan 2026, 420 -> 40.00. A rural standard never applies to the urban.
    standard(session, area["county"], "400", date(2025, 1, 1))
    standard(session, area["county"], "420", date(2026, 1, 1))
    standard(session, area["county"], "300", date(2024, 1, 1), residence="urban")
    before = compute(session, household, plain(), date(2025, 12, 31))
    assert before.standard_fen == 40000 and before.standard_effective_from == date(2025, 1, 1)
    assert before.eligible is False and before.monthly_amount_fen == 0
    after = compute(session, household, plain(), date(2026, 1, 1))
    assert after.standard_fen == 42000 and after.monthly_amount_fen == 4000
    assert compute(session, household, plain(), ON, residence="urban").standard_fen == 30000
    # No standard at all before 2024 for the rural: not eligible, and the reason says why.
    none = compute(session, household, plain(), date(2023, 6, 1))
    assert none.standard_fen is None and none.eligible is False
    assert [r.code for r in none.reasons] == ["no_standard"]


def test_supplements(session, area, household):
    # Rural, default 10.00 yuan per qualifying person a month (120 a year in the seed report).
    # Head: 86 years old, grade 2 disability, seriously ill, transfer 200: three groups, one amount (10.00).
    # Spouse: partly able, proven wage 300. Household 500 / 2 = 250.00; (420 - 250) x 2 = 340.00;
    # monthly 340.00 + 10.00 = 350.00.
    standard(session, area["county"], "420", date(2025, 1, 1))
    old = member("张德福", capacity="none", born="1940-01-20", disability="2", health="serious_illness", transfer="200")
    answers = visit(old, member("李秀英", capacity="partial", wage="300", proven="yes"))
    result = compute(session, household, answers, ON)
    assert result.members[0].supplement_groups == ("severe_disability", "serious_illness", "age_80")
    assert result.members[0].supplement_fen == 1000 and result.members[1].supplement_fen == 0
    assert result.difference_subsidy_fen == 34000 and result.supplements_fen == 1000
    assert result.monthly_amount_fen == 35000

    # The county's own amounts (urban here): the largest of the person's groups, 40.00; urban standard
    # 600: (600 - 250) x 2 = 700.00; monthly 740.00.
    standard(session, area["county"], "600", date(2025, 1, 1), residence="urban")
    rules(session, area["county"], supplement_severe_disability_urban_fen=3000,
          supplement_serious_illness_urban_fen=4000, supplement_age_80_urban_fen=2500)
    urban = compute(session, household, answers, ON, residence="urban")
    assert urban.supplements_fen == 4000 and urban.monthly_amount_fen == 74000


def test_a_sanwu_person_and_no_supplement_when_not_eligible(session, area, household):
    # Alone, unable to work, no income of any kind: 三无. (420 - 0) x 1 = 420.00 + 10.00 = 430.00.
    standard(session, area["county"], "420", date(2025, 1, 1))
    alone = compute(session, household, visit(member(capacity="none", born="1960-05-05")), ON)
    assert alone.members[0].supplement_groups == ("sanwu",)
    assert alone.monthly_amount_fen == 43000
    # With a member able to work in the household, nobody is 三无.
    with_son = compute(session, household, visit(member(capacity="none"), member(capacity="full", wage="100", proven="yes")), ON)
    assert with_son.members[0].supplement_groups == ()
    # An 80-year-old in a household above the standard gets no supplement: nothing is paid at all.
    rich = compute(session, household, visit(member(capacity="none", born="1930-01-01", transfer="900")), ON)
    assert rich.members[0].supplement_groups == ("age_80",) and rich.members[0].supplement_fen == 0
    assert rich.eligible is False and rich.monthly_amount_fen == 0


def test_decimal_rounding(session, area, household):
    # Three members with 1,150 yuan in all: 383.333... per person, shown 383.33 (half up to the fen).
    # The subsidy is exact: 400 x 3 - 1,150 = 50.00, not (400 - 383.33) x 3 = 50.01.
    standard(session, area["county"], "400", date(2025, 1, 1))
    three = visit(member(capacity="partial", wage="350", proven="yes"), member(wage="800", proven="yes"),
                  member(capacity="none", born="2012-09-01"))
    result = compute(session, household, three, ON)
    assert result.per_capita_exact == Decimal(1150) / 3
    assert result.per_capita_fen == 38333
    assert result.difference_subsidy_fen == 5000
    # Uplift: 220.95 x 110 % = 243.045 -> 243.05 half up (half-even would give 243.04).
    assert uplifted_fen(22095, 10) == 24305
    assert uplifted_fen(16500, 10) == 18150  # the seed county's rural 165 -> 181.50
    # Answers: half up to the fen; blank, malformed and negative count as nothing.
    assert [answer_fen(v) for v in ("100.005", "100.004", "0.5", "", None, "abc", "-5", "NaN")] == [
        10001, 10000, 50, 0, 0, 0, 0, 0]
    # Money fields are never floats.
    assert all(isinstance(getattr(result, f), int) for f in (
        "household_income_fen", "per_capita_fen", "standard_fen", "applied_standard_fen",
        "difference_subsidy_fen", "supplements_fen", "monthly_amount_fen"))


def test_an_income_past_any_reason_still_counts(session, area, household):
    # Decimal's quantize refused results over 28 digits: such an answer failed the whole computation
    # (the checks, the case file, the approval). It is an income like any other, far above the standard.
    assert answer_fen("1e100") == 10**102 and answer_fen("99999999999999999999999999999.995") == 10**31
    standard(session, area["county"], "420", date(2025, 1, 1))
    result = compute(session, household, visit(member(wage="1e100", proven="yes")), ON)
    assert result.household_income_fen == 10**102 and result.eligible is False and result.monthly_amount_fen == 0


def test_no_members_no_amount(session, area, household):
    standard(session, area["county"], "420", date(2025, 1, 1))
    result = compute(session, household, {"outcome": "not_home"}, ON)
    assert result.covered_persons == 0 and result.per_capita_fen is None
    assert result.eligible is False and [r.code for r in result.reasons] == ["no_members"]


# --- through the phone ---------------------------------------------------------------------------

def test_the_income_flag_at_receipt_uses_the_minimum_wage(client, session, make, area):
    # The builders' two members: head 300 - 100 + 150 transfer = 350 (partly able, no wage);
    # spouse 800 stated without proof, fully able. Standard 600.
    # Without a minimum wage: 1,150 / 2 = 575 <= 600, no flag.
    # With a minimum wage of 1,000: 350 + 1,000 = 1,350 / 2 = 675 > 600, flagged.
    household = make.household(area["village"], latitude=35.0312, longitude=104.7104)
    token = make.token(make.user("caseworker", [area["village"]]))
    standard(session, area["county"], "600", date(2025, 1, 1))
    when = datetime(2026, 6, 15, 10, 30, tzinfo=SHANGHAI)

    def flags(day: int) -> dict:
        xml, files = household_visit(household.case_number, when=when.replace(day=day), photo_seed=day)
        data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
        data |= {name: (io.BytesIO(body), name) for name, body in files.items()}
        response = client.post(f"/key/{token}/submission", data=data, headers=OPENROSA,
                               content_type="multipart/form-data")
        assert response.status_code in (201, 202), parse_openrosa_response(response.data)
        session.expire_all()
        version = session.scalars(select(SubmissionVersion).order_by(SubmissionVersion.id.desc())).first()
        return version, {flag.code: flag for flag in version.flags}

    version, found = flags(15)
    assert "income_above_standard" not in found
    rules(session, area["county"], date(2026, 6, 16), minimum_wage_fen=100000)
    version, found = flags(16)
    flag = found["income_above_standard"]
    assert flag.figures["per_capita_fen"] == 67500 and flag.figures["household_income_fen"] == 135000
    assert flag.figures["standard_fen"] == 60000
    assert "675.00 元" in flag.message and "600.00 元" in flag.message
    # The same visit computed from its stored answers (nested, as ingest reads them) agrees.
    result = compute(session, household, record_of(version).tree(), date(2026, 6, 16))
    assert result.per_capita_fen == 67500 and result.members[1].wage_rule == "minimum_wage"
    assert result.eligible is False


def test_the_result_as_json(session, area, household):
    import json

    from server.services.eligibility import as_json

    standard(session, area["county"], "420", date(2025, 1, 1))
    data = json.loads(json.dumps(as_json(compute(session, household, plain(), ON))))
    assert data["monthly_amount_fen"] == 4000 and data["per_capita_exact"] == "400"
    assert data["standard_effective_from"] == "2025-01-01" and data["on"] == "2026-06-15"
    assert data["rules"]["supplements_fen"]["age_80_rural"] == 1000
    assert data["members"][0]["operating_fen"] == 20000
    assert data["steps"][-1] == {"label_zh": "月保障金额", "label_en": "Monthly amount", "value": "40.00", "unit": "元/月"}


def test_the_worked_example_in_the_docs(session, area, household):
    # docs/eligibility.md: 200 + 350 + 0 = 550 for 3; 420 x 3 - 550 = 710.00; + 10.00 = 720.00.
    standard(session, area["county"], "420", date(2025, 1, 1))
    rules(session, area["county"], minimum_wage_fen=162000)
    grandfather = member("张德福", capacity="none", born="1940-01-20", disability="2", health="serious_illness",
                         transfer="200")
    mother = member("李秀英", capacity="partial", gross="300", cost="100", self_consumed="50", wage="150")
    child = member("张小明", capacity="none", born="2012-09-01")
    result = compute(session, household, visit(grandfather, mother, child), ON)
    assert [m.total_fen for m in result.members] == [20000, 35000, 0]
    assert result.per_capita_fen == 18333 and result.difference_subsidy_fen == 71000
    assert result.supplements_fen == 1000 and result.monthly_amount_fen == 72000
    mother["work_capacity"] = "full"
    result = compute(session, household, visit(grandfather, mother, child), ON)
    assert result.household_income_fen == 202000 and result.per_capita_fen == 67333
    assert result.eligible is False and result.monthly_amount_fen == 0
