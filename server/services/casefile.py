"""The case file (一户一档): everything about one household in one place, and its timeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, selectinload, undefer

from ..models import ApprovalRound, Flag, Household, StatusChange, Submission, SubmissionVersion, User
from . import eligibility
from .approvals import rounds_of, status_changes_of
from .forms import (APPLICATION, AUTHORIZATION, DECLARATION, HOUSEHOLD_VISIT, RELATIVE_REGISTRATION, REVIEW_APPROVAL,
                    SPOT_CHECK)
from .submissions import current_versions
from .visits import record_of

# The three books and the three tables, by the form that records each.
DOCUMENTS = {
    APPLICATION: ("申请书", "application"),
    DECLARATION: ("家庭财产声明及如实申报承诺书", "income and property declaration"),
    AUTHORIZATION: ("家庭经济状况核对授权委托书", "authorisation to verify finances"),
    HOUSEHOLD_VISIT: ("家庭信息采集及入户调查情况表", "table 1: household information and home visit"),
    RELATIVE_REGISTRATION: ("近亲属享受低保备案表", "table 2: near-relative registration"),
    REVIEW_APPROVAL: ("审核审批表", "table 3: review and approval"),
}


@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # visit.received, visit.edited, spot_check.received, review.approved, status.active ...
    text: str
    by: str | None
    submission_id: int | None = None


@dataclass
class CaseFile:
    household: Household
    latest_visit: SubmissionVersion | None
    documents: dict[str, SubmissionVersion | None]
    flags: list[Flag]
    eligibility: dict | None
    approvals: list[ApprovalRound]
    status_changes: list[StatusChange]
    timeline: list[TimelineEvent] = field(default_factory=list)

    @property
    def members(self):
        return self.household.members


def build(session: Session, user: User, household: Household) -> CaseFile:
    """The case file as the caller may see it (submissions within their reach)."""
    versions = list(session.scalars(
        current_versions(user)
        .where(Submission.household_id == household.id)
        .options(undefer(SubmissionVersion.record), selectinload(SubmissionVersion.attachments),
                 selectinload(SubmissionVersion.form_version),
                 selectinload(SubmissionVersion.submission).selectinload(Submission.review_events),
                 selectinload(SubmissionVersion.submission).selectinload(Submission.versions))
    ))  # newest first
    newest: dict[str, SubmissionVersion] = {}
    for version in versions:
        newest.setdefault(version.submission.form.form_id, version)
    latest_visit = newest.get(HOUSEHOLD_VISIT)
    approvals = rounds_of(session, household)
    status_changes = status_changes_of(session, household)
    return CaseFile(
        household=household,
        latest_visit=latest_visit,
        documents={form_id: newest.get(form_id) for form_id in DOCUMENTS},
        flags=[flag for version in versions for flag in version.flags],
        eligibility=_eligibility(session, household, latest_visit),
        approvals=approvals,
        status_changes=status_changes,
        timeline=_timeline(versions, approvals, status_changes),
    )


def _eligibility(session: Session, household: Household, visit: SubmissionVersion | None) -> dict | None:
    """Worked from the latest visit (its record) when its outcome was done, on its visit date."""
    record = record_of(visit) if visit is not None else None
    if record is None or record.outcome != "done":
        return None
    return eligibility.as_json(eligibility.compute(session, household, record.by_name, record.visit_date))


def _timeline(versions: list[SubmissionVersion], approvals: list[ApprovalRound],
              status_changes: list[StatusChange]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for current in versions:
        submission = current.submission
        form_id = submission.form.form_id
        noun = {HOUSEHOLD_VISIT: "visit", SPOT_CHECK: "spot_check"}.get(form_id, "form")
        for version in submission.versions:
            edited = version.deprecated_id is not None
            events.append(TimelineEvent(
                at=version.received_at, kind=f"{noun}.{'edited' if edited else 'received'}",
                text=f"{form_id} {'corrected' if edited else 'received'}", by=version.submitted_by.username,
                submission_id=submission.id))
        for event in submission.review_events:
            events.append(TimelineEvent(at=event.created_at, kind=f"review.{event.kind}", text=event.text,
                                        by=event.author.username, submission_id=submission.id))
    for approval in approvals:
        for opinion in approval.levels:
            events.append(TimelineEvent(at=opinion.at, kind=f"approval.{opinion.level}.{opinion.outcome}",
                                        text=opinion.opinion, by=opinion.by.username))
    for change in status_changes:
        events.append(TimelineEvent(at=change.at, kind=f"status.{change.to_status}",
                                    text=f"{change.from_status} → {change.to_status}: {change.reason}"
                                         + (f" ({change.note})" if change.note else ""), by=change.by.username))
    return sorted(events, key=lambda event: event.at)
