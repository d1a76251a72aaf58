"""Comparing a spot-check re-visit with the original visit, item by item: filing the re-visit under
its sample item, which items agree or differ, and whether a difference makes the household an error.

A household is an **error** when a differing item would change its eligibility, category or amount;
which items count is each county's rule (county_rules.error_items, defaults in models/rules.py).
Per-capita incomes agree within the county's tolerance (county_rules.income_tolerance_permille) of
the original's. Income is worked out exactly as services/eligibility.py does, in Decimal and fen.

The original is the current version of the sample item's original visit when its outcome was done;
without one (a household never visited in this system, or not found at home), the case register
stands for it: its members, category and status (active = eligible), and the items the register does
not hold cannot be compared (agrees None).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Attachment, Campaign, CountyRules, Flag, Household, SampleItem, SubmissionVersion, utcnow
from ..models import rules as defaults
from . import eligibility, spot_rates
from .eligibility import yuan
from .forms import SPOT_CHECK
from .schedule import redo_due_on, today
from .visits import SIGHTS, VisitRecord, record_of

log = logging.getLogger(__name__)

ITEMS = ("household_size", "members", "head_seen", *(f"sight_{s}" for s in SIGHTS), "income", "category",
         "red_flags", "eligibility")
LABELS = {
    "household_size": ("共同生活人口", "Household size"),
    "members": ("家庭成员", "Members"),
    "head_seen": ("见到户主本人", "Head of household seen"),
    **{f"sight_{sight}": (f"五见：{zh}", f"Five sights: {en}") for sight, (zh, en) in SIGHTS.items()},
    "income": ("家庭人均月收入", "Per-capita monthly income"),
    "category": ("类别", "Category"),
    "red_flags": ("清退情形", "Red flags"),
    "eligibility": ("是否符合保障条件", "Eligibility"),
}
SIGHT_STATES = {
    "photo": ("已拍照", "photographed"),
    "explained": ("未见，已说明原因", "not seen, reason given"),
    "missing": ("既无照片也无说明", "neither photographed nor explained"),
}


# --- rules ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComparisonRules:
    """A county's comparison rules (its CountyRules row in force, or the defaults)."""

    income_tolerance_permille: int = defaults.DEFAULT_INCOME_TOLERANCE_PERMILLE
    error_items: tuple[str, ...] = defaults.DEFAULT_ERROR_ITEMS


def comparison_rules(session: Session, county_id: int, on: date | None = None) -> ComparisonRules:
    """The rules in force on a date (default today): a re-visit is compared by those of its visit date."""
    row = session.scalar(CountyRules.in_force(county_id, on or today()))
    if row is None:
        return ComparisonRules()
    unknown = [name for name in row.error_items or () if name not in ITEMS]
    if unknown:
        log.warning("county %s: unknown spot-check error items %s are ignored", county_id, unknown)
    return ComparisonRules(row.income_tolerance_permille,
                           tuple(name for name in row.error_items or () if name in ITEMS))


# --- what each side recorded ---------------------------------------------------------------------

@dataclass(frozen=True)
class Facts:
    """What a visit, a re-visit or the case register recorded, ready to compare; None: not recorded."""

    source: str  # "visit", "register" or "check"
    household_size: int | None = None
    members: tuple[str, ...] | None = None  # names, sorted
    members_present: int | None = None  # the check only: members at home during the re-visit
    head_seen: str | None = None  # "yes" / "no"
    sights: dict[str, str] = field(default_factory=dict)  # sight -> "photo" | "explained" | "missing"
    per_capita: Decimal | None = None  # yuan, exact
    per_capita_fen: int | None = None  # rounded half up, for display
    category: str | None = None
    red_flags: tuple[str, ...] | None = None
    eligible: bool | None = None


def _names(values) -> tuple[str, ...]:
    return tuple(sorted("".join(str(value or "").split()) for value in values))  # "张 建国" is "张建国"


def _member_rows(answers: dict) -> list[dict]:
    return [m for m in answers.get("members") or [] if isinstance(m, dict)]


def _integer(value) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _sights(answers: dict) -> dict[str, str]:
    states = {}
    for sight in SIGHTS:
        if answers.get(f"sight_{sight}_photo"):
            states[sight] = "photo"
        elif (answers.get(f"sight_{sight}_reason") or "").strip():
            states[sight] = "explained"
        else:
            states[sight] = "missing"
    return states


def _red_flags(value) -> tuple[str, ...]:
    return tuple(sorted({code for code in str(value or "").split() if code != "none"}))


def original_facts(session: Session, household: Household, original: VisitRecord | None) -> Facts:
    """The original visit's findings when it was done; else the case register's."""
    if original is not None and original.outcome == "done":
        answers = original.by_name
        members = _member_rows(answers)
        result = eligibility.compute(session, household, answers, original.visit_date)
        worked_out = result.standard_fen is not None and result.covered_persons > 0
        return Facts(
            source="visit", household_size=len(members), members=_names(m.get("member_name") for m in members),
            head_seen=answers.get("sight_head_seen") or None, sights=_sights(answers),
            per_capita=result.per_capita_exact, per_capita_fen=result.per_capita_fen,
            category=answers.get("suggested_category") or None,
            # Property answers (a car under "vehicles") count as the red flag they imply, as for eligibility.
            red_flags=tuple(sorted({*result.red_flags_answered, *result.red_flags_from_property})),
            eligible=result.eligible if worked_out else None,
        )
    return Facts(source="register", household_size=len(household.members),
                 members=_names(m.name for m in household.members),
                 category=household.category, eligible=household.status == "active")


def check_facts(session: Session, household: Household, check: VisitRecord) -> Facts:
    answers = check.by_name
    members = _member_rows(answers)
    result = eligibility.compute(session, household, answers, check.visit_date) if members else None
    return Facts(
        source="check", household_size=_integer(answers.get("household_size_found")),
        members=_names(m.get("member_name") for m in members),
        members_present=_integer(answers.get("members_present")), head_seen=answers.get("head_seen") or None,
        sights=_sights(answers), per_capita=result.per_capita_exact if result else None,
        per_capita_fen=result.per_capita_fen if result else None,
        category=answers.get("assessed_category") or None, red_flags=_red_flags(answers.get("red_flags")),
        eligible={"yes": True, "no": False}.get(answers.get("assessed_eligible")),
    )


# --- the comparison ------------------------------------------------------------------------------

def _not_recorded(original: Facts) -> str:
    if original.source == "register":
        return "原调查无完成的入户记录，档案中无此项。 No done original visit, and the case register does not hold this item."
    return "原调查未记录此项。 The original visit does not record this item."


def _percent(permille: int) -> str:
    return f"{Decimal(permille) / 10:.1f} %"


def income_agrees(original: Decimal, check: Decimal, tolerance_permille: int) -> bool:
    """Within the tolerance of the original, exactly: |check - original| <= original x tolerance."""
    return abs(check - original) * 1000 <= original * tolerance_permille


def compare(original: Facts, check: Facts, rules: ComparisonRules, red_flag_labels: dict | None = None) -> list[dict]:
    """Every item: {"item", "original", "check", "agrees", "error", "reason"}; agrees is None when
    one side did not record the item (then it is never an error)."""
    items: list[dict] = []

    def add(item: str, before, after, agrees: bool | None, reason: str) -> None:
        items.append({"item": item, "original": before, "check": after, "agrees": agrees,
                      "error": agrees is False and item in rules.error_items, "reason": reason})

    def unknown(item: str, before, after) -> bool:
        if before is None:
            add(item, before, after, None, _not_recorded(original))
        elif after is None:
            add(item, before, after, None, "抽查未记录此项。 The check does not record this item.")
        return before is None or after is None

    o, c = original.household_size, check.household_size
    if not unknown("household_size", o, c):
        add("household_size", o, c, o == c,
            "" if o == c else f"原调查 {o} 人，抽查 {c} 人。 The original counted {o}, the check {c}.")

    o, c = original.members, check.members
    if not unknown("members", o, c):
        only_original = sorted((Counter(o) - Counter(c)).elements())
        only_check = sorted((Counter(c) - Counter(o)).elements())
        present = "" if check.members_present is None else f"；抽查时在场 {check.members_present} 人"
        present_en = "" if check.members_present is None else f"; {check.members_present} present at the check"
        same = not only_original and not only_check
        add("members", list(o), list(c), same,
            (f"成员名单一致{present}。 The same names{present_en}." if same else
             f"仅原调查有：{'、'.join(only_original) or '无'}；仅抽查有：{'、'.join(only_check) or '无'}{present}。 "
             f"Only in the original: {', '.join(only_original) or 'none'}; only in the check: "
             f"{', '.join(only_check) or 'none'}{present_en}."))

    o, c = original.head_seen, check.head_seen
    if not unknown("head_seen", o, c):
        seen = {"yes": ("见到", "seen"), "no": ("未见到", "not seen")}
        add("head_seen", o, c, o == c, "" if o == c else
            f"原调查{seen.get(o, (o, o))[0]}户主，抽查{seen.get(c, (c, c))[0]}。 "
            f"The head: {seen.get(o, (o, o))[1]} originally, {seen.get(c, (c, c))[1]} at the check.")

    for sight in SIGHTS:
        item, o, c = f"sight_{sight}", original.sights.get(sight), check.sights.get(sight)
        if unknown(item, o, c):
            continue
        # Agrees when both photographed or both explained; a sight neither photographed nor
        # explained on either side is a gap in the record, never agreement.
        agrees = o == c and o != "missing"
        add(item, o, c, agrees, "" if agrees else
            f"原调查{SIGHT_STATES[o][0]}，抽查{SIGHT_STATES[c][0]}。 Original: {SIGHT_STATES[o][1]}; check: {SIGHT_STATES[c][1]}.")

    o_fen, c_fen = original.per_capita_fen, check.per_capita_fen
    if not unknown("income", None if o_fen is None else yuan(o_fen), None if c_fen is None else yuan(c_fen)):
        difference = abs(check.per_capita - original.per_capita)
        share = f"{difference / original.per_capita * 100:.1f} %" if original.per_capita else "—"
        agrees = income_agrees(original.per_capita, check.per_capita, rules.income_tolerance_permille)
        tolerance = _percent(rules.income_tolerance_permille)
        add("income", yuan(o_fen), yuan(c_fen), agrees,
            f"人均月收入相差 {yuan(eligibility.to_fen(difference))} 元（原调查的 {share}），"
            f"{f'在容差 {tolerance} 以内' if agrees else f'超出容差 {tolerance}'}。 "
            f"Per-capita income differs by {yuan(eligibility.to_fen(difference))} yuan ({share} of the original), "
            f"{'within' if agrees else 'beyond'} the tolerance of {tolerance}.")

    # A category is recorded only for an eligible household: None on both sides agrees.
    o, c = original.category, check.category
    add("category", o, c, o == c, "" if o == c else
        f"原调查类别 {o or '无'}，抽查 {c or '无'}。 Category: {o or 'none'} originally, {c or 'none'} at the check.")

    o, c = original.red_flags, check.red_flags
    if not unknown("red_flags", o, c):
        labels = red_flag_labels or {}
        only_original = [labels.get(code, (code, code)) for code in o if code not in c]
        only_check = [labels.get(code, (code, code)) for code in c if code not in o]
        same = not only_original and not only_check
        add("red_flags", list(o), list(c), same, "" if same else
            f"仅原调查勾选：{'、'.join(zh for zh, _ in only_original) or '无'}；"
            f"仅抽查勾选：{'、'.join(zh for zh, _ in only_check) or '无'}。 "
            f"Only in the original: {'; '.join(en for _, en in only_original) or 'none'}; "
            f"only in the check: {'; '.join(en for _, en in only_check) or 'none'}.")

    o, c = original.eligible, check.eligible
    if o is None and original.source == "visit":
        add("eligibility", None, c, None, "原调查的保障资格无法核算（无适用的保障标准或未登记成员）。 The original's "
            "eligibility cannot be worked out (no standard in force, or no members listed).")
    elif not unknown("eligibility", o, c):
        words = {True: ("符合", "eligible"), False: ("不符合", "not eligible")}
        source = "原调查核算" if original.source == "visit" else "档案状态"
        source_en = "worked out from the original visit" if original.source == "visit" else "by the case status"
        add("eligibility", o, c, o == c, "" if o == c else
            f"{source}{words[o][0]}保障条件，抽查认定{words[c][0]}。 "
            f"{words[o][1].capitalize()} {source_en}; {words[c][1]} as the checker assessed.")
    return items


def result_of(items: list[dict]) -> str:
    if any(item["error"] for item in items):
        return "error"
    if any(item["agrees"] is False for item in items):
        return "differ"
    return "agree"


# --- filing the re-visit under its sample item ---------------------------------------------------

def sample_item_for(session: Session, version: SubmissionVersion, *, lock: bool = False) -> SampleItem | None:
    """The sample item a spot-check version belongs to: the one its submission is already attached
    to (a correction keeps its item), else the sender's newest open assignment for the household
    (newest campaign first; open = no conclusive re-visit yet, see compare_item).

    `lock` (to attach): the item's row is locked, so two re-visits received at once cannot both take
    it; on PostgreSQL the second waits and, the item no longer open, finds the next one or none."""
    submission = version.submission
    if submission.household_id is None:
        return None
    attached = select(SampleItem).where(SampleItem.check_submission_id == submission.id,
                                        SampleItem.household_id == submission.household_id)
    open_items = (
        select(SampleItem).join(Campaign, Campaign.id == SampleItem.campaign_id)
        .where(SampleItem.household_id == submission.household_id, SampleItem.checker_id == version.submitted_by_id,
               SampleItem.result.is_(None), Campaign.drawn_at.is_not(None))
        .order_by(Campaign.drawn_at.desc(), Campaign.id.desc()).limit(1)
    )
    if lock:
        attached, open_items = attached.with_for_update(), open_items.with_for_update(of=SampleItem)
    return session.scalar(attached) or session.scalar(open_items)


def compare_item(session: Session, item: SampleItem, check: VisitRecord) -> None:
    """Compare the re-visit with the original (their records) and store the items and the result
    (flushed).

    A re-visit that did not take place (nobody at home, refused, moved) stores its outcome and no
    result: the household still awaits its check, and the checker's next re-visit of it attaches here."""
    household = item.household
    outcome = check.outcome
    if outcome != "done":
        item.comparison = [{"item": "outcome", "original": None, "check": outcome, "agrees": None, "error": False,
                            "reason": "抽查未能完成入户，无法比对；请再次入户。 The re-visit did not take place "
                                      f"({outcome}); nothing to compare: visit again."}]
        item.result, item.checked_at = None, None
        session.flush()
        return
    original_version = _current_version(session, item.original_submission_id)
    original = record_of(original_version) if original_version is not None else None
    rules = comparison_rules(session, item.campaign.county_id, check.visit_date)
    labels = {**(original.choice_labels("red_flags") if original else {}), **check.choice_labels("red_flags")}
    items = compare(original_facts(session, household, original), check_facts(session, household, check), rules, labels)
    item.comparison = items
    item.result = result_of(items)
    item.checked_at = utcnow()
    session.flush()


def received(session: Session, version: SubmissionVersion, record: VisitRecord) -> int | None:
    """A step after a version's checks (services/checking.py): a spot check is filed under its
    sample item and compared with the original; a correction is compared again. Returns the item's
    village when an open redo order (this result's, or an earlier one) has due dates to move.
    Never costs the submission: a failure leaves a flag."""
    if record.form_id != SPOT_CHECK:
        return None
    try:
        with session.begin_nested():
            item = _attach(session, version, record)
    except Exception:
        log.exception("comparing spot check %s failed", version.instance_id)
        session.expire(version, ["flags"])
        session.add(Flag(version=version, code="spot_check_compare_failed", severity="error",
                         message="抽查比对出错，请人工比对原调查。 Comparing this re-visit with the original visit "
                                 "failed; compare them by hand.", figures={}))
        session.flush()
        return None
    return item.village_id if item is not None and redo_due_on(session, item.village_id) else None


def _attach(session: Session, version: SubmissionVersion, record: VisitRecord) -> SampleItem | None:
    submission = version.submission
    # A correction that names another household leaves the first household's item open again.
    for stale in session.scalars(select(SampleItem).where(SampleItem.check_submission_id == submission.id,
                                                          SampleItem.household_id != submission.household_id)):
        stale.check_submission_id, stale.comparison, stale.result, stale.checked_at = None, None, None, None
    item = sample_item_for(session, version, lock=True)
    if item is None:
        return None  # kept, not attached: the check flags it (assignment_flags)
    item.check_submission_id = submission.id
    compare_item(session, item, record)
    spot_rates.result_recorded(session, item)  # an error may order the village to redo its review
    return item


def assignment_flags(session: Session, version: SubmissionVersion) -> list[Flag]:
    """A spot check that belongs to no sample item is kept (the evidence is never refused) and
    flagged, so a supervisor files or discounts it by hand. Run with the checks (services/checks.py),
    so it survives their recomputation."""
    if version.submission.household_id is None or sample_item_for(session, version) is not None:
        return []  # one naming no household is flagged not_filed (services/checks.py)
    household = version.submission.household
    case = household.case_number
    checked = session.execute(
        select(Campaign.name, SampleItem.check_submission_id).join(Campaign, Campaign.id == SampleItem.campaign_id)
        .where(SampleItem.household_id == household.id, SampleItem.checker_id == version.submitted_by_id,
               SampleItem.result.is_not(None), Campaign.drawn_at.is_not(None))
        .order_by(Campaign.id)).all()
    if checked:
        names = "、".join(name for name, _ in checked)
        return [Flag(code="spot_check_not_attached", severity="warning", message=(
            f"户 {case} 在抽查活动“{names}”中已由另一份抽查表复核；本表已保存，但未计入比对。 "
            f"Household {case} was already checked in campaign {names} by another re-visit; this one is kept "
            "but not compared. To correct a re-visit, edit it on the phone and send it again."),
            figures={"case_number": case, "reason": "already_checked",
                     "checked_by_submission_ids": [submission_id for _, submission_id in checked]})]
    return [Flag(code="spot_check_not_attached", severity="warning", message=(
        f"户 {case} 未在任何已抽样的抽查活动中分配给您；本表已保存，但未计入任何抽查。 "
        f"Household {case} is not assigned to you in any drawn spot-check campaign; the re-visit is kept "
        "but not attached to a sample."), figures={"case_number": case, "reason": "not_assigned"})]


# --- side by side --------------------------------------------------------------------------------

def _photo(version: SubmissionVersion | None, sight: str) -> Attachment | None:
    if version is None:
        return None
    field_name = f"sight_{sight}_photo"
    return next((a for a in version.attachments if a.field.rsplit("/", 1)[-1] == field_name), None)


def _current_version(session: Session, submission_id: int | None) -> SubmissionVersion | None:
    if submission_id is None:
        return None
    return session.scalar(select(SubmissionVersion).where(SubmissionVersion.submission_id == submission_id,
                                                          SubmissionVersion.is_current.is_(True)))


def side_by_side(session: Session, item: SampleItem) -> list[dict]:
    """The stored comparison with labels, and for each sight the original's and the check's photo
    (their current versions' attachments; None where no photo was taken)."""
    original = _current_version(session, item.original_submission_id)
    check = _current_version(session, item.check_submission_id)
    rows = []
    for entry in item.comparison or []:
        zh, en = LABELS.get(entry["item"], ("入户结果", "Outcome of the re-visit"))
        row = {**entry, "label_zh": zh, "label_en": en, "photos": None}
        if entry["item"].startswith("sight_"):
            sight = entry["item"].removeprefix("sight_")
            row["photos"] = {"original": _photo(original, sight), "check": _photo(check, sight)}
        rows.append(row)
    return rows

