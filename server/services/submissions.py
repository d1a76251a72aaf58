"""Which submissions a user may read: the rule every reader (API, pages, exports) applies."""
from __future__ import annotations

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session, selectinload, undefer

from ..errors import NotFound
from ..models import Area, Form, Household, Submission, SubmissionVersion, User, user_areas
from .areas import reach_condition
from .forms import HOUSEHOLD_VISIT


def visible_to(user: User):
    """A SQL condition on Submission: the caller may read it.

    A submission filed under a household is visible where the household is (its village lies in the
    caller's reach); a village-level record (publicity, appraisal) where the village it names is.
    Any other record not about a single household is visible to its submitter, and to callers
    whose reach includes every area of the submitter's: a township
    supervisor sees what the township's caseworkers send; a caseworker of one village does not see
    what a colleague answering for two villages sends.
    """
    # Correlate on Submission only: reach_condition() names Area, which an enclosing query may join too.
    household_in_reach = (
        select(Household.id)
        .join(Area, Area.id == Household.village_id)
        .where(Household.id == Submission.household_id, reach_condition(user))
        .correlate(Submission)
    )
    village_in_reach = select(Area.id).where(Area.id == Submission.village_id, reach_condition(user)).correlate(Submission)
    submitter_has_areas = (
        select(user_areas.c.area_id).where(user_areas.c.user_id == Submission.submitted_by_id).correlate(Submission)
    )
    submitter_area_outside_reach = (
        select(Area.id)
        .join(user_areas, user_areas.c.area_id == Area.id)
        .where(user_areas.c.user_id == Submission.submitted_by_id, not_(reach_condition(user)))
        .correlate(Submission)
    )
    return or_(
        and_(Submission.household_id.is_not(None), exists(household_in_reach)),
        and_(Submission.household_id.is_(None), Submission.village_id.is_not(None), exists(village_in_reach)),
        and_(
            Submission.household_id.is_(None),
            Submission.village_id.is_(None),
            or_(
                Submission.submitted_by_id == user.id,
                and_(exists(submitter_has_areas), not_(exists(submitter_area_outside_reach))),
            ),
        ),
    )


def current_versions(user: User):
    """The current version of each submission the caller may see, newest submission first."""
    return (
        select(SubmissionVersion)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(SubmissionVersion.is_current, visible_to(user))
        .options(
            selectinload(SubmissionVersion.submission).selectinload(Submission.form),
            selectinload(SubmissionVersion.submission).selectinload(Submission.submitted_by),
            selectinload(SubmissionVersion.submission).selectinload(Submission.household),
            selectinload(SubmissionVersion.flags),
        )
        .order_by(Submission.created_at.desc(), Submission.id.desc())
    )


def submissions_of_household(session: Session, user: User, household: Household) -> list[SubmissionVersion]:
    return list(session.scalars(current_versions(user).where(Submission.household_id == household.id)))


def submission_in_reach(session: Session, user: User, submission_id: int) -> SubmissionVersion:
    """The current version of one submission, or NotFound whether it is missing or out of reach."""
    version = session.scalar(
        current_versions(user)
        .where(Submission.id == submission_id)
        .options(
            undefer(SubmissionVersion.record),
            selectinload(SubmissionVersion.attachments),
            selectinload(SubmissionVersion.form_version),
            selectinload(SubmissionVersion.submission).selectinload(Submission.versions).options(
                selectinload(SubmissionVersion.submitted_by), selectinload(SubmissionVersion.form_version)),
        )
    )
    if version is None:
        raise NotFound(f"No submission {submission_id} in your areas.")
    return version


def latest_household_visits(*conditions):
    """A subquery (household_id, submission_id) of each household's latest home visit, among those
    meeting `conditions`: one grouped scan instead of a lookup per household."""
    return (
        select(Submission.household_id, func.max(Submission.id).label("submission_id"))
        .join(Form, Form.id == Submission.form_pk)
        .where(Form.form_id == HOUSEHOLD_VISIT, Submission.household_id.is_not(None), *conditions)
        .group_by(Submission.household_id)
        .subquery()
    )
