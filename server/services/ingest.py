"""Receiving a submission from a phone: stored whole, exactly once, filed under its household.

The view stages every uploaded part to disk (hashed while written) before calling prepare(), which
checks the form data and each picture's header and moves the files into storage (fsynced);
receive() decides and adds the rows; the view commits, and only then answers 201/202. A race on
the same instanceID ends in the database's unique constraint; the view retries, and the loser sees
the winner's row (202). Decoding the pictures, the checks and the household's next due date come
after the answer (services/checking.py): every new or completed version waits for them with
checked_at NULL.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ..errors import (AlreadyCorrected, AttachmentRefused, FileDiffers, Forbidden, FormDataInvalid, InstanceIdTaken,
                      NotFound, OutsideReach, UnknownDeprecatedId, UnknownFormVersion)
from ..models import (RESIDENCES, Area, Attachment, Form, FormVersion, Household, Submission, SubmissionVersion, User,
                      utcnow)
from ..storage import LocalStorage, StagedFile
from . import media, review
from .areas import areas_in_reach, is_in_reach, reaches
from .forms import HOUSEHOLD_VISIT, structure_of_version
from .xforms import (FormStructure, InstanceInvalid, answer_geopoint, answer_instant, find_text, leaves, local,
                     parse_instance)

log = logging.getLogger(__name__)

# A file name the XML gives: no folder, and no control character (a CR or LF cannot travel in the
# multipart header that must name the file, so its visit would wait for it for good).
SAFE_FILENAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")
# What an attachment row knows of its file; a correction's files not sent again carry these over.
FILE_FACTS = ("sha256", "size", "content_type", "received_at", "width", "height", "taken_at", "exif_latitude",
              "exif_longitude", "camera", "phash", "thumbnail_sha256", "inspected_at", "picture_problem")


# The statements every upload runs, built once (building one costs more than running it).
# The form, its version, and whether this instance is on the server already with which of its
# files (a row per file):
_FORM_AND_INSTANCE = (
    select(Form.id.label("form_pk"), Form.roles, FormVersion.id.label("version_pk"), FormVersion.md5,
           SubmissionVersion.id.label("stored_version_id"), Attachment.sha256)
    .where(Form.form_id == bindparam("form_id"))
    .outerjoin(FormVersion, (FormVersion.form_pk == Form.id) & (FormVersion.version == bindparam("version")))
    .outerjoin(SubmissionVersion, (SubmissionVersion.form_pk == Form.id)
               & (SubmissionVersion.instance_id == bindparam("instance_id")))
    .outerjoin(Attachment, Attachment.version_id == SubmissionVersion.id)
)
_HOUSEHOLD = (select(Household.id, Household.latitude, Area.path).join(Area, Area.id == Household.village_id)
              .where(Household.case_number == bindparam("case_id")))
_ID_LENGTH = SubmissionVersion.__table__.c.instance_id.type.length  # instanceID and deprecatedID
_INSERT_SUBMISSION = insert(Submission.__table__).returning(Submission.id)
_INSERT_VERSION = insert(SubmissionVersion.__table__).returning(SubmissionVersion.id)
_INSERT_ATTACHMENTS = insert(Attachment.__table__)


@dataclass
class Received:
    status: int  # 201 stored (or completed), 202 already had everything
    message: str
    version_id: int


@dataclass
class Upload:
    """One staged multipart part, with what its picture header said (kept across retries)."""

    filename: str
    staged: StagedFile
    header: media.ImageHeader | None = None


@dataclass(frozen=True)
class NamedHousehold:
    """The household a form's case_id names: its id, and whether a visit has placed it yet."""

    id: int
    placed: bool


@dataclass
class Prepared:
    """What the read phase found: the form, the instance and its files (already stored)."""

    form_pk: int
    form_id: str
    form_version_id: int
    structure: FormStructure
    root: object
    xml: bytes
    xml_sha256: str
    instance_id: str
    deprecated_id: str | None
    expected: dict[str, str]  # file name -> field
    household: NamedHousehold | None  # the household case_id names, in the caller's areas
    village_id: int | None  # the village a village-level record names, in the caller's areas
    applicant: dict | None  # a new applicant's case to make (village_code and Household fields), checked
    seen: bool  # a version with this instanceID was on the server (or a concurrent post may have stored one)


def prepare(session: Session, storage: LocalStorage, user: User, xml: bytes, uploads: dict[str, Upload],
            *, max_pixels: int) -> Prepared:
    """The read phase, outside the write transaction: check the form data, then each picture's
    header, and move every new file the XML names into storage (fsynced). Slow work here keeps the
    write lock short; a file stored for a submission that then fails is swept as an orphan."""
    try:
        root = parse_instance(xml)
    except InstanceInvalid as error:
        raise FormDataInvalid(str(error)) from None
    form_id, version_string = root.get("id"), root.get("version")
    if not form_id:
        raise FormDataInvalid("The form data names no form (its root element has no id).")
    instance_id = find_text(root, "meta/instanceID")
    found = session.execute(_FORM_AND_INSTANCE, {"form_id": form_id, "version": version_string or "",
                                                  "instance_id": instance_id}).all()
    if not found:
        raise NotFound(f"The server has no form {form_id!r}. Download the forms again.")
    form = found[0]
    if form.version_pk is None:
        raise UnknownFormVersion(f"Version {version_string!r} of form {form_id!r} was never published on this server.")
    if user.role not in form.roles:
        raise Forbidden(f"Your role ({user.role}) does not fill the form {form_id!r}.")
    structure = structure_of_version(form.version_pk, form.md5, lambda: session.get(FormVersion, form.version_pk).xml)
    if local(root.tag) != structure.root_name:
        raise FormDataInvalid(f"The form data's root element <{local(root.tag)}> does not match form {form_id!r}.")
    if not instance_id:
        raise FormDataInvalid("The form data has no meta/instanceID.")
    deprecated_id = find_text(root, "meta/deprecatedID") or None
    for name, value in (("instanceID", instance_id), ("deprecatedID", deprecated_id or "")):
        if len(value) > _ID_LENGTH:
            raise FormDataInvalid(f"The form data's meta/{name} is longer than {_ID_LENGTH} characters.")
    # Refuse a household outside the caller's areas before any of its photos is stored.
    household = _named_household(session, user, root)
    village = _named_village(session, user, root)
    applicant = _applicant(session, user, root) if _is_new_applicant(form_id, root) else None
    prepared = Prepared(
        form_pk=form.form_pk, form_id=form_id, form_version_id=form.version_pk, structure=structure, root=root,
        xml=xml, household=household, village_id=village.id if village else None, applicant=applicant,
        seen=form.stored_version_id is not None, xml_sha256=hashlib.sha256(xml).hexdigest(), instance_id=instance_id,
        deprecated_id=deprecated_id, expected=_expected_files(root, structure),
    )
    already = {sha256 for *_, sha256 in found if sha256}
    fresh = [(uploads[filename], field) for filename, field in prepared.expected.items()
             if filename in uploads and uploads[filename].staged.sha256 not in already]  # a re-send's are not redone
    for upload, field in fresh:
        _check_picture(upload, field in structure.image_fields, max_pixels)
    storage.commit_all([upload.staged for upload, _ in fresh])
    return prepared


def receive(session: Session, storage: LocalStorage, user: User, prepared: Prepared, uploads: dict[str, Upload],
            *, max_pixels: int) -> Received:
    """The write phase: decide and add the rows. Retried whole on a lost race (with prepared.seen set)."""
    instance_id, structure = prepared.instance_id, prepared.structure
    existing = None
    if prepared.seen:  # otherwise a new version is inserted, and the unique index catches a race
        # Locked (PostgreSQL; SQLite's write transaction holds the whole database), its files loaded
        # only after the lock: concurrent re-sends completing its files are decided one at a time, each
        # on what the one before committed (READ COMMITTED reads afresh at each statement). Unlocked,
        # two phones sending different bytes for one missing photo were both told it was received.
        existing = session.scalar(
            select(SubmissionVersion)
            .where(SubmissionVersion.form_pk == prepared.form_pk, SubmissionVersion.instance_id == instance_id)
            .with_for_update()
        )
    if existing is not None:
        if existing.xml_sha256 != prepared.xml_sha256:
            raise InstanceIdTaken(
                f"A different submission with the instanceID {instance_id} is already on the server. "
                "To correct a sent form, edit it on the phone so it is sent as a new version."
            )
        added = _complete(session, storage, existing, uploads, structure, max_pixels)
        missing = [a.filename for a in existing.attachments if a.sha256 is None]
        if added:
            return Received(201, f"Received {added} more file(s); {_waiting(missing, 'thank you.')}", existing.id)
        return Received(202, f"Already received; {_waiting(missing, 'nothing new.')}", existing.id)

    household = prepared.household
    previous = None
    if prepared.deprecated_id:
        previous = session.scalar(
            select(SubmissionVersion).where(SubmissionVersion.form_pk == prepared.form_pk,
                                            SubmissionVersion.instance_id == prepared.deprecated_id)
        )
        if previous is None:
            raise UnknownDeprecatedId(f"The form this one corrects ({prepared.deprecated_id}) is not on the server; "
                                      "send that one first.")
        if not previous.is_current:
            raise AlreadyCorrected(f"The form this one corrects ({prepared.deprecated_id}) was already corrected by "
                                   "another version.")
        submission = previous.submission
        if household is not None:
            submission.household_id = household.id  # a correction may name another of the caller's households
        elif submission.household is not None:
            household = NamedHousehold(submission.household.id, placed=submission.household.latitude is not None)
        if prepared.village_id is not None:
            submission.village_id = prepared.village_id
        previous.is_current = False
        review.resubmitted(session, submission, user)  # a returned visit, corrected, is reviewed again
        session.flush()  # the one-current-version index must see the old version retired first
        submission_id = submission.id
    else:
        if household is None and prepared.applicant is not None:
            household = NamedHousehold(_new_applicant(session, prepared.applicant).id, placed=False)
        # The rows of a new submission go in by plain INSERTs (here and below): the ORM's unit of
        # work cost more than the rest of the write phase together, on every upload.
        submission_id = session.execute(_INSERT_SUBMISSION, {
            "form_pk": prepared.form_pk, "instance_id": instance_id, "household_id": household.id if household else None,
            "village_id": prepared.village_id, "submitted_by_id": user.id,
        }).scalar_one()

    carried = {a.filename: a for a in previous.attachments if a.sha256} if previous else {}
    rows = []
    for filename, field in prepared.expected.items():
        row = {"filename": filename, "field": field, **dict.fromkeys(FILE_FACTS)}
        if filename in uploads:
            row.update(_stored_facts(storage, uploads[filename], field in structure.image_fields, max_pixels))
        elif filename in carried:
            row.update({column: getattr(carried[filename], column) for column in FILE_FACTS})
        rows.append(row)
    place = _visit_facts(prepared.root)
    version_id = session.execute(_INSERT_VERSION, {
        "submission_id": submission_id, "form_pk": prepared.form_pk, "form_version_id": prepared.form_version_id,
        "instance_id": instance_id, "deprecated_id": prepared.deprecated_id, "xml": prepared.xml,
        "xml_sha256": prepared.xml_sha256, "submitted_by_id": user.id, "is_current": True,
        "is_complete": all(row["sha256"] for row in rows), **place,
    }).scalar_one()
    if rows:
        session.execute(_INSERT_ATTACHMENTS, [{"version_id": version_id, **row} for row in rows])
    if household is not None and not household.placed and place["latitude"] is not None:
        # The first visit with a position places the household, unless a concurrent first visit
        # did. An ORM UPDATE, so a Household this session already holds is updated as well.
        session.execute(update(Household).where(Household.id == household.id, Household.latitude.is_(None))
                        .values(latitude=place["latitude"], longitude=place["longitude"]))
    missing = [row["filename"] for row in rows if not row["sha256"]]
    return Received(201, f"Received; {_waiting(missing, 'thank you.')}", version_id)


def _waiting(missing: list[str], otherwise: str) -> str:
    """The end of the answer: the files still missing, if any."""
    return f"still waiting for {len(missing)} file(s): {', '.join(missing)}. Send again." if missing else otherwise


def _expected_files(root, structure: FormStructure) -> dict[str, str]:
    """File names the XML names in its file fields (photos, signatures, audit log) → their field."""
    expected: dict[str, str] = {}
    for path, value in leaves(root):
        if path in structure.binary_fields and value:
            if not SAFE_FILENAME.match(value) or value in (".", ".."):
                raise FormDataInvalid(f"The file name {value!r} in {path} is not allowed.")
            expected.setdefault(value, path)
    return expected


def _is_new_applicant(form_id: str, root) -> bool:
    return form_id == HOUSEHOLD_VISIT and not find_text(root, "case_id") and find_text(root, "is_new_applicant") == "yes"


def _named_household(session: Session, user: User, root) -> NamedHousehold | None:
    """The household the form's case_id names, which must lie in the caller's areas."""
    case_id = find_text(root, "case_id")
    if not case_id:
        return None
    found = session.execute(_HOUSEHOLD, {"case_id": case_id}).first()
    if found is None or not reaches(user, found.path):
        raise OutsideReach(f"Household {case_id} is not in your areas; the form was not accepted.")
    return NamedHousehold(found.id, placed=found.latitude is not None)


def _named_village(session: Session, user: User, root) -> Area | None:
    """The village a village-level record names (its top-level `village`), in the caller's areas."""
    code = find_text(root, "village")
    if not code:
        return None
    village = session.scalar(select(Area).where(Area.code == code, Area.level == "village"))
    if village is None or not is_in_reach(user, village):
        raise OutsideReach(f"Village {code} is not in your areas; the form was not accepted.")
    return village


def _applicant_village(session: Session, user: User, root) -> Area:
    code = find_text(root, "applicant/applicant_village") or find_text(root, "applicant_village")
    villages = [a for a in _villages_of(session, user) if not code or a.code == code]
    if not villages:
        raise OutsideReach("The applicant's village is not in your areas; the form was not accepted.")
    return villages[0]  # forms before 2026112302 name no village: the caseworker's first


def _applicant(session: Session, user: User, root) -> dict:
    """A new applicant's case from the form data: its village, one of the caller's, and its fields,
    refused when they do not fit a case."""
    village = _applicant_village(session, user, root)
    fields = {"village_code": village.code, "village_id": village.id,
              "head_name": find_text(root, "applicant/applicant_name") or "新申请人",
              "address": find_text(root, "applicant/applicant_address"),
              "residence": find_text(root, "applicant/applicant_residence") or "rural"}
    for column, question in (("head_name", "applicant_name"), ("address", "applicant_address")):
        longest = Household.__table__.c[column].type.length
        if len(fields[column]) > longest:
            raise FormDataInvalid(f"The applicant's {question} is longer than {longest} characters.")
    if fields["residence"] not in RESIDENCES:
        raise FormDataInvalid(f"The applicant's applicant_residence {fields['residence']!r} is not one of "
                              f"{', '.join(RESIDENCES)}.")
    return fields


def _new_applicant(session: Session, applicant: dict) -> Household:
    """A new applicant visited before any case exists becomes an applicant case in the chosen village."""
    fields = dict(applicant)
    number = f"{fields.pop('village_code')}N{utcnow():%y%m%d%H%M%S%f}"[:32]
    household = Household(case_number=number, status="applicant", **fields)
    session.add(household)
    session.flush()
    return household


def _villages_of(session: Session, user: User) -> list[Area]:
    return areas_in_reach(session, user, level="village")


def _visit_facts(root) -> dict:
    """Where and when the visit took place, as the form data says (a version's columns). A position
    that is no position on Earth is left out, as a missing one is: the checks say the visit has no
    location."""
    point = answer_geopoint(find_text(root, "location")) or {"latitude": None, "longitude": None, "accuracy": None}
    return {"latitude": point["latitude"], "longitude": point["longitude"], "accuracy": point["accuracy"],
            "started_at": answer_instant(find_text(root, "start")), "ended_at": answer_instant(find_text(root, "end"))}


def _check_picture(upload: Upload, is_image: bool, max_pixels: int) -> None:
    """Check a picture's header, once per upload (kept across the write phase's retries)."""
    if is_image and upload.header is None:
        upload.staged.to_disk()  # a first part may still be in memory (StagedFile); the header is read from its file
        try:
            upload.header = media.check_image(upload.staged.path, declared_name=upload.filename, max_pixels=max_pixels)
        except media.ImageRefused as error:
            raise AttachmentRefused(f"The picture {upload.filename} was refused: {error}") from None


def _stored_facts(storage: LocalStorage, upload: Upload, is_image: bool, max_pixels: int) -> dict:
    """Store an upload (if the read phase did not) and return what an attachment row records of it."""
    _check_picture(upload, is_image, max_pixels)
    storage.commit(upload.staged)
    header = upload.header
    return {"sha256": upload.staged.sha256, "size": upload.staged.size, "received_at": utcnow(),
            "content_type": header.mime if header else _content_type(upload.filename),
            "width": header.width if header else None, "height": header.height if header else None}


def _content_type(filename: str) -> str:
    return {".csv": "text/csv", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
            ".webp": "image/webp", ".m4a": "audio/mp4", ".amr": "audio/amr"}.get(Path(filename).suffix.lower(),
                                                                                   "application/octet-stream")


def _complete(session: Session, storage: LocalStorage, version: SubmissionVersion, uploads: dict[str, Upload],
              structure: FormStructure, max_pixels: int) -> int:
    """A re-send of identical XML: add files not yet received; refuse different bytes for a file we have."""
    added = 0
    for attachment in version.attachments:
        upload = uploads.get(attachment.filename)
        if upload is None:
            continue
        if attachment.sha256 is None:
            facts = _stored_facts(storage, upload, attachment.field in structure.image_fields, max_pixels)
            for column, value in facts.items():
                setattr(attachment, column, value)
            added += 1
        elif attachment.sha256 != upload.staged.sha256:
            log.warning("refused different bytes for %s of submission %s (kept %s, got %s)",
                        attachment.filename, version.instance_id, attachment.sha256, upload.staged.sha256)
            raise FileDiffers(f"The file {attachment.filename} is already on the server with different content; "
                              "the first one is kept. Evidence is never replaced.")
    if added:
        version.is_complete = all(a.sha256 for a in version.attachments)
        version.checked_at = None  # its new files are decoded and its checks run again
        session.flush()
    return added


def sweep_orphans(session: Session, storage: LocalStorage, *, older_than_seconds: float) -> int:
    """Remove stored files no row refers to: left by a crash between the file's fsync and the commit.

    Run at start-up, before serving (older_than_seconds=0), or while serving with a margin longer
    than any request, so files of requests still in flight are spared.
    """
    referenced = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.is_not(None))))
    referenced |= set(session.scalars(select(Attachment.thumbnail_sha256).where(Attachment.thumbnail_sha256.is_not(None))))
    removed = 0
    for key in list(storage.keys()):
        if key not in referenced and storage.age_seconds(key) >= older_than_seconds:
            storage.delete(key)
            log.warning("removed orphan file %s (no submission refers to it)", key)
            removed += 1
    return removed + storage.clear_staging(older_than_seconds)
