"""Table 3 in three levels (village first opinion → township review → county decision) and case
status changes with reasons. Each level is recorded with who, when and the opinion; none is skipped."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..errors import AlreadyDecided, ApprovalUnderWay, Forbidden, InvalidInput, NotFound, OutOfOrder, TransitionRefused
from ..models import LEVELS, STATUS_REASONS, ApprovalRound, Household, LevelOpinion, StatusChange, Submission, User
from . import audit
from .cases import case_in_reach
from .schedule import recompute_due

# Who speaks for each level.
LEVEL_ROLES = {"village": ("caseworker", "supervisor"), "township": ("supervisor",), "county": ("county",)}
# Status changes allowed by hand (applicant → active only through the county's decision).
TRANSITIONS = {
    ("applicant", "removed"),
    ("active", "suspended"),
    ("suspended", "active"),
    ("active", "removed"),
    ("suspended", "removed"),
}


def open_round(session: Session, user: User, case_number: str, basis_submission_id: int | None = None) -> ApprovalRound:
    household = case_in_reach(session, user, case_number)
    if user.role not in ("caseworker", "supervisor", "county"):
        raise Forbidden("Only caseworkers, supervisors and county staff open an approval.")
    if session.scalar(select(ApprovalRound.id).where(ApprovalRound.household_id == household.id,
                                                     ApprovalRound.state == "open")) is not None:
        raise ApprovalUnderWay(f"Household {case_number} already has an approval under way.")
    if basis_submission_id is not None:
        basis = session.get(Submission, basis_submission_id)
        if basis is None or basis.household_id != household.id:
            raise InvalidInput("The visit named as the basis is not a visit of this household.")
    approval = ApprovalRound(household=household, basis_submission_id=basis_submission_id, opened_by_id=user.id)
    session.add(approval)
    session.flush()
    audit.record(session, user, "approval.opened", "case", household.case_number, household.village_id,
                 round_id=approval.id, basis_submission_id=basis_submission_id)
    return approval


def record_level(session: Session, user: User, case_number: str, round_id: int, *, level: str, outcome: str,
                 opinion: str, category: str | None = None, monthly_amount_fen: int | None = None) -> LevelOpinion:
    household = case_in_reach(session, user, case_number)
    approval = session.scalar(select(ApprovalRound).where(ApprovalRound.id == round_id,
                                                          ApprovalRound.household_id == household.id))
    if approval is None:
        raise NotFound(f"Household {case_number} has no approval {round_id}.")
    if level not in LEVELS:
        raise InvalidInput(f"A level is one of {', '.join(LEVELS)}.")
    if user.role not in LEVEL_ROLES[level]:
        raise Forbidden(f"The {level} level is recorded by {' or '.join(LEVEL_ROLES[level])} staff.")
    if approval.state != "open":
        raise AlreadyDecided(f"This approval is already {approval.state}.")
    done = [opinion.level for opinion in approval.levels]
    expected = LEVELS[len(done)]
    if level != expected:
        raise OutOfOrder(f"The {expected} level comes next; levels are recorded in order and none is skipped.")
    if outcome not in ("agree", "disagree"):
        raise InvalidInput("An outcome is agree or disagree.")
    opinion = (opinion or "").strip()
    if not opinion:
        raise InvalidInput("Write the opinion: it is signed by whoever records it.")
    if level == "county" and outcome == "agree":
        if category is None or monthly_amount_fen is None:
            raise InvalidInput("The county's approval sets the category and the monthly amount.")
        if monthly_amount_fen < 0:
            raise InvalidInput("The monthly amount cannot be negative.")
    recorded = LevelOpinion(round=approval, level=level, outcome=outcome, opinion=opinion, category=category,
                            monthly_amount_fen=monthly_amount_fen, by_id=user.id)
    session.add(recorded)
    session.flush()
    audit.record(session, user, "approval.level", "case", household.case_number, household.village_id,
                 round_id=approval.id, level=level, outcome=outcome)
    if level == "county":
        _conclude(session, user, household, approval, recorded)
    session.flush()
    return recorded


def _conclude(session: Session, user: User, household: Household, approval: ApprovalRound, decision: LevelOpinion) -> None:
    """The county decision sets the case's status, category and amount, or refuses in writing."""
    if decision.outcome == "agree":
        approval.state = "approved"
        household.category = decision.category
        household.monthly_amount_fen = decision.monthly_amount_fen
        if household.status != "active":
            _set_status(session, user, household, "active", "approved", decision.opinion)
        else:
            recompute_due(session, household)
    else:
        approval.state = "refused"
        if household.status == "applicant":
            _set_status(session, user, household, "removed", "refused", decision.opinion)


def change_status(session: Session, user: User, case_number: str, to_status: str, reason: str, note: str = "") -> StatusChange:
    """Suspend, resume or remove a case by hand (county staff), with a reason from the domain's list."""
    if user.role != "county":
        raise Forbidden("Case status is changed by county staff.")
    household = case_in_reach(session, user, case_number)
    if (household.status, to_status) not in TRANSITIONS:
        raise TransitionRefused(f"A case cannot go from {household.status} to {to_status} by hand" + (
            " (an applicant becomes active through the county's approval)." if to_status == "active" else "."))
    if reason not in STATUS_REASONS or reason in ("approved", "refused"):
        raise InvalidInput(f"Give one of the reasons: {', '.join(r for r in STATUS_REASONS if r not in ('approved', 'refused'))}.")
    return _set_status(session, user, household, to_status, reason, note)


def _set_status(session: Session, user: User, household: Household, to_status: str, reason: str, note: str) -> StatusChange:
    change = StatusChange(household_id=household.id, from_status=household.status, to_status=to_status,
                          reason=reason, note=(note or "").strip(), by_id=user.id)
    household.status = to_status
    session.add(change)
    session.flush()
    audit.record(session, user, "case.status", "case", household.case_number, household.village_id,
                 from_status=change.from_status, to_status=to_status, reason=reason, status_change_id=change.id)
    recompute_due(session, household)  # status and category decide when the next visit falls
    return change


def rounds_of(session: Session, household: Household) -> list[ApprovalRound]:
    """The household's approvals (table 3), oldest first, each with its levels and who recorded them."""
    return list(session.scalars(
        select(ApprovalRound).where(ApprovalRound.household_id == household.id)
        .options(selectinload(ApprovalRound.levels).selectinload(LevelOpinion.by)).order_by(ApprovalRound.id)
    ))


def status_changes_of(session: Session, household: Household) -> list[StatusChange]:
    """Every status change of the household, oldest first."""
    return list(session.scalars(select(StatusChange).where(StatusChange.household_id == household.id)
                                .options(selectinload(StatusChange.by)).order_by(StatusChange.id)))
