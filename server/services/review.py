"""Reviewing visits: approve, return (what to re-do) or reject, with comments; a signed trail."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..errors import AlreadyDecided, ChecksPending, Forbidden, InvalidInput, OwnVisit, StaleVersion
from ..models import ReviewEvent, Submission, User, utcnow
from . import audit
from .submissions import submission_in_reach

COMMENT_LENGTH = 4000

DECISIONS = {"approve": "approved", "return": "returned", "reject": "rejected"}
REVIEWER_ROLES = ("supervisor", "county")


def decide(session: Session, user: User, submission_id: int, decision: str, reason: str, version: int) -> Submission:
    """Record a decision on a received visit. `version` is the row version the reviewer saw: if
    someone decided in between, this one is refused (409) rather than silently overwriting."""
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("Only supervisors and county staff review visits.")
    current = submission_in_reach(session, user, submission_id)
    submission = current.submission
    if decision not in DECISIONS:
        raise InvalidInput(f"A decision is one of {', '.join(DECISIONS)}.")
    reason = (reason or "").strip()
    if decision != "approve" and not reason:
        raise InvalidInput("Say why: a returned visit tells the caseworker what to re-do; a rejection is written.")
    if submission.submitted_by_id == user.id:
        raise OwnVisit("You sent this visit; someone else reviews it (谁调查谁签字).")
    if submission.review_state != "received":
        raise AlreadyDecided(f"This visit is already {submission.review_state}; a corrected version comes back "
                             "for review.")
    if decision == "approve" and current.checked_at is None:
        raise ChecksPending("This visit's photos and checks are still being processed; approve it in a minute, "
                            "once its flags are known.")
    state = DECISIONS[decision]
    changed = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.row_version == version)
        .values(review_state=state, review_reason=reason, reviewed_by_id=user.id, reviewed_at=utcnow(),
                row_version=Submission.row_version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed == 0:
        raise StaleVersion("Someone else decided on this visit meanwhile; reload it and look again.")
    event = ReviewEvent(submission_id=submission.id, kind=state, text=reason, author_id=user.id)
    session.add(event)
    session.flush()
    session.refresh(submission)
    # The reason's text stays in the review trail, where only readers of the visit see it.
    audit.record(session, user, "review.decided", "submission", submission.id, audit.area_of_submission(submission),
                 decision=state, review_event_id=event.id)
    return submission


def comment(session: Session, user: User, submission_id: int, text: str) -> ReviewEvent:
    """Anyone who may read a visit may comment on it (a question, an answer)."""
    submission = submission_in_reach(session, user, submission_id).submission
    text = (text or "").strip()
    if not text:
        raise InvalidInput("A comment needs some text.")
    if len(text) > COMMENT_LENGTH:
        raise InvalidInput(f"A comment is at most {COMMENT_LENGTH:,} characters.")
    event = ReviewEvent(submission_id=submission.id, kind="comment", text=text, author_id=user.id)
    session.add(event)
    session.flush()
    audit.record(session, user, "review.comment", "submission", submission.id, audit.area_of_submission(submission),
                 review_event_id=event.id)
    return event


def resubmitted(session: Session, submission: Submission, by: User) -> None:
    """A corrected version of a returned visit re-enters review."""
    if submission.review_state == "returned":
        submission.review_state = "received"
        submission.review_reason = ""
        submission.row_version += 1
        session.add(ReviewEvent(submission_id=submission.id, kind="resubmitted", text="", author_id=by.id))
