"""Spot-check rates and the redo rule: errors among checked households per village, township and
campaign with a 95 % Wilson interval; a village whose error rate exceeds the campaign's threshold
is flagged to redo its review (its households fall due); checking progress per village and checker.

The error rate is errors / checked: households whose re-visit found an error (result 'error': the
assistance decision would change) among the sampled households already re-visited. The redo rule
is decided in integers: over when errors × 1000 > threshold_permille × checked (exactly at the
threshold is not over). docs/spot-checks.md explains it for supervisors, docs/decisions.md why a
village is flagged as soon as its outcome is certain.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from ..errors import AlreadyDone, Forbidden, InvalidInput
from ..models import Area, Campaign, Household, SampleItem, User, VillageRedo, utcnow
from . import audit, schedule
from .areas import is_in_reach, reach_condition

Z_95 = 1.959964  # the standard normal quantile for a two-sided 95 % interval
REASON_LENGTH = 500  # the column's length


def wilson_interval(errors: int, checked: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of errors / checked; None when nothing is checked.

    Unlike p ± z·√(p(1−p)/n) it stays within [0, 1] and is not [0, 0] for 0 errors, which matters
    with village samples of 3 to 30 households."""
    if checked == 0:
        return None
    p, n = errors / checked, checked
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def exceeds(errors: int, checked: int, threshold_permille: int) -> bool:
    """errors / checked > threshold, in integers; nothing checked is never over."""
    return checked > 0 and errors * 1000 > threshold_permille * checked


def certain_to_exceed(errors: int, sampled: int, threshold_permille: int) -> bool:
    """The village's rate over its whole sample exceeds the threshold whatever the households not
    yet checked turn out to be (even if every one of them agrees). Once the sample is fully
    checked (checked = sampled) this is exactly `exceeds`."""
    return sampled > 0 and errors * 1000 > threshold_permille * sampled


@dataclass(frozen=True)
class Figures:
    sampled: int
    checked: int
    errors: int

    @property
    def unchecked(self) -> int:
        return self.sampled - self.checked

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.sampled + other.sampled, self.checked + other.checked, self.errors + other.errors)

    def row(self, threshold_permille: int) -> dict:
        """The figures as the API shows them: rate and interval rounded to 4 places, null when
        nothing is checked."""
        interval = wilson_interval(self.errors, self.checked)
        return {
            "sampled": self.sampled, "checked": self.checked, "unchecked": self.unchecked, "errors": self.errors,
            "error_rate": round(self.errors / self.checked, 4) if self.checked else None,
            "interval_low": round(interval[0], 4) if interval else None,
            "interval_high": round(interval[1], 4) if interval else None,
            "exceeds_threshold": exceeds(self.errors, self.checked, threshold_permille),
        }


NO_FIGURES = Figures(0, 0, 0)


def _counts():
    """sampled, checked and errors as grouped SQL aggregates over sample_items."""
    return (func.count(SampleItem.id), func.count(SampleItem.checked_at),
            func.coalesce(func.sum(case((SampleItem.result == "error", 1), else_=0)), 0))


def campaign_figures(session: Session, campaign: Campaign) -> Figures:
    return Figures(*session.execute(select(*_counts()).where(SampleItem.campaign_id == campaign.id)).one())


def village_figures(session: Session, campaign_id: int, village_id: int) -> Figures:
    return Figures(*session.execute(select(*_counts()).where(
        SampleItem.campaign_id == campaign_id, SampleItem.village_id == village_id)).one())


def _in_reach(query, user: User | None):
    """Only the villages in the user's reach (None: all)."""
    if user is None or user.role == "admin":
        return query
    return query.where(SampleItem.village_id.in_(select(Area.id).where(reach_condition(user))))


def rates(session: Session, campaign: Campaign, user: User | None = None) -> dict:
    """The campaign's rates: a row per village and per township in the user's reach (None or an
    admin: all), and the whole campaign's row. One grouped query for the villages, one for the
    campaign; townships are sums of their villages."""
    threshold = campaign.error_threshold_permille
    township = aliased(Area, name="township")
    keys = (Area.id, Area.code, Area.name, township.id, township.code, township.name, township.path)
    villages = session.execute(_in_reach(
        select(*keys, *_counts())
        .join(SampleItem, SampleItem.village_id == Area.id)
        .join(township, township.id == Area.parent_id)
        .where(SampleItem.campaign_id == campaign.id)
        .group_by(*keys).order_by(Area.code), user)).all()
    flagged = {redo.village_id: redo for redo in session.scalars(
        select(VillageRedo).where(VillageRedo.campaign_id == campaign.id, VillageRedo.withdrawn_at.is_(None)))}

    village_rows, by_township, townships = [], defaultdict(lambda: NO_FIGURES), {}
    for village_id, code, name, township_id, township_code, township_name, township_path, *counts in villages:
        figures = Figures(*counts)
        redo = flagged.get(village_id)
        village_rows.append({"village_code": code, "village": name, "township_code": township_code,
                             **figures.row(threshold), "redo": redo is not None,
                             "redo_flagged_at": redo.flagged_at if redo else None})
        by_township[township_id] += figures
        townships[township_id] = (township_code, township_name, township_path)
    township_rows = []
    for township_id, (code, name, path) in sorted(townships.items(), key=lambda item: item[1][0]):
        if user is not None and user.role != "admin" and not any(path.startswith(a.path) for a in user.areas):
            continue  # a village supervisor sees their village, not the whole township
        redos = sum(1 for row in village_rows if row["township_code"] == code and row["redo"])
        township_rows.append({"township_code": code, "township": name, **by_township[township_id].row(threshold),
                              "villages_to_redo": redos})
    whole = campaign_figures(session, campaign)
    return {"threshold_permille": threshold, "villages": village_rows, "townships": township_rows,
            "campaign": {**whole.row(threshold), "villages_to_redo": len(flagged)}}


def progress(session: Session, campaign: Campaign, user: User | None = None) -> dict:
    """Checking progress: the campaign's totals, and per village and per checker (in the user's
    reach) how many are sampled or assigned, checked, and still unchecked. Grouped SQL."""
    by_village = session.execute(_in_reach(
        select(Area.code, Area.name, func.count(SampleItem.checker_id), func.count(SampleItem.id),
               func.count(SampleItem.checked_at))
        .join(SampleItem, SampleItem.village_id == Area.id).where(SampleItem.campaign_id == campaign.id)
        .group_by(Area.code, Area.name).order_by(Area.code), user)).all()
    by_checker = session.execute(_in_reach(
        select(User.username, func.count(SampleItem.id), func.count(SampleItem.checked_at))
        .join(SampleItem, SampleItem.checker_id == User.id).where(SampleItem.campaign_id == campaign.id)
        .group_by(User.username).order_by(User.username), user)).all()
    sampled, assigned, checked = session.execute(
        select(func.count(SampleItem.id), func.count(SampleItem.checker_id), func.count(SampleItem.checked_at))
        .where(SampleItem.campaign_id == campaign.id)).one()
    return {
        "sampled": sampled, "checked": checked, "unchecked": sampled - checked, "unassigned": sampled - assigned,
        "by_village": [{"village_code": code, "village": name, "sampled": n, "assigned": k, "checked": c,
                        "unchecked": n - c} for code, name, k, n, c in by_village],
        "by_checker": [{"checker": username, "assigned": n, "checked": c, "unchecked": n - c}
                       for username, n, c in by_checker],
    }


# --- the redo rule ------------------------------------------------------------------------------------

def _recompute_village(session: Session, village_id: int, *affected) -> None:
    """Move the due dates of the village's households still visited (those a flag can move) after
    the flag is set or withdrawn."""
    households = session.scalars(select(Household).where(
        Household.village_id == village_id, Household.status.in_(schedule.DUE_STATUSES), *affected))
    on = schedule.today()
    facts = schedule.village_facts(session, session.get(Area, village_id), on)
    for household in households:
        schedule.recompute_due(session, household, on=on, facts=facts)


def evaluate_village(session: Session, campaign: Campaign, village_id: int) -> VillageRedo | None:
    """Apply the redo rule to one village of a campaign; returns its open flag, if any.

    Flags the village as soon as its rate over the whole sample is certain to exceed the threshold
    (for village samples under 1000 / threshold, i.e. under 50 at 2 %, that is the first error).
    A flag is never lifted here: corrected results show in the rates, and county staff withdraw
    it (withdraw). After a withdrawal the village is flagged again only on a further error."""
    open_flag = session.scalar(select(VillageRedo).where(
        VillageRedo.campaign_id == campaign.id, VillageRedo.village_id == village_id,
        VillageRedo.withdrawn_at.is_(None)))
    if open_flag is not None:
        return open_flag
    figures = village_figures(session, campaign.id, village_id)
    if not certain_to_exceed(figures.errors, figures.sampled, campaign.error_threshold_permille):
        return None
    last_withdrawn = session.scalar(
        select(VillageRedo.errors_at_withdrawal)
        .where(VillageRedo.campaign_id == campaign.id, VillageRedo.village_id == village_id)
        .order_by(VillageRedo.withdrawn_at.desc()).limit(1))
    if last_withdrawn is not None and figures.errors <= last_withdrawn:
        return None
    flag = VillageRedo(campaign_id=campaign.id, village_id=village_id, flagged_at=utcnow(), due_on=schedule.today(),
                       sampled=figures.sampled, checked=figures.checked, errors=figures.errors,
                       threshold_permille=campaign.error_threshold_permille)
    session.add(flag)
    session.flush()
    audit.record(session, None, "redo.flagged", "village_redo", flag.id, village_id, campaign_id=campaign.id,
                 sampled=figures.sampled, checked=figures.checked, errors=figures.errors,
                 threshold_permille=campaign.error_threshold_permille)
    # Those due on the day or before already are not moved by it. The others (up to a whole village:
    # seconds of work) are moved by the check worker in short write transactions after this one
    # commits (checking.move_redo_dates, schedule.households_behind_redo), except the few visited
    # since the order's day, whose date the order may move either way: here, with the flag.
    _recompute_village(session, village_id, or_(Household.next_visit_due.is_(None), Household.next_visit_due > flag.due_on),
                       schedule.visited_since(flag.due_on))
    return flag


def result_recorded(session: Session, item: SampleItem) -> VillageRedo | None:
    """The comparison's hook, after it stores a sampled household's result: re-evaluate its
    village's redo flag (flushed, never committed). Returns the village's open flag, if any."""
    if item.result is None:
        return None
    return evaluate_village(session, item.campaign, item.village_id)


def withdraw(session: Session, user: User, redo: VillageRedo, reason: str) -> VillageRedo:
    """County staff lift a redo flag with a written reason (a result corrected, the order found
    wrong); the households no longer due by it get their own dates back. Audited."""
    reason = (reason or "").strip()
    if user.role != "county" or not is_in_reach(user, redo.village):
        raise Forbidden("A redo order is withdrawn by county staff of the village's county.")
    if not reason:
        raise InvalidInput("Say why the redo order is withdrawn.")
    if len(reason) > REASON_LENGTH:
        raise InvalidInput(f"The reason has at most {REASON_LENGTH} characters.")
    if redo.withdrawn_at is not None:
        raise AlreadyDone("This redo order is already withdrawn.")
    errors = village_figures(session, redo.campaign_id, redo.village_id).errors
    redo.withdrawn_at, redo.withdrawn_by_id, redo.withdrawn_reason = utcnow(), user.id, reason
    redo.errors_at_withdrawal = errors
    session.flush()
    audit.record(session, user, "redo.withdrawn", "village_redo", redo.id, redo.village_id,
                 campaign_id=redo.campaign_id, errors=errors)
    _recompute_village(session, redo.village_id, Household.next_visit_due <= redo.due_on)
    return redo


def redos_in_reach(user: User, *, campaign_id: int | None = None, is_open: bool | None = None):
    """A select() of the redo flags of villages in the user's reach, newest first."""
    query = select(VillageRedo).join(Area, Area.id == VillageRedo.village_id)
    if user.role != "admin":
        query = query.where(reach_condition(user))
    if campaign_id is not None:
        query = query.where(VillageRedo.campaign_id == campaign_id)
    if is_open is not None:
        query = query.where(VillageRedo.withdrawn_at.is_(None) if is_open else VillageRedo.withdrawn_at.is_not(None))
    return query.order_by(VillageRedo.flagged_at.desc(), VillageRedo.id.desc()).options(
        selectinload(VillageRedo.campaign), selectinload(VillageRedo.village).selectinload(Area.parent),
        selectinload(VillageRedo.withdrawn_by))
