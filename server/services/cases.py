"""Household cases: reading them within a user's reach and the phone's per-caller lists."""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from ..errors import NotFound
from ..models import Area, Household, Submission, User
from .areas import reach_condition
from .schedule import REDO_LABEL, is_due_for_redo, open_redos
from .submissions import latest_household_visits

CASES_CSV_COLUMNS = ("name", "label", "village", "address", "status", "category", "next_due", "latitude", "longitude",
                     "return_reason")
# Households a caseworker still visits; removed ones leave the phone.
VISITED_STATUSES = ("applicant", "active", "suspended")


@dataclass(frozen=True)
class CsvFile:
    """A list made for the phones: its bytes, and how many rows (households, villages) it holds."""

    body: bytes
    rows: int

    @cached_property
    def md5(self) -> str:
        """The manifest's hash and the download's ETag (worked out once for a kept list)."""
        return hashlib.md5(self.body).hexdigest()


def csv_file(header: tuple[str, ...], rows) -> CsvFile:
    rows = list(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return CsvFile(buffer.getvalue().encode("utf-8"), len(rows))


def cases_csv(session: Session, user: User) -> CsvFile:
    """cases.csv for select_one_from_file: the caller's households, those whose latest visit was
    returned first (with what to re-do), then by next visit due; a household due because its
    village redoes its review after a spot check is marked in its label."""
    in_reach = select(Household.id).join(Area, Area.id == Household.village_id).where(reach_condition(user))
    latest = latest_household_visits(Submission.household_id.in_(in_reach.correlate(None)))  # not the whole database
    returned = aliased(Submission)
    redos = open_redos()
    query = (
        select(
            Household.case_number,
            Household.head_name,
            Area.name,
            Household.address,
            Household.status,
            Household.category,
            Household.next_visit_due,
            Household.latitude,
            Household.longitude,
            returned.review_reason,
            redos.c.due_on,
        )
        .join(Area, Area.id == Household.village_id)
        .outerjoin(redos, redos.c.village_id == Household.village_id)
        .outerjoin(latest, latest.c.household_id == Household.id)
        .outerjoin(returned, (returned.id == latest.c.submission_id) & (returned.review_state == "returned"))
        .where(reach_condition(user), Household.status.in_(VISITED_STATUSES))
        .order_by(returned.id.is_(None), Household.next_visit_due.asc().nulls_first(), Household.case_number)
    )
    rows = (
        (
            number,
            f"{'【退回】' if reason else ''}{REDO_LABEL if is_due_for_redo(due, redo_on) else ''}{head} · {village} · {number}",
            village,
            address,
            status,
            category or "",
            due.isoformat() if due else "",
            "" if lat is None else f"{lat:.6f}",
            "" if lon is None else f"{lon:.6f}",
            reason or "",
        )
        for number, head, village, address, status, category, due, lat, lon, reason, redo_on in session.execute(query)
    )
    return csv_file(CASES_CSV_COLUMNS, rows)


def villages_csv(session: Session, user: User) -> CsvFile:
    """villages.csv for village-level records: the caller's villages and communities."""
    query = select(Area.code, Area.name).where(reach_condition(user), Area.level == "village").order_by(Area.code)
    return csv_file(("name", "label"), session.execute(query))


def cases_in_reach(session: Session, user: User, *, village_code: str | None = None, status: str | None = None):
    query = (
        select(Household)
        .join(Area, Area.id == Household.village_id)
        .where(reach_condition(user))
        .options(selectinload(Household.village))
        .order_by(Household.case_number)
    )
    if village_code:
        query = query.where(Area.code == village_code)
    if status:
        query = query.where(Household.status == status)
    return query


def case_in_reach(session: Session, user: User, case_number: str) -> Household:
    """One household, or NotFound if it does not exist or lies outside the user's reach (no leak)."""
    household = session.scalar(
        select(Household)
        .join(Area, Area.id == Household.village_id)
        .where(Household.case_number == case_number, reach_condition(user))
        .options(selectinload(Household.members), selectinload(Household.village))
    )
    if household is None:
        raise NotFound(f"No household {case_number!r} in your areas.")
    return household
