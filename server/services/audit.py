"""The audit log: record who read, listed, revealed or decided what (append-only), and read it back within reach.

A decision's event is recorded in the decision's own transaction (record). A read's event is noted
while the read runs (note_read, note_list) and written by the request's boundary once the read is
done, in a short write transaction of its own before the response goes out (record_noted): so a read
never holds SQLite's write lock, and a read whose event cannot be written shows nothing."""
from __future__ import annotations

import os
from datetime import datetime

from flask import g, has_request_context, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Area, AuditEvent, Submission, User
from .areas import reach_condition


def record(session: Session, user: User | None, action: str, object_type: str, object_id, area_id: int | None = None,
           **details) -> AuditEvent:
    """Append one event; flushed, never committed (the caller's commit keeps it with the act itself).

    `details` says what was done in names and figures (fields revealed, a decision's outcome);
    never pass the personal values themselves: the log is read more widely than the case."""
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        area_id=area_id,
        details=details,
        ip=request.remote_addr if has_request_context() else None,
    )
    session.add(event)
    session.flush()
    return event


def note_read(user: User, action: str, object_type: str, object_id, area_id: int | None = None, **details) -> None:
    """An audited read's event, kept for record_noted (called at the request's boundary)."""
    g.setdefault("audit_noted", []).append(
        {"user": user, "action": action, "object_type": object_type, "object_id": object_id, "area_id": area_id,
         "details": details})


def note_list(user: User, action: str, object_type: str, filters: dict, *, object_id="", area_id: int | None = None,
              rows: int | None = None) -> None:
    """A list of personal data read: who, with which filters, and how many rows it showed. A list
    paginated in the database (server/api/pagination.py) gives its page's figures by note_page;
    others pass `rows`."""
    note_read(user, action, object_type, object_id, area_id if area_id is not None else area_of_user(user),
              filters={name: value if isinstance(value, (str, int, bool)) else str(value)
                       for name, value in filters.items()}, **({} if rows is None else {"rows": rows}))
    g.audit_noted[-1]["listed"] = True


def note_page(*, page: int, rows: int, total: int) -> None:
    """The page a paginated list showed: completes the request's noted list event."""
    g.audit_page = {"page": page, "rows": rows, "total": total}


def has_noted() -> bool:
    return bool(g.get("audit_noted"))


def record_noted(session: Session) -> None:
    """Write the events noted during this request's read (flushed, never committed)."""
    page = g.pop("audit_page", {})
    for event in g.pop("audit_noted", []):
        details = {**event["details"], **(page if event.get("listed") else {})}
        record(session, event["user"], event["action"], event["object_type"], event["object_id"], event["area_id"],
               **details)


def area_of_user(user: User) -> int | None:
    """The smallest area holding all of the user's areas (None for none): an event about what the
    user's reach holds is seen by exactly those whose reach covers all of it."""
    # An area's path is its ancestors' ids and its own: "/1/4/9/".
    common = os.path.commonprefix([area.path.strip("/").split("/") for area in user.areas])
    return int(common[-1]) if common else None


def area_of_submission(submission: Submission) -> int | None:
    """Where a submission belongs: its household's village, or the village a village-level record
    names; for any other record about no household, the
    smallest area holding all of the submitter's areas, so that exactly those who may read the
    record (their reach covers every area of the submitter's) see its events."""
    if submission.household is not None:
        return submission.household.village_id
    if submission.village_id is not None:
        return submission.village_id
    return area_of_user(submission.submitted_by)


def events_in_reach(user: User, *, user_name: str | None = None, action: str | None = None,
                    object_type: str | None = None, object_id: str | None = None, since: datetime | None = None):
    """A select() of the events the caller may read, newest first.

    Supervisors and county staff read the events of areas in their reach; administrators read the
    events about no area (accounts and tokens), not the reads and decisions about households."""
    query = select(AuditEvent)
    if user.role == "admin":
        query = query.where(AuditEvent.area_id.is_(None))
    else:
        in_reach = select(Area.id).where(reach_condition(user))
        query = query.where(AuditEvent.area_id.in_(in_reach))
    if user_name:
        query = query.where(AuditEvent.user_id.in_(select(User.id).where(User.username == user_name)))
    if action:
        # "review" matches review.decided and review.comment; "case.read" only itself.
        query = query.where(or_(AuditEvent.action == action, AuditEvent.action.startswith(action + ".", autoescape=True)))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == str(object_id))
    if since:
        query = query.where(AuditEvent.at >= since)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
