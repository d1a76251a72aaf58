"""When each household is next due for a home visit (动态管理), from its county's frequency rules.

A household falls under one rule (classify): its category is re-checked yearly (三无, class A);
else, with a member able to work and an income that can change from month to month, "unstable"
(monthly in towns, quarterly in villages); else "stable" (every six months). Who can work and what
they earn come from the latest completed visit's members (the roster's members before any visit).
On top, the annual review: an active or suspended household not visited since the window opened is
due by the window's end; and a village ordered to redo its review after a spot check (village_redos)
has every household not visited since the order due on the order's day. docs/schedule.md explains
it for supervisors.
"""
from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload, undefer

from ..config import LOCAL_TZ
from ..errors import InvalidInput
from ..models import (CATEGORIES, WORK_CAPACITIES, Area, Form, Household, Submission, SubmissionVersion,
                      VillageRedo, VisitFrequencyRules)
from .areas import county_id_of
from .forms import HOUSEHOLD_VISIT
from .visits import VisitRecord, record_of

log = logging.getLogger(__name__)

DUE_STATUSES = ("applicant", "active", "suspended")  # removed households are never due
ANNUAL_REVIEW_STATUSES = ("active", "suspended")  # applicants are visited by the application itself
REDO_REASON = ("本村抽查差错率超标，全村重新入户核查 / the village's spot-check error rate exceeded the county's "
               "threshold: every household is visited again")
REDO_LABEL = "【全村重查】"  # marks such a household in the phone's list


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


# --- the rules in force ---------------------------------------------------------------------------

def rules_for(session: Session, county_id: int | None, on: date | None = None) -> VisitFrequencyRules:
    """The county's rules in force on a date (its latest row not after it), or the defaults: an
    unsaved row, whose attributes are the columns' defaults."""
    on = on or today()
    row = None
    if county_id is not None:
        row = session.scalar(VisitFrequencyRules.in_force(county_id, on))
    return row if row is not None else default_rules(county_id)


def default_rules(county_id: int | None = None) -> VisitFrequencyRules:
    """A transient row holding every column default (never added to the session)."""
    values = {column.key: column.default.arg for column in VisitFrequencyRules.__table__.columns
              if column.default is not None and not callable(column.default.arg)}
    return VisitFrequencyRules(county_id=county_id, **values)


# --- dates ----------------------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it is shorter (31 Jan + 1 = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _day_in(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def review_window(rules: VisitFrequencyRules, year: int) -> tuple[date, date]:
    """The annual review that opens in `year`: (first day, last day), both inclusive."""
    start = _day_in(year, rules.review_start_month, rules.review_start_day)
    end = _day_in(year, rules.review_end_month, rules.review_end_day)
    if end < start:  # e.g. December to January: it ends in the next year
        end = _day_in(year + 1, rules.review_end_month, rules.review_end_day)
    return start, end


def next_review_window(rules: VisitFrequencyRules, last_visit: date) -> tuple[date, date]:
    """The first annual review that opens after the last visit (a visit on its first day counts
    for it, so the next one is a year on)."""
    start, end = review_window(rules, last_visit.year)
    if last_visit >= start:
        start, end = review_window(rules, last_visit.year + 1)
    return start, end


# --- which rule ------------------------------------------------------------------------------------

class Interval(NamedTuple):
    months: int
    explanation: str


@dataclass(frozen=True)
class Classification:
    rule: str  # "yearly", "stable", "unstable_urban", "unstable_rural"
    months: int
    explanation: str


def _money(value) -> Decimal:
    try:
        return Decimal(str(value or "0").strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def household_visits(session: Session, household: Household, *, fresh: VisitRecord | None = None) -> list[VisitRecord]:
    """The records of the household's current household_visit versions, oldest first (visit date,
    then receipt). `fresh`: a record just read whose version's stored one is not yet written (the
    checks of that version); it stands for its version's."""
    rows = session.execute(
        select(SubmissionVersion, Submission.created_at)
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .join(Form, Form.id == Submission.form_pk)
        .where(Submission.household_id == household.id, Form.form_id == HOUSEHOLD_VISIT,
               SubmissionVersion.is_current.is_(True))
        .options(undefer(SubmissionVersion.record))
    ).all()
    visits = []
    for version, received in rows:
        record = fresh if fresh is not None and fresh.version_id == version.id else record_of(version)
        visits.append((record.visit_date, received, version.id, record))
    visits.sort(key=lambda row: row[:3])
    return [row[3] for row in visits]


def _latest_done(visits: list[VisitRecord]) -> VisitRecord | None:
    return next((v for v in reversed(visits) if v.outcome == "done"), None)


def classify(rules: VisitFrequencyRules, household: Household, visit: VisitRecord | None) -> Classification:
    """Which frequency rule the household falls under, and why, in words a supervisor can check."""
    yearly = set(rules.yearly_categories.split())
    if household.category and household.category in yearly:
        return Classification("yearly", rules.yearly_months,
                              f"类别 {household.category}（三无等）每年核查一次 / category {household.category} "
                              f"(三无 and the like): every {rules.yearly_months} months")
    able = set(rules.able_to_work.split())
    if visit is not None and visit.by_name.get("members"):
        members = [
            {"name": m.get("member_name") or "", "capacity": m.get("work_capacity") or "",
             "operating": _money(m.get("income_operating_gross")), "wage": _money(m.get("income_wage")),
             "wage_proven": m.get("wage_proven") == "yes",
             "other": _money(m.get("income_property")) + _money(m.get("income_transfer"))}
            for m in visit.by_name["members"]
        ]
        source = f"the visit of {visit.visit_date.isoformat()}"
    else:
        members = [{"name": m.name, "capacity": m.work_capacity or "", "operating": None, "wage": None,
                    "wage_proven": False, "other": None} for m in household.members]
        source = "the roster (no completed visit yet)"
    workers = [m for m in members if m["capacity"] in able]
    if not workers and household.category == "C" and not any(m["capacity"] for m in members):
        workers = [{"name": "", "operating": None, "wage": None, "wage_proven": False, "other": None}]  # class C: able to work
    reasons = []
    if workers:
        if all(m["operating"] is None for m in workers):
            reasons.append("members able to work, income not yet recorded")
        if rules.unstable_if_operating_income and any(m["operating"] for m in members if m["operating"] is not None):
            reasons.append("operating income (farming, business)")
        if rules.unstable_if_wage_unproven and any(m["wage"] and not m["wage_proven"] for m in members):
            reasons.append("a wage without proof")
        if rules.unstable_if_able_without_income and any(
                m["operating"] is not None and not (m["operating"] or m["wage"] or m["other"]) for m in workers):
            reasons.append("a member able to work without income")
    if reasons:
        urban = household.residence == "urban"
        months = rules.unstable_urban_months if urban else rules.unstable_rural_months
        return Classification(
            "unstable_urban" if urban else "unstable_rural", months,
            f"收入不稳定且有劳动能力成员，{'城市按月' if urban else '农村按季'}核查 / unstable income with members "
            f"able to work ({'; '.join(reasons)}; from {source}), {'urban' if urban else 'rural'}: "
            f"every {months} month{'s' if months != 1 else ''}")
    why = "no member able to work" if not workers else "every member able to work has a proven, steady income"
    return Classification("stable", rules.stable_months,
                          f"收入基本稳定，每半年核查 / stable income ({why}; from {source}): "
                          f"every {rules.stable_months} months")


def interval_for(session: Session, household: Household) -> Interval:
    """(months until the next visit, the rule that says so), from the latest completed visit."""
    rules = rules_for(session, county_id_of(household.village))
    found = classify(rules, household, _latest_done(household_visits(session, household)))
    return Interval(found.months, found.explanation)


# --- the next due date ----------------------------------------------------------------------------

def next_due(session: Session, household: Household, last_visit_date: date, *,
             rules: VisitFrequencyRules | None = None, interval: Interval | None = None) -> date:
    """When the next visit is due after a completed visit on last_visit_date: the interval of the
    household's rule, or the end of the first annual review opening after that visit, if sooner."""
    rules = rules or rules_for(session, county_id_of(household.village))
    months = (interval or interval_for(session, household)).months
    due = add_months(last_visit_date, months)
    if rules.annual_review and household.status in ANNUAL_REVIEW_STATUSES:
        due = min(due, next_review_window(rules, last_visit_date)[1])
    return due


def open_redos():
    """A subquery (village_id, due_on) of the villages ordered to redo their review: the earliest
    open flag of each (a village flagged by two campaigns is due from the first)."""
    return (select(VillageRedo.village_id, func.min(VillageRedo.due_on).label("due_on"))
            .where(VillageRedo.withdrawn_at.is_(None)).group_by(VillageRedo.village_id).subquery())


def redo_due_on(session: Session, village_id: int) -> date | None:
    """The day a village's open redo order makes its households due, or None."""
    redos = open_redos()
    return session.scalar(select(redos.c.due_on).where(redos.c.village_id == village_id))


def is_due_for_redo(next_visit_due: date | None, redo_on: date | None) -> bool:
    """Whether a household is due because of its village's redo: the village has an open order and
    the household's date is not after it (a visit since the order moves the date past it)."""
    return redo_on is not None and next_visit_due is not None and next_visit_due <= redo_on


def visited_since(day: date):
    """A condition on Household: a household_visit of it first arrived on or after this local day
    (a visit's date is never after the day it arrived, see visits.visit_date)."""
    return exists(select(Submission.id).join(Form, Form.id == Submission.form_pk).where(
        Submission.household_id == Household.id, Form.form_id == HOUSEHOLD_VISIT,
        Submission.created_at >= datetime.combine(day, time.min, tzinfo=LOCAL_TZ)))


def households_behind_redo(session: Session, village_id: int) -> list[int]:
    """Ids of the village's households its open redo order has not made due yet: still visited,
    dated after the order's day (or undated) and not visited since it. recompute_due dates each of
    them on the order's day, so the list is empty once an order's dates are all moved: a worker
    that stopped midway finds here what is left. (Households visited since the order's day are
    not here: their own visit's recompute took the order into account.)"""
    redo_on = redo_due_on(session, village_id)
    if redo_on is None:
        return []
    return list(session.scalars(
        select(Household.id).where(
            Household.village_id == village_id, Household.status.in_(DUE_STATUSES),
            or_(Household.next_visit_due.is_(None), Household.next_visit_due > redo_on), ~visited_since(redo_on))
        .order_by(Household.id)))


class VillageFacts(NamedTuple):
    """What every household of a village shares for its due date: read once for a whole village."""

    rules: VisitFrequencyRules  # the county's rules in force
    redo_on: date | None  # the day an open redo order makes the village due, if any


def village_facts(session: Session, village: Area, on: date) -> VillageFacts:
    return VillageFacts(rules_for(session, county_id_of(village), on), redo_due_on(session, village.id))


def recompute_due(session: Session, household: Household, *, on: date | None = None,
                  facts: VillageFacts | None = None) -> date | None:
    """Set household.next_visit_due from its visits (flushed, never committed) and return it.

    From the latest completed visit by its rule; a later visit that found nobody at home (or was
    refused, or the family had moved) leaves it due again not_home_retry_days after that attempt,
    never sooner than it already was. An open redo order of its village (a spot check found too
    many errors) makes it due on the order's day unless it was visited on or after that day; then
    only attempts since the order put it off. Without any completed visit: an applicant is due since its
    application came in; another household keeps the roster's date, or none (never visited: the
    top of the due list). Removed: never due. `facts`: the village's, when recomputing many of its
    households (read here otherwise)."""
    on = on or today()
    if household.status not in DUE_STATUSES:
        household.next_visit_due = None
        session.flush()
        return None
    rules, redo_on = facts or village_facts(session, household.village, on)
    visits = household_visits(session, household)
    done = _latest_done(visits)
    if done is not None:
        found = classify(rules, household, done)
        due = next_due(session, household, done.visit_date, rules=rules,
                       interval=Interval(found.months, found.explanation))
    elif household.status == "applicant":
        due = household.created_at.astimezone(LOCAL_TZ).date()  # due since the application came in
    else:
        due = household.next_visit_due  # the roster's date, or None: never visited
    attempts = visits[visits.index(done) + 1:] if done is not None else visits  # none of them done
    if redo_on is not None and (done is None or done.visit_date < redo_on):
        due = redo_on if due is None else min(due, redo_on)
        attempts = [a for a in attempts if a.visit_date >= redo_on]  # only a redo attempt puts it off
    if attempts:
        again = attempts[-1].visit_date + timedelta(days=rules.not_home_retry_days)
        due = again if due is None else max(due, again)
    household.next_visit_due = due
    session.flush()
    return due


def visit_stored(session: Session, version: SubmissionVersion, record: VisitRecord) -> int | None:
    """A step after a version's checks (services/checking.py): a household_visit moves its
    household's due date (it orders no village's redo: None). A failure here never costs the
    visit: logged, and the date is left for `recompute-due`."""
    household = version.submission.household
    if household is None or record.form_id != HOUSEHOLD_VISIT:
        return None
    try:
        with session.begin_nested():
            recompute_due(session, household)
    except Exception:
        log.exception("could not recompute the due date of household %s", household.case_number)
    return None


# --- lists ----------------------------------------------------------------------------------------

def due_query(user_reach, *, before: date, village_code: str | None = None):
    """Households in reach still visited, due on or before `before` or never dated, most urgent first
    (undated first: never visited)."""
    query = (
        select(Household)
        .join(Area, Area.id == Household.village_id)
        .where(user_reach, Household.status.in_(DUE_STATUSES),
               (Household.next_visit_due.is_(None)) | (Household.next_visit_due <= before))
        .options(selectinload(Household.village))
        .order_by(Household.next_visit_due.asc().nulls_first(), Household.case_number)
    )
    return query.where(Area.code == village_code) if village_code else query


def overdue_query(user_reach, *, on: date, village_code: str | None = None):
    """Households in reach whose due date has passed (or was never set), by village, the longest
    overdue first within it."""
    query = (
        select(Household)
        .join(Area, Area.id == Household.village_id)
        .where(user_reach, Household.status.in_(DUE_STATUSES),
               (Household.next_visit_due.is_(None)) | (Household.next_visit_due < on))
        .options(selectinload(Household.village).selectinload(Area.parent))
        .order_by(Area.code, Household.next_visit_due.asc().nulls_first(), Household.case_number)
    )
    if village_code:
        query = query.where(Area.code == village_code)
    return query


def households_to_recompute(session: Session, county_code: str | None = None):
    """Ids of the households a rule change may move (not removed), in one county or everywhere."""
    query = select(Household.id).join(Area, Area.id == Household.village_id).where(
        Household.status.in_(DUE_STATUSES)).order_by(Household.id)
    if county_code:
        query = query.where(Area.code.startswith(county_code))
    return list(session.scalars(query))


# --- changing the rules ---------------------------------------------------------------------------

RULE_FIELDS = (
    "yearly_categories", "able_to_work", "unstable_if_operating_income", "unstable_if_wage_unproven",
    "unstable_if_able_without_income", "yearly_months", "stable_months", "unstable_urban_months",
    "unstable_rural_months", "not_home_retry_days", "annual_review", "review_start_month", "review_start_day",
    "review_end_month", "review_end_day",
)


def set_rules(session: Session, county: Area, effective_from: date, **values) -> VisitFrequencyRules:
    """The county's rules from a date on: what is not given is carried over from the rules in force
    the day before. A row for the same date is updated (a correction), else one is added; earlier
    rows stay, so what was in force when is kept. Run `flask households recompute-due` afterwards."""
    if county.level != "county":
        raise InvalidInput(f"Frequency rules belong to a county; {county.code} is a {county.level}.")
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown rule(s): {', '.join(sorted(unknown))}.")
    for name in ("yearly_categories", "able_to_work"):
        if name in values:
            values[name] = " ".join(values[name].split())
    if "yearly_categories" in values and not set(values["yearly_categories"].split()) <= set(CATEGORIES):
        raise InvalidInput(f"yearly_categories lists categories among {', '.join(CATEGORIES)}.")
    if "able_to_work" in values and not set(values["able_to_work"].split()) <= set(WORK_CAPACITIES):
        raise InvalidInput(f"able_to_work lists work capacities among {', '.join(WORK_CAPACITIES)}.")
    row = session.scalar(select(VisitFrequencyRules).where(VisitFrequencyRules.county_id == county.id,
                                                           VisitFrequencyRules.effective_from == effective_from))
    if row is None:
        before = rules_for(session, county.id, effective_from - timedelta(days=1))
        row = VisitFrequencyRules(county_id=county.id, effective_from=effective_from,
                                  **{name: getattr(before, name) for name in RULE_FIELDS})
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    for month_field, day_field in (("review_start_month", "review_start_day"), ("review_end_month", "review_end_day")):
        month, day = getattr(row, month_field), getattr(row, day_field)
        if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
            raise InvalidInput(f"{month}-{day} is not a day of the year ({month_field}, {day_field}).")
    for name in ("yearly_months", "stable_months", "unstable_urban_months", "unstable_rural_months",
                 "not_home_retry_days"):
        if getattr(row, name) < 1:
            raise InvalidInput(f"{name} must be at least 1.")
    session.flush()
    return row
