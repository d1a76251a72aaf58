"""After the answer to the phone: decode a received version's pictures and run its checks.

The phone waits only for what can refuse an upload (the form data, each file's type, size and
structure from its header) and for storing it durably. Decoding the pictures (EXIF time and
position, perceptual hash, thumbnail) and the checks are most of a visit's CPU, so they run here,
on versions whose `checked_at` is NULL: that column, under a partial index, is the queue.

The checks read the version's visit record (services/visits.py), made here from its XML and its
audit log, once, and stored with the flags. Then, in the same write transaction, the steps of
AFTER_CHECKS take the record: a home visit moves its household's next due date
(services/schedule.py), and a spot check is filed under its sample item and compared with the
original visit (services/spotchecks.py).

`flask checks work` takes versions one at a time (gunicorn.conf.py starts one beside the server);
with CHECKS_INLINE the submission request does it itself after its commit (tests, a one-process
install). A worker holds a version for LEASE; if it dies, another takes the version over when the
lease runs out, and a version that failed MAX_ATTEMPTS times is closed with a `checks_failed` flag
so a person reviews it by hand. Everything here may run twice on the same version and give the
same result, so a lost lease costs time, never a wrong flag.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..extensions import write_in_batches, write_transaction
from ..models import Area, Attachment, Flag, Household, SubmissionVersion, utcnow
from ..storage import LocalStorage
from . import media, schedule, spotchecks, visits
from .checks import compute_flags, replace_flags
from .visits import VisitRecord

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5

# What follows a version's checks, in order. Each step takes (session, version, record) inside the
# write transaction that stores the flags and the record, never costs the visit (a step that fails
# logs it, or leaves a flag), and returns the id of a village whose open redo order still has due
# dates to move, or None.
AFTER_CHECKS = (
    schedule.visit_stored,  # a home visit moves its household's next due date
    spotchecks.received,  # a re-visit is filed under its sample item and compared with the original
)


def needs_inspection(attachment: Attachment) -> bool:
    """A received picture not yet decoded."""
    return (attachment.sha256 is not None and attachment.inspected_at is None
            and (attachment.content_type or "").startswith("image/"))


def claim(session: Session) -> int | None:
    """Take the oldest waiting version no live worker holds; None when nothing waits. Commits."""
    now = utcnow()
    query = (
        select(SubmissionVersion.id, SubmissionVersion.check_attempts)
        .where(SubmissionVersion.checked_at.is_(None),
               or_(SubmissionVersion.check_lease_until.is_(None), SubmissionVersion.check_lease_until < now))
        .order_by(SubmissionVersion.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # workers never wait for each other
    with write_transaction(session):  # on SQLite: one claimer at a time
        row = session.execute(query).first()
        if row is not None:
            session.execute(update(SubmissionVersion).where(SubmissionVersion.id == row.id)
                            .values(check_lease_until=now + LEASE, check_attempts=row.check_attempts + 1))
    return row.id if row is not None else None


def process(session: Session, storage: LocalStorage, version_id: int, *, max_pixels: int) -> bool:
    """Decode the version's new pictures, then (once none is left) run its checks and mark it
    checked. The slow parts hold no write lock: pictures are decoded outside any transaction and
    the checks computed in a read one; the write transactions only store what was found. Returns
    False when files arrived meanwhile (do it again)."""
    version = session.get(SubmissionVersion, version_id)
    if version is None or version.checked_at is not None:
        session.rollback()
        return True
    todo = [(a.id, a.sha256, a.filename) for a in version.attachments if needs_inspection(a)]
    session.rollback()
    found: dict[int, tuple[media.ImageFacts, str] | str] = {}
    for attachment_id, sha256, filename in todo:
        try:
            facts = media.inspect_image(storage.path_of(sha256), declared_name=filename, max_pixels=max_pixels)
        except media.ImageRefused as error:
            found[attachment_id] = str(error)
        else:
            found[attachment_id] = (facts, storage.commit(storage.stage_bytes(facts.thumbnail), durable=False))
    if found:
        with write_transaction(session):
            for attachment in session.get(SubmissionVersion, version_id).attachments:
                result = found.get(attachment.id)
                if result is not None and attachment.inspected_at is None:
                    _keep_picture_facts(attachment, result)

    version = session.get(SubmissionVersion, version_id)
    if any(needs_inspection(a) for a in version.attachments):  # a re-send completed it meanwhile
        session.rollback()
        return False
    files = _files(version)
    record, flags = _check_safely(session, storage, version)
    session.rollback()

    with write_transaction(session):
        version = session.get(SubmissionVersion, version_id)
        if version.checked_at is not None:  # another worker finished it meanwhile
            return True
        if _files(version) != files:  # a re-send completed it while the checks ran
            return False
        replace_flags(session, version, flags)
        redo_villages = []
        if record is not None:
            version.record = record.to_json()
            redo_villages = [village for step in AFTER_CHECKS if (village := step(session, version, record)) is not None]
        # A re-visit whose village is (now) ordered to redo its review: the version stays unchecked,
        # in this worker's lease, until the order's due dates are moved, so that if the worker stops
        # midway the next one to take the version finishes the job.
        if not redo_villages:
            version.checked_at, version.check_lease_until = utcnow(), None
    if redo_villages:
        for village_id in redo_villages:
            move_redo_dates(session, village_id)
        with write_transaction(session):
            version = session.get(SubmissionVersion, version_id)
            if version.checked_at is None:
                version.checked_at, version.check_lease_until = utcnow(), None
    return True


def move_redo_dates(session: Session, village_id: int) -> int:
    """Date the village's households on its open redo order's day, in short write transactions
    (a village of 2,000 households takes seconds: in one transaction it would hold SQLite's write
    lock, and every supervisor's write, all that time). Idempotent, and it starts from what is left
    (schedule.households_behind_redo). Returns how many households it moved."""
    ids = schedule.households_behind_redo(session, village_id)
    if not ids:
        return 0
    on = schedule.today()
    facts = schedule.village_facts(session, session.get(Area, village_id), on)

    def move(household_id: int) -> None:
        household = session.get(Household, household_id)
        try:
            with session.begin_nested():  # one household that cannot be dated must not stop the others
                schedule.recompute_due(session, household, on=on, facts=facts)
        except Exception:
            log.exception("could not recompute the due date of household %s", household.case_number)

    return write_in_batches(ids, move, session=session)


def check(session: Session, storage: LocalStorage, version_id: int, *, max_pixels: int) -> None:
    """Process the version until no file arrived meanwhile (the worker's and CHECKS_INLINE's way)."""
    while not process(session, storage, version_id, max_pixels=max_pixels):
        pass


def work_once(session: Session, storage: LocalStorage, *, max_pixels: int) -> bool:
    """Claim and process one version. False when nothing waits."""
    version_id = claim(session)
    if version_id is None:
        return False
    try:
        check(session, storage, version_id, max_pixels=max_pixels)
    except Exception:
        log.exception("checking submission version %s failed; it will be tried again", version_id)
        session.rollback()
        _give_up_if_exhausted(session, version_id)
    return True


def phones_sending(session: Session, *, pause: timedelta, longest: timedelta) -> bool:
    """Whether a worker should leave the machine to the phones for now: uploads are arriving (the
    newest waiting version came in less than `pause` ago) and nothing has waited `longest` yet.

    Checking alongside a burst of uploads costs the uploads far more than its CPU share (its write
    transactions, fsyncs and thumbnails interleave with theirs: half the small uploads per second
    on SQLite); after the burst, or once a version has waited `longest`, the worker goes on."""
    oldest, newest = session.execute(
        select(func.min(SubmissionVersion.received_at), func.max(SubmissionVersion.received_at))
        .where(SubmissionVersion.checked_at.is_(None))
    ).one()
    session.rollback()
    now = utcnow()
    return newest is not None and now - newest < pause and now - oldest < longest


def pending(session: Session) -> tuple[int, datetime | None]:
    """How many versions wait, and since when the oldest."""
    count, oldest = session.execute(
        select(func.count(), func.min(SubmissionVersion.received_at)).where(SubmissionVersion.checked_at.is_(None))
    ).one()
    return count, oldest


def _keep_picture_facts(attachment: Attachment, result: tuple[media.ImageFacts, str] | str) -> None:
    if isinstance(result, str):
        attachment.picture_problem = result
    else:
        facts, thumbnail_sha256 = result
        attachment.width, attachment.height = facts.width, facts.height
        attachment.taken_at, attachment.camera, attachment.phash = facts.taken_at, facts.camera, facts.phash
        attachment.exif_latitude, attachment.exif_longitude = facts.latitude, facts.longitude
        attachment.thumbnail_sha256 = thumbnail_sha256
    attachment.inspected_at = utcnow()


def _files(version: SubmissionVersion) -> list[tuple[int, str | None]]:
    return [(a.id, a.sha256) for a in version.attachments]


def _check_safely(session: Session, storage: LocalStorage,
                  version: SubmissionVersion) -> tuple[VisitRecord | None, list[Flag]]:
    """The version's record, read from its XML and audit log, and its flags. A failing check must
    never cost the visit: it gets a flag saying the checks failed (and a record that cannot be read,
    no record: nothing after the checks runs on it)."""
    try:
        record = visits.record_for(version, storage)
    except Exception:
        log.exception("reading the record of submission version %s failed", version.instance_id)
        return None, [_checks_failed()]
    try:
        return record, compute_flags(session, version, record)
    except Exception:
        log.exception("checks failed on submission version %s", version.instance_id)
        return record, [_checks_failed()]


def _give_up_if_exhausted(session: Session, version_id: int) -> None:
    with write_transaction(session):
        version = session.get(SubmissionVersion, version_id)
        if version is not None and version.checked_at is None and version.check_attempts >= MAX_ATTEMPTS:
            log.error("giving up on submission version %s after %s attempts", version.instance_id, version.check_attempts)
            session.add(_checks_failed(version))
            version.checked_at, version.check_lease_until = utcnow(), None


def _checks_failed(version: SubmissionVersion | None = None) -> Flag:
    return Flag(version=version, code="checks_failed", severity="error",
                message="自动核查出错，请人工审核。The automatic checks failed; review this visit by hand.", figures={})
