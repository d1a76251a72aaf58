"""One visit record: what a submission version says, read once and stored with it.

When a version's checks run (services/checking.py), its XML is parsed once and its form audit log
(Collect's audit.csv) read, into a VisitRecord stored in the version's `record` column. The checks,
the schedule, spot-check comparison, the case file and the API read that record; nothing parses a
checked version's XML again, so a list of 100,000 visits costs no XML parse (docs/decisions.md,
"One visit record"). A version still waiting for its checks has no record yet: record_of() reads
one from its XML for the moment, without storing it (its checks will).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timezone
from functools import cached_property

from ..config import LOCAL_TZ
from ..models import SubmissionVersion
from ..storage import LocalStorage
from .forms import HOUSEHOLD_VISIT, SPOT_CHECK, structure_of
from .xforms import PLAUSIBLE_YEARS, FormStructure, answer_date, answer_geopoint, local, parse_instance

# The five sights (五见) a home visit and a spot check record, each photographed or explained:
# sight -> (Chinese, English). The questions are sights/sight_<sight>_seen, _photo and _reason.
SIGHTS = {
    "head": ("见低保户/户主", "the beneficiary / head of household"),
    "certificate": ("见低保证", "the assistance certificate"),
    "passbook": ("见存折/一卡通", "the passbook or bank card"),
    "hukou": ("见户口本或身份证", "the hukou or ID card"),
    "home": ("见居住环境", "the living conditions"),
}

# Who went, by form: the repeat naming each person, its name question and its signature question.
PEOPLE = {
    HOUSEHOLD_VISIT: ("investigators", "investigator_name", "investigator_signature"),
    SPOT_CHECK: ("checkers", "checker_name", "checker_signature"),
}

# Where Collect puts the form audit log (the XLSForm's `audit` row becomes meta/audit).
AUDIT_FIELD = "meta/audit"

# The events of Collect's form audit log about location (its AuditEvent types).
LOCATION_EVENTS = ("location tracking enabled", "location tracking disabled", "location permissions granted",
                   "location permissions not granted", "location providers enabled", "location providers disabled",
                   "google play services not available")
# The trail of one form is a point a minute at most (the forms ask location-min-interval=60); a
# longer one (a hand-made file) is cut here, and the record says how many points were left out.
MAX_TRAIL_POINTS = 2000


@dataclass(frozen=True)
class Audit:
    """What Collect's form audit log says (docs.getodk.org, "Form audit log"): one row per event
    (event, node, start, end in milliseconds since 1970; with location tracking, the latest
    location the phone had at each event; old and new values with change tracking; the user with
    identity tracking).

    Mock locations: Collect writes no event for them. It reports every location that comes from
    Android's mock provider (a fake-GPS app) with accuracy 0, unless a question sets
    allow-mock-accuracy, and the audit log's tracking never does; a real fix always has an accuracy
    above 0. So a point of the trail with accuracy 0 is listed in mock_locations: a suspicion for
    a person to weigh (a location reported without any accuracy also reads 0), not a proof.
    """

    opened_at: datetime | None = None  # the first "form start"
    finalized_at: datetime | None = None  # the last "form finalize"
    seconds_in_form: float = 0.0  # the time a question, a group of questions or the end screen was shown
    seconds_by_question: dict = field(default_factory=dict)  # node below the root ("members[2]/member_name") -> seconds
    trail: list = field(default_factory=list)  # the phone's location as it changed: {at, latitude, longitude, accuracy}
    trail_points_left_out: int = 0
    mock_locations: list = field(default_factory=list)  # points of the trail with accuracy 0 (see above)
    location_events: list = field(default_factory=list)  # {at, event}: tracking, permissions, providers on or off
    users: list = field(default_factory=list)  # who the phone's user said they were (identity tracking)
    events: int = 0  # rows read
    problem: str | None = None  # why the file could not be read, if it could not


@dataclass(frozen=True)
class VisitRecord:
    """One submission version as every reader needs it. `answers` are by path below the form's
    root, groups flattened ("sights/sight_head_seen"); a repeat is a list of its instances, each by
    path below the repeat. `labels` hold, for each question answered from a choice list, the chosen
    values' labels in each language: path -> value -> language ("zh", "en") -> label. Positions are
    {latitude, longitude, altitude, accuracy, mock}: mock when the accuracy is 0 (see Audit)."""

    version_id: int | None = None
    form_id: str = ""
    form_version: str = ""
    instance_id: str = ""
    household_id: int | None = None
    answers: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    visit_date: date | None = None
    outcome: str = ""
    started_at: datetime | None = None  # the form's start and end, by the phone's clock
    ended_at: datetime | None = None
    location: dict | None = None  # the visit's geopoint (`location`)
    start_location: dict | None = None  # where the form was started (start-geopoint)
    investigators: list = field(default_factory=list)  # {name, signature}: who went (PEOPLE)
    signatories: list = field(default_factory=list)  # {field, filename, name}: every signature given
    files: list = field(default_factory=list)  # {field, filename}: every file the answers name
    audit: Audit | None = None  # None: the form keeps no audit log, or it has not arrived

    @cached_property
    def by_name(self) -> dict:
        """The answers by question name, groups dissolved (names are unique in our forms), repeats
        lists of such dicts: what services.xforms.flat_answers makes of the instance."""
        return _by_name(self.answers)

    def tree(self) -> dict:
        """The answers nested as the instance is: groups as dicts, repeats as lists of dicts."""
        return _tree(self.answers)

    def choice_labels(self, name: str) -> dict[str, tuple[str, str]]:
        """{chosen value: (Chinese label, English label)} of the question with this name."""
        for path, chosen in self.labels.items():
            if path.rsplit("/", 1)[-1] == name:
                return {value: (by_language.get("zh", value), by_language.get("en", value))
                        for value, by_language in chosen.items()}
        return {}

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("visit_date", "started_at", "ended_at"):
            data[name] = _iso(data[name])
        if self.audit is not None:
            data["audit"] = {f.name: getattr(self.audit, f.name) for f in fields(Audit)}
            data["audit"].update(opened_at=_iso(self.audit.opened_at), finalized_at=_iso(self.audit.finalized_at))
        return data

    @classmethod
    def from_json(cls, data: dict) -> VisitRecord:
        known = {f.name for f in fields(cls)}
        record = cls(**{name: value for name, value in data.items() if name in known})
        audit = None
        if data.get("audit") is not None:
            audit_fields = {f.name for f in fields(Audit)}
            audit = Audit(**{name: value for name, value in data["audit"].items() if name in audit_fields})
            audit = replace(audit, opened_at=_instant(audit.opened_at), finalized_at=_instant(audit.finalized_at))
        return replace(record, visit_date=date.fromisoformat(data["visit_date"]) if data.get("visit_date") else None,
                       started_at=_instant(data.get("started_at")), ended_at=_instant(data.get("ended_at")),
                       audit=audit)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _by_name(answers: dict) -> dict:
    flat: dict = {}
    for path, value in answers.items():
        name = path.rsplit("/", 1)[-1]
        flat[name] = [_by_name(instance) for instance in value] if isinstance(value, list) else value
    return flat


def _tree(answers: dict) -> dict:
    tree: dict = {}
    for path, value in answers.items():
        *groups, name = path.split("/")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
        node[name] = [_tree(instance) for instance in value] if isinstance(value, list) else value
    return tree


# --- reading a version ---------------------------------------------------------------------------

def visit_date(answers: dict, version, received: datetime | None = None) -> date:
    """The day of a visit: its visit_date answer; failing that, the day (local time) the form was
    started on the phone, or else received (`received`: the submission's first receipt where the
    caller has it, so a correction sent later does not move the visit; else this version's).
    A day after the one the form arrived on counts as no answer: the form refuses a future date, so
    only a phone's wrong clock or a hand-made submission gives one, and it would put the household's
    next visit off by as much. `version`: anything with started_at and received_at."""
    arrived = (received or version.received_at).astimezone(LOCAL_TZ).date()
    started = version.started_at.astimezone(LOCAL_TZ).date() if version.started_at else None
    for day in (answer_date(answers.get("visit_date")), started):
        if day is not None and day <= arrived:
            return day
    return arrived


def read_visit(version, *, xml: bytes, structure: FormStructure, form_id: str, form_version: str,
               household_id: int | None, first_received: datetime | None, audit: Audit | None) -> VisitRecord:
    """The record of a version, from its XML (parsed here, once) and its audit log (read_audit).
    `version`: the SubmissionVersion, or any row with its id, instance_id, started_at, ended_at and
    received_at (the migration that filled in the records of versions received before them)."""
    reading = _Reading(structure)
    answers = reading.answers(parse_instance(xml))
    flat = _by_name(answers)
    investigators = []
    if form_id in PEOPLE:
        repeat, name_field, signature_field = PEOPLE[form_id]
        investigators = [{"name": row.get(name_field) or "", "signature": row.get(signature_field) or None}
                         for row in flat.get(repeat) or [] if isinstance(row, dict)]
    signed_by = {person["signature"]: person["name"] for person in investigators if person["signature"]}
    return VisitRecord(
        version_id=version.id, form_id=form_id, form_version=form_version, instance_id=version.instance_id,
        household_id=household_id, answers=answers, labels=reading.labels,
        visit_date=visit_date(flat, version, first_received), outcome=flat.get("outcome") or "",
        started_at=version.started_at, ended_at=version.ended_at,
        location=_position(answers.get("location")), start_location=_position(answers.get("start_location")),
        investigators=investigators, files=reading.files, audit=audit,
        signatories=[{**file, "name": signed_by.get(file["filename"])} for file in reading.files
                     if file["field"].endswith("signature")],
    )


def record_for(version: SubmissionVersion, storage: LocalStorage | None) -> VisitRecord:
    """Read the version's record from its XML and (given the storage) its audit log."""
    submission = version.submission
    structure = structure_of(version.form_version)
    return read_visit(version, xml=version.xml, structure=structure, form_id=submission.form.form_id,
                      form_version=version.form_version.version, household_id=submission.household_id,
                      first_received=submission.created_at, audit=_audit_of(version, storage, structure.root_name))


def record_of(version: SubmissionVersion) -> VisitRecord:
    """The version's stored record; for a version still waiting for its checks, read from its XML
    now (not stored, and without its audit log: its checks store the whole record)."""
    if version.record is not None:
        return VisitRecord.from_json(version.record)
    return record_for(version, None)


def _audit_of(version: SubmissionVersion, storage: LocalStorage | None, root_name: str) -> Audit | None:
    """The version's audit log, once it has arrived."""
    received = [a.sha256 for a in version.attachments if a.field == AUDIT_FIELD and a.sha256 is not None]
    return stored_audit(storage, received[0], root_name) if storage is not None and received else None


def stored_audit(storage: LocalStorage, sha256: str, root_name: str) -> Audit:
    """The audit log stored under this hash, read (read_audit); an Audit saying so if it cannot be."""
    try:
        data = storage.path_of(sha256).read_bytes()
    except OSError as error:
        return Audit(problem=f"audit.csv could not be read from storage ({error}).")
    return read_audit(data, root_name)


def _position(text) -> dict | None:
    point = answer_geopoint(text) if isinstance(text, str) else None
    if point is not None:
        point["mock"] = point["accuracy"] == 0
    return point


class _Reading:
    """One walk over an instance: its answers by path, and on the way the labels of the choices
    made and the files named."""

    def __init__(self, structure: FormStructure) -> None:
        self.structure = structure
        self.labels: dict[str, dict[str, dict[str, str]]] = {}
        self.files: list[dict] = []

    def answers(self, element, path: str = "", base: str = "") -> dict:
        """The answers below `element` (at `path` below the root) by path below `base` (the repeat
        instance they are in, or the root)."""
        result: dict = {}
        for child in element:
            child_path = f"{path}/{local(child.tag)}" if path else local(child.tag)
            key = child_path[len(base) + 1:] if base else child_path
            if child_path in self.structure.repeats:
                result.setdefault(key, []).append(self.answers(child, child_path, child_path))
            elif len(child):
                result.update(self.answers(child, child_path, base))
            else:
                value = (child.text or "").strip()
                result[key] = value
                if value:
                    self._note(child_path, value)
        return result

    def _note(self, path: str, value: str) -> None:
        structure = self.structure
        if path in structure.binary_fields:
            self.files.append({"field": path, "filename": value})
        select = structure.selects.get(path)
        if select is not None:
            list_name, multiple = select
            choices = structure.choices.get(list_name, {})
            chosen = self.labels.setdefault(path, {})
            for choice in value.split() if multiple else [value]:
                if choice in choices:
                    chosen[choice] = dict(choices[choice])


# --- the form audit log --------------------------------------------------------------------------

def read_audit(data: bytes, root_name: str = "data") -> Audit:
    """What an audit.csv says. Never fails: a file that cannot be read as Collect's CSV gives an
    Audit saying why (the file itself is kept as received); a row that cannot be read is skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Audit(problem="audit.csv is not UTF-8 text; it is kept as received, unread.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not {"event", "start"} <= set(reader.fieldnames):
        return Audit(problem="audit.csv has no header naming the columns event and start, as Collect writes it.")
    prefix = f"/{root_name}/"
    opened = finalized = None
    in_form, by_question, trail, left_out, events, users, rows = 0.0, {}, [], 0, [], [], 0
    last_place = None
    for row in reader:
        rows += 1
        event, start, end = (row.get("event") or "").strip(), _millis(row.get("start")), _millis(row.get("end"))
        if start is None:
            continue
        node = (row.get("node") or "").strip()
        node = node[len(prefix):] if node.startswith(prefix) else node.lstrip("/")
        if event == "form start" and opened is None:
            opened = start
        elif event == "form finalize":
            finalized = start
        elif event in LOCATION_EVENTS:
            events.append({"at": start.isoformat(), "event": event})
        if end is not None and end >= start:
            seconds = (end - start).total_seconds()
            in_form += seconds
            if event in ("question", "group questions") and node:
                by_question[node] = round(by_question.get(node, 0.0) + seconds, 3)
        # Each event carries the latest location the phone had: the trail is where it changed.
        point = answer_geopoint(f"{row.get('latitude') or ''} {row.get('longitude') or ''} 0 {row.get('accuracy') or ''}")
        place = point and (point["latitude"], point["longitude"], point["accuracy"])
        if place and (not trail or place != last_place):
            last_place = place
            if len(trail) < MAX_TRAIL_POINTS:
                trail.append({"at": start.isoformat(), "latitude": place[0], "longitude": place[1], "accuracy": place[2]})
            else:
                left_out += 1
        user = (row.get("user") or "").strip()
        if user and user not in users:
            users.append(user)
    return Audit(opened_at=opened, finalized_at=finalized, seconds_in_form=round(in_form, 3),
                 seconds_by_question=by_question, trail=trail, trail_points_left_out=left_out,
                 mock_locations=[point for point in trail if point["accuracy"] == 0], location_events=events,
                 users=users, events=rows)


def _millis(text: str | None) -> datetime | None:
    """A time of the audit log (milliseconds since 1970, UTC) within the years a phone's time may
    fall in (services.xforms.PLAUSIBLE_YEARS); None for anything else."""
    try:
        moment = datetime.fromtimestamp(int((text or "").strip()) / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.year in PLAUSIBLE_YEARS else None
