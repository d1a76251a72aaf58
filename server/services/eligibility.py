"""Eligibility and the monthly amount of one household from one visit, worked step by step so a supervisor can check it.

compute() takes the visit's answers (a visit record's, services/visits.py: nested as its tree() or
by name as its by_name) and returns an Eligibility: every intermediate figure, the reasons for the
decision, and `steps`, the same figures in order with Chinese and English labels for display.

The rules (docs/eligibility.md has them with their sources in the seed reports):
- Income is the monthly disposable income of the co-resident members (the form's `members` repeat
  is "共同生活的家庭成员": every member listed is covered), in four kinds per member:
  operating = gross - costs, never below zero for a member (a declared loss does not cancel other
  income), and produce the household eats itself (income_self_consumed) is recorded, not counted;
  wages = as stated when proven; when not proven and the member is fully able to work, at least the
  county's minimum wage (the stated figure when it is higher); property; transfer.
- Per-capita income = household income / covered persons, kept exact (Decimal) for the comparison
  and the subsidy, shown rounded half up to the fen.
- The standard in force on the visit date for the household's residence (Standard); a
  "bottom-line poverty" household (社会保障兜底脱贫对象) gets it raised by the uplift percent,
  rounded half up to the fen.
- Eligible when per-capita income is below the applied standard and no red flag on the county's
  list is present (answered by the investigators, or implied by the property answers).
- Difference subsidy = (standard - per-capita) x covered persons = standard x persons - household
  income: whole fen, no rounding needed.
- Supplements: per person, the largest of the county's amounts for the groups the person is in
  (三无, severe disability grade 1-2, serious illness, aged 80 or more); only when eligible.
- Monthly amount = subsidy + supplements when eligible, else 0.

Money is integer fen or Decimal throughout, never float. Answers are decimal yuan; each is converted
to fen rounding half up (ROUND_HALF_UP), as is every division (per-capita display, the uplift).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy.orm import Session

from ..models import AssistanceRules, Household, Standard
from ..models import rules as defaults
from .areas import county_id_of
from .standards import standard_in_force
from .xforms import flat_answers

SUPPLEMENT_AGE = 80
SEVERE_DISABILITY_GRADES = ("1", "2")

RESIDENCE_ZH = {"urban": "城市", "rural": "农村"}
GROUP_LABELS = {
    "sanwu": ("三无人员", "三无 person (no capacity, no income, no supporter)"),
    "severe_disability": ("重度残疾（一、二级）", "severe disability (grade 1-2)"),
    "serious_illness": ("重病", "serious illness"),
    "age_80": ("80周岁以上", "aged 80 or more"),
}

# Property answers of household_visit that by themselves amount to a red flag of the same form,
# so a car recorded under property counts even if the investigators did not tick the red flag.
# (The seeds' removal conditions: owning a car, van, lorry, machinery; buying commercial housing or
# building a large house; shop, rental or business income; luxury goods.)
PROPERTY_RED_FLAGS = "owns_vehicle_or_machinery", "bought_housing_or_large_house", "business_or_rental_income", "luxury_goods"


# --- the result ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """The assistance rules in force for a county on a date (its AssistanceRules row, or the defaults)."""

    effective_from: date | None = None  # None: the defaults, no row
    bottom_line_uplift_percent: int = defaults.DEFAULT_BOTTOM_LINE_UPLIFT_PERCENT
    supplements_fen: dict = field(default_factory=lambda: {
        (group, residence): defaults.DEFAULT_SUPPLEMENT_URBAN_FEN if residence == "urban" else defaults.DEFAULT_SUPPLEMENT_RURAL_FEN
        for group in defaults.SUPPLEMENT_GROUPS for residence in ("urban", "rural")
    })
    minimum_wage_fen: int | None = defaults.DEFAULT_MINIMUM_WAGE_FEN
    ineligible_red_flags: tuple[str, ...] = defaults.DEFAULT_INELIGIBLE_RED_FLAGS


@dataclass(frozen=True)
class MemberIncome:
    position: int  # 1-based, in the order of the visit
    name: str
    operating_gross_fen: int
    operating_cost_fen: int
    self_consumed_fen: int  # recorded, never counted
    operating_fen: int  # max(0, gross - cost)
    operating_loss_fen: int  # cost - gross when costs exceed the gross, else 0; not set against other income
    wage_stated_fen: int
    wage_proven: bool
    work_capacity: str
    wage_fen: int  # what is counted
    wage_rule: str  # "proven", "stated", "minimum_wage"
    property_fen: int
    transfer_fen: int
    total_fen: int  # operating + wage + property + transfer
    supplement_groups: tuple[str, ...]
    supplement_fen: int  # the largest of the groups' amounts (0 when not eligible)


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Step:
    label_zh: str
    label_en: str
    value: str
    unit: str


@dataclass(frozen=True)
class Eligibility:
    on: date
    residence: str
    bottom_line: bool
    rules: Rules
    members: tuple[MemberIncome, ...]
    household_income_fen: int
    covered_persons: int
    per_capita_exact: Decimal | None  # yuan, unrounded; None without members
    per_capita_fen: int | None  # rounded half up to the fen, for display
    standard_id: int | None
    standard_area_code: str | None
    standard_area_name: str | None
    standard_effective_from: date | None
    standard_fen: int | None  # the standard in force
    uplift_percent: int  # 0 unless bottom_line
    applied_standard_fen: int | None  # standard + uplift, rounded half up to the fen
    difference_subsidy_fen: int  # (applied standard - per capita) x covered persons, 0 when not eligible
    supplements_fen: int
    monthly_amount_fen: int
    red_flags_answered: tuple[str, ...]
    red_flags_from_property: tuple[str, ...]
    ineligible_red_flags: tuple[str, ...]  # those on the county's list: each makes the household ineligible
    eligible: bool
    reasons: tuple[Reason, ...]
    steps: tuple[Step, ...]

    @property
    def income_above_standard(self) -> bool:
        """Per-capita income above the standard in force (not the uplifted one), exactly."""
        return (self.standard_fen is not None and self.per_capita_exact is not None
                and self.per_capita_exact * 100 > self.standard_fen)


# --- money ---------------------------------------------------------------------------------------

def to_fen(yuan: Decimal) -> int:
    """Yuan to whole fen, rounding half up (0.005 yuan -> 1 fen)."""
    # to_integral_value, not quantize: quantize refuses a result longer than the context's 28 digits,
    # and an answer of 1e100 yuan (no phone's constraint stops a hand-made upload) failed every check.
    return int((yuan * 100).to_integral_value(rounding=ROUND_HALF_UP))


def answer_fen(value) -> int:
    """A decimal answer in yuan ("350", "433.33", "", None) as fen; blank, malformed or negative is 0."""
    try:
        number = Decimal(str(value if value is not None else "").strip() or "0")
    except InvalidOperation:
        return 0
    if not number.is_finite() or number < 0:
        return 0
    return to_fen(number)


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def uplifted_fen(standard_fen: int, percent: int) -> int:
    """The standard raised by `percent`, rounded half up to the fen: 220.95 x 110 % = 243.045 -> 243.05."""
    return int((Decimal(standard_fen) * (100 + percent) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- rules ---------------------------------------------------------------------------------------

def rules_in_force(session: Session, county_id: int, on: date) -> Rules:
    """The county's AssistanceRules row with the latest effective_from on or before `on`; the defaults without one."""
    row = session.scalar(AssistanceRules.in_force(county_id, on))
    if row is None:
        return Rules()
    return Rules(
        effective_from=row.effective_from,
        bottom_line_uplift_percent=row.bottom_line_uplift_percent,
        supplements_fen={(group, residence): row.supplement_fen(group, residence)
                         for group in defaults.SUPPLEMENT_GROUPS for residence in ("urban", "rural")},
        minimum_wage_fen=row.minimum_wage_fen,
        ineligible_red_flags=tuple(row.ineligible_red_flags or ()),
    )


# --- answers -------------------------------------------------------------------------------------

def _choices(value) -> list[str]:
    """A select_multiple answer ("car van") as its codes, "none" left out."""
    if isinstance(value, (list, tuple)):
        codes = [str(v) for v in value]
    else:
        codes = str(value or "").split()
    return [code for code in codes if code != "none"]


def _age_on(birth: str | None, on: date) -> int | None:
    try:
        born = date.fromisoformat(str(birth or "").strip()[:10])
    except ValueError:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _red_flags_from_property(answers: dict) -> list[str]:
    found = []
    if _choices(answers.get("vehicle")):
        found.append("owns_vehicle_or_machinery")
    if answers.get("owns_commercial_housing") == "yes" or answers.get("built_large_house") == "yes":
        found.append("bought_housing_or_large_house")
    if answers.get("business_registered") == "yes":
        found.append("business_or_rental_income")
    if _choices(answers.get("luxury_goods")):
        found.append("luxury_goods")
    return found


def _wage(stated: int, proven: bool, capacity: str, minimum: int | None) -> tuple[int, str]:
    """Counted wage and the rule applied. The seed (Hengnan plan, 工资性收入): "能够出示有效证明的，按所
    证明的收入计算；不能出具有效证明的，可比照务工所在地最低工资标准计算". So: proven -> as stated.
    Unproven, a member fully able to work who declares a wage -> the minimum wage, or the stated
    figure when higher (a declaration is never lowered). A member partly or not able to work, or
    one who declares no wage at all, keeps the stated figure: the minimum wage assumes a full-time
    job, and "able-bodied but not working" is a red flag for a person's judgement, not a figure."""
    if proven:
        return stated, "proven"
    if capacity == "full" and stated > 0 and minimum is not None and minimum > stated:
        return minimum, "minimum_wage"
    return stated, "stated"


# --- the computation -----------------------------------------------------------------------------

def compute(session: Session, household: Household, answers: dict, on: date, *,
            bottom_line: bool = False, residence: str | None = None) -> Eligibility:
    """The household's eligibility and monthly amount from a visit's answers on the visit date `on`.

    `bottom_line`: the household is a bottom-line poverty household (社会保障兜底脱贫对象), whose
    standard is raised by the county's uplift; neither the form nor the case records this yet, so
    the caller says it. `residence` defaults to the household's.
    """
    answers = flat_answers(answers or {})
    residence = residence or household.residence
    county_id = county_id_of(household.village)
    rules = rules_in_force(session, county_id, on)
    rows = [m for m in answers.get("members") or [] if isinstance(m, dict)]
    # 三无 needs no supporter: nobody in the household able to work (maintenance from relatives
    # elsewhere shows as the member's transfer income, which already rules 三无 out).
    anyone_able = any(m.get("work_capacity") in ("full", "partial") for m in rows)

    # Per member: the four kinds of income.
    partial: list[dict] = []
    for position, m in enumerate(rows, start=1):
        gross, cost = answer_fen(m.get("income_operating_gross")), answer_fen(m.get("income_operating_cost"))
        capacity = str(m.get("work_capacity") or "")
        stated = answer_fen(m.get("income_wage"))
        proven = m.get("wage_proven") == "yes"
        wage, rule = _wage(stated, proven, capacity, rules.minimum_wage_fen)
        operating = max(0, gross - cost)
        prop, transfer = answer_fen(m.get("income_property")), answer_fen(m.get("income_transfer"))
        total = operating + wage + prop + transfer
        groups = []
        if capacity == "none" and total == 0 and not anyone_able:
            groups.append("sanwu")
        if str(m.get("disability_grade") or "") in SEVERE_DISABILITY_GRADES:
            groups.append("severe_disability")
        if m.get("health") == "serious_illness":
            groups.append("serious_illness")
        age = _age_on(m.get("birth_date"), on)
        if age is not None and age >= SUPPLEMENT_AGE:
            groups.append("age_80")
        partial.append(dict(
            position=position, name=str(m.get("member_name") or ""), operating_gross_fen=gross,
            operating_cost_fen=cost, self_consumed_fen=answer_fen(m.get("income_self_consumed")),
            operating_fen=operating, operating_loss_fen=max(0, cost - gross), wage_stated_fen=stated,
            wage_proven=proven, work_capacity=capacity, wage_fen=wage, wage_rule=rule, property_fen=prop,
            transfer_fen=transfer, total_fen=total, supplement_groups=tuple(groups),
        ))

    household_income = sum(p["total_fen"] for p in partial)
    persons = len(partial)
    per_capita_exact = Decimal(household_income) / 100 / persons if persons else None
    per_capita_fen = to_fen(per_capita_exact) if per_capita_exact is not None else None

    standard: Standard | None = standard_in_force(session, household.village, residence, on)
    uplift = rules.bottom_line_uplift_percent if bottom_line else 0
    applied = uplifted_fen(standard.monthly_fen, uplift) if standard is not None else None

    answered = _choices(answers.get("red_flags"))
    from_property = [code for code in _red_flags_from_property(answers) if code not in answered]
    blocking = tuple(code for code in [*answered, *from_property] if code in rules.ineligible_red_flags)

    reasons: list[Reason] = []
    if persons == 0:
        reasons.append(Reason("no_members", "本次调查未登记共同生活的家庭成员，无法核算收入。",
                              "The visit lists no co-resident members: income cannot be worked out."))
    if standard is None:
        reasons.append(Reason("no_standard", f"{on.isoformat()} 无适用的{RESIDENCE_ZH.get(residence, residence)}低保标准。",
                              f"No {residence} standard is in force on {on.isoformat()} for this household's area."))
    below = persons > 0 and applied is not None and household_income < applied * persons
    if persons and applied is not None:
        if below:
            reasons.append(Reason(
                "income_below_standard",
                f"家庭人均月收入 {yuan(per_capita_fen)} 元低于保障标准 {yuan(applied)} 元。",
                f"Per-capita monthly income {yuan(per_capita_fen)} yuan is below the standard of {yuan(applied)} yuan."))
        else:
            reasons.append(Reason(
                "income_not_below_standard",
                f"家庭人均月收入 {yuan(per_capita_fen)} 元不低于保障标准 {yuan(applied)} 元。",
                f"Per-capita monthly income {yuan(per_capita_fen)} yuan is not below the standard of {yuan(applied)} yuan."))
    for code in blocking:
        how_zh = "调查人员勾选" if code in answered else "由财产登记推定"
        how_en = "answered by the investigators" if code in answered else "implied by the property answers"
        reasons.append(Reason(f"red_flag:{code}", f"存在不予保障的情形 {code}（{how_zh}）。",
                              f"Red flag {code} ({how_en}) makes the household ineligible."))
    eligible = below and not blocking

    subsidy = applied * persons - household_income if eligible else 0
    members = []
    for p in partial:
        amount = max((rules.supplements_fen.get((g, residence), 0) for g in p["supplement_groups"]), default=0)
        members.append(MemberIncome(**p, supplement_fen=amount if eligible else 0))
    supplements = sum(m.supplement_fen for m in members)

    result = dict(
        on=on, residence=residence, bottom_line=bottom_line, rules=rules, members=tuple(members),
        household_income_fen=household_income, covered_persons=persons, per_capita_exact=per_capita_exact,
        per_capita_fen=per_capita_fen, standard_id=standard.id if standard else None,
        standard_area_code=standard.area.code if standard else None,
        standard_area_name=standard.area.name if standard else None,
        standard_effective_from=standard.effective_from if standard else None,
        standard_fen=standard.monthly_fen if standard else None, uplift_percent=uplift,
        applied_standard_fen=applied, difference_subsidy_fen=subsidy, supplements_fen=supplements,
        monthly_amount_fen=subsidy + supplements if eligible else 0,
        red_flags_answered=tuple(answered), red_flags_from_property=tuple(from_property),
        ineligible_red_flags=blocking, eligible=eligible, reasons=tuple(reasons),
    )
    return Eligibility(**result, steps=tuple(_steps(result)))


def _steps(r: dict) -> list[Step]:
    steps: list[Step] = []

    def add(zh: str, en: str, value, unit: str = "元") -> None:
        steps.append(Step(zh, en, value if isinstance(value, str) else yuan(value), unit))

    wage_rules = {"proven": ("有证明，按实际", "proven, as stated"),
                  "stated": ("无证明，按申报", "not proven, as stated"),
                  "minimum_wage": ("无证明，按最低工资标准", "not proven, counted at the minimum wage")}
    for m in r["members"]:
        who_zh, who_en = f"成员{m.position} {m.name}", f"Member {m.position} {m.name}"
        add(f"{who_zh}：经营性收入（毛收入 {yuan(m.operating_gross_fen)} − 成本 {yuan(m.operating_cost_fen)}"
            f"{'，亏损按0计' if m.operating_loss_fen else ''}；自产自用 {yuan(m.self_consumed_fen)} 不计入）",
            f"{who_en}: operating income (gross {yuan(m.operating_gross_fen)} − costs {yuan(m.operating_cost_fen)}"
            f"{', a loss counts as 0' if m.operating_loss_fen else ''}; self-consumed {yuan(m.self_consumed_fen)} not counted)",
            m.operating_fen)
        rule_zh, rule_en = wage_rules[m.wage_rule]
        add(f"{who_zh}：工资性收入（申报 {yuan(m.wage_stated_fen)}，{rule_zh}）",
            f"{who_en}: wages (stated {yuan(m.wage_stated_fen)}, {rule_en})", m.wage_fen)
        add(f"{who_zh}：财产性收入", f"{who_en}: property income", m.property_fen)
        add(f"{who_zh}：转移性收入", f"{who_en}: transfer income", m.transfer_fen)
        add(f"{who_zh}：月收入合计", f"{who_en}: monthly income", m.total_fen)
    add("家庭月收入合计", "Household monthly income", r["household_income_fen"])
    add("保障人数（共同生活的家庭成员）", "Covered persons (co-resident members)", str(r["covered_persons"]), "人")
    if r["per_capita_fen"] is not None:
        add("家庭人均月收入（四舍五入到分）", "Per-capita monthly income (rounded half up to the fen)",
            r["per_capita_fen"], "元/人/月")
    if r["standard_fen"] is not None:
        residence_zh = RESIDENCE_ZH.get(r["residence"], r["residence"])
        add(f"{residence_zh}低保标准（{r['standard_area_name']}，{r['standard_effective_from'].isoformat()} 起执行）",
            f"{r['residence'].capitalize()} standard ({r['standard_area_name']}, in force from "
            f"{r['standard_effective_from'].isoformat()})", r["standard_fen"], "元/人/月")
        if r["uplift_percent"]:
            add("兜底保障对象上浮比例", "Bottom-line poverty uplift", str(r["uplift_percent"]), "%")
        add("适用保障标准", "Standard applied", r["applied_standard_fen"], "元/人/月")
    add("差额补助 =（适用标准 − 人均收入）× 保障人数", "Difference subsidy = (standard − per capita) × covered persons",
        r["difference_subsidy_fen"])
    for m in r["members"]:
        if m.supplement_groups:
            groups_zh = "、".join(GROUP_LABELS[g][0] for g in m.supplement_groups)
            groups_en = ", ".join(GROUP_LABELS[g][1] for g in m.supplement_groups)
            add(f"分类施保加发：成员{m.position} {m.name}（{groups_zh}；取最高一项）",
                f"Supplement: member {m.position} {m.name} ({groups_en}; the largest one)", m.supplement_fen)
    add("分类施保加发合计", "Supplements in all", r["supplements_fen"])
    flags = r["ineligible_red_flags"]
    add("不予保障的清退情形", "Red flags that make the household ineligible", "、".join(flags) if flags else "无", "")
    add("是否符合保障条件", "Eligible", "是 yes" if r["eligible"] else "否 no", "")
    add("月保障金额", "Monthly amount", r["monthly_amount_fen"], "元/月")
    return steps


def as_json(result: Eligibility) -> dict:
    """The result as JSON-safe values for the case file: money stays integer fen, the exact
    per-capita income a decimal string, dates ISO strings."""
    def plain(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {(k if isinstance(k, str) else "_".join(k)): plain(v) for k, v in value.items()}
        if hasattr(value, "__dataclass_fields__"):
            return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
        return value

    data = plain(result)
    data["income_above_standard"] = result.income_above_standard
    return data
