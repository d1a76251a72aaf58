"""Test data as phones make it: instance documents built from the real forms in forms/, JPEG photos
with EXIF time and GPS, signature PNGs and Collect's audit.csv.

Everything is deterministic for given arguments (the same call gives the same bytes), except the
default instanceID (a new uuid4 each call). The default visit time, DEFAULT_WHEN, is fixed when
this module is imported (yesterday 10:30 Shanghai time), so two calls in one test run name their
files alike, as a phone re-sending or editing the same visit does.

Relevance follows ODK Collect: JavaRosa leaves non-relevant questions, groups and repeats out of
the submission altogether, so the visit builders omit them (an answer of None in `instance_xml`);
a question that is relevant but unanswered is present and empty.
"""
from __future__ import annotations

import csv
import functools
import io
import random
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from pyxform.xls2xform import convert

from server.services.idnumbers import check_digit

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_REGION = "623099"  # the demo county's code (server/services/demo.py)

_XFORMS = "http://www.w3.org/2002/xforms"
_HTML = "http://www.w3.org/1999/xhtml"
_JR = "http://openrosa.org/javarosa"
# The prefixes a Collect submission declares on its root (copied from the form's own <h:html>).
_SUBMISSION_NAMESPACES = {
    "xmlns:h": _HTML,
    "xmlns:jr": _JR,
    "xmlns:orx": "http://openrosa.org/xforms",
    "xmlns:odk": "http://www.opendatakit.org/xforms",
    "xmlns:ev": "http://www.w3.org/2001/xml-events",
    "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
}


# --- pictures ---------------------------------------------------------------------------------

def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Decimal degrees as EXIF wants them: degrees, minutes, seconds, each a rational."""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round((value - degrees - minutes / 60) * 3600 * 10000), 10000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds.numerator, seconds.denominator)


def _exif(*, lat, lon, taken_at, make, model, orientation) -> Image.Exif:
    exif = Image.Exif()
    if make is not None:
        exif[ExifTags.Base.Make] = make
    if model is not None:
        exif[ExifTags.Base.Model] = model
    exif[ExifTags.Base.Orientation] = orientation
    if taken_at is not None:
        if taken_at.tzinfo is None:
            raise ValueError("taken_at must be an aware datetime")
        local = taken_at.astimezone(SHANGHAI)
        stamp = local.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        details = exif.get_ifd(ExifTags.IFD.Exif)
        details[ExifTags.Base.DateTimeOriginal] = stamp
        details[ExifTags.Base.DateTimeDigitized] = stamp
        details[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    if lat is not None and lon is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSVersionID] = b"\x02\x02\x00\x00"
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
    return exif


def photo_image(seed: int = 0, width: int = 1600, height: int = 1200) -> Image.Image:
    """A photo-like RGB picture: a smooth colour field and a few shapes laid out by `seed` (so
    different seeds differ in their broad layout, which is what a perceptual hash sees) and a grain
    that makes a JPEG about as large as a phone's (~250 KB at 1600x1200, quality 85)."""
    rng = random.Random(seed)
    field_ = Image.frombytes("RGB", (5, 4), rng.randbytes(5 * 4 * 3)).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(field_)
    for _ in range(8):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randrange(max(1, width // 10), max(2, width // 2))
        y1 = y0 + rng.randrange(max(1, height // 10), max(2, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    grain_w, grain_h = max(1, width // 2), max(1, height // 2)
    grain = Image.frombytes("L", (grain_w, grain_h), rng.randbytes(grain_w * grain_h))
    grain = grain.resize((width, height), Image.Resampling.BILINEAR).convert("RGB")
    return Image.blend(field_, grain, 20 / 255)


@functools.lru_cache(maxsize=256)
def _jpeg_bytes(width, height, lat, lon, taken_at, make, model, orientation, seed, quality) -> bytes:
    exif = _exif(lat=lat, lon=lon, taken_at=taken_at, make=make, model=model, orientation=orientation)
    buffer = io.BytesIO()
    photo_image(seed, width, height).save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def jpeg_with_exif(
    path: Path | str | None = None,
    *,
    width: int = 1600,
    height: int = 1200,
    lat: float | None = None,
    lon: float | None = None,
    taken_at: datetime | None = None,
    make: str | None = "Xiaomi",
    model: str | None = "Redmi Note 12",
    orientation: int = 1,
    seed: int = 0,
    quality: int = 85,
) -> bytes:
    """A real JPEG as a phone camera writes it: `width` x `height` stored pixels, EXIF Make, Model,
    Orientation, DateTimeOriginal in Shanghai time with OffsetTimeOriginal +08:00 (when taken_at is
    given), and a GPS IFD in degrees/minutes/seconds with N/S/E/W (when lat and lon are given).
    About 250 KB at 1600x1200 and quality 85; lower `quality` for smaller files. Written to `path`
    too when one is given."""
    data = _jpeg_bytes(width, height, lat, lon, taken_at, make, model, orientation, seed, quality)
    if path is not None:
        Path(path).write_bytes(data)
    return data


@functools.lru_cache(maxsize=1024)  # ~4 KB each; a visit built again need not draw its signatures again
def png_signature(seed: int | str = 0, width: int = 800, height: int = 400) -> bytes:
    """A signature as Collect's signature widget saves it: an opaque white RGBA canvas with a few
    black pen strokes (different for each seed), as PNG."""
    rng = random.Random(f"signature-{seed}")
    canvas = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = width * 0.1
    for _ in range(rng.randint(2, 4)):  # a few characters, each a scribble of connected points
        points = []
        y = height * rng.uniform(0.35, 0.65)
        for _ in range(rng.randint(6, 12)):
            x = min(width * 0.95, x + rng.uniform(5, width / 25))
            y = min(height * 0.9, max(height * 0.1, y + rng.uniform(-height / 6, height / 6)))
            points.append((x, y))
        draw.line(points, fill=(0, 0, 0, 255), width=6, joint="curve")
        x += width / 20
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


# --- instance documents from the real forms ---------------------------------------------------

@dataclass
class FormNode:
    name: str
    children: list["FormNode"] = field(default_factory=list)
    is_repeat: bool = False

    @property
    def is_leaf(self) -> bool:
        return not self.children and not self.is_repeat


@dataclass(frozen=True)
class CompiledForm:
    form_id: str
    version: str
    xform: str  # the XForm pyxform made
    root: FormNode  # the primary instance, jr:template copies folded into is_repeat


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@functools.lru_cache(maxsize=None)
def compiled_form(form_id: str) -> CompiledForm:
    """forms/<form_id>.md through pyxform, as the server publishes it; compiled once per test run."""
    xform = convert(xlsform=(FORMS_DIR / f"{form_id}.md").read_text(encoding="utf-8"), file_type=".md").xform
    document = ET.fromstring(xform.encode("utf-8"))
    model = document.find(f"./{{{_HTML}}}head/{{{_XFORMS}}}model")
    primary = next(instance for instance in model.findall(f"{{{_XFORMS}}}instance") if instance.get("id") is None)
    data = primary[0]
    repeats = {element.get("nodeset") for element in document.iter(f"{{{_XFORMS}}}repeat")}

    def walk(element: ET.Element, path: str) -> FormNode:
        node = FormNode(_local(element.tag))
        for child in element:
            name = _local(child.tag)
            child_path = f"{path}/{name}"
            if any(existing.name == name and existing.is_repeat for existing in node.children):
                continue  # the default instance after the jr:template copy
            child_node = walk(child, child_path)
            child_node.is_repeat = child.get(f"{{{_JR}}}template") is not None or child_path in repeats
            node.children.append(child_node)
        return node

    root = walk(data, f"/{_local(data.tag)}")
    return CompiledForm(form_id=data.get("id"), version=data.get("version") or "", xform=xform, root=root)


def _addressable(scope: FormNode) -> tuple[dict[tuple[str, ...], FormNode], dict[str, list[tuple[str, ...]]]]:
    """What an answer inside `scope` (the root or one repeat) may name: leaves, groups and repeats
    reachable without entering another repeat, by path relative to the scope and by name."""
    by_path: dict[tuple[str, ...], FormNode] = {}
    by_name: dict[str, list[tuple[str, ...]]] = {}

    def walk(node: FormNode, prefix: tuple[str, ...]) -> None:
        for child in node.children:
            path = prefix + (child.name,)
            by_path[path] = child
            by_name.setdefault(child.name, []).append(path)
            if not child.is_leaf and not child.is_repeat:
                walk(child, path)

    walk(scope, ())
    return by_path, by_name


def _resolve(form_id: str, scope: FormNode, answers: dict, where: str) -> dict[tuple[str, ...], object]:
    by_path, by_name = _addressable(scope)
    resolved: dict[tuple[str, ...], object] = {}
    for key, value in answers.items():
        if "/" in key:
            path = tuple(key.strip("/").split("/"))
            if path not in by_path:
                raise KeyError(f"{form_id} has no field at {key!r}{where}")
        else:
            paths = by_name.get(key, [])
            if not paths:
                raise KeyError(f"{form_id} has no field named {key!r}{where}")
            if len(paths) > 1:
                raise KeyError(f"{key!r} is ambiguous in {form_id}{where}: give one of {['/'.join(p) for p in paths]}")
            path = paths[0]
        node = by_path[path]
        if value is not None:
            if node.is_repeat and not isinstance(value, list):
                raise TypeError(f"{key!r} is a repeat in {form_id}: give a list of dicts, one per instance")
            if not node.is_repeat and not node.is_leaf:
                raise TypeError(f"{key!r} is a group in {form_id}: answer its fields, or give None to leave it out")
            if node.is_leaf and isinstance(value, (list, dict)):
                raise TypeError(f"{key!r} is a single field in {form_id}, not a repeat")
        resolved[path] = value
    return resolved


def _answered_inside(values: dict, group: tuple[str, ...]) -> bool:
    """A group given as None but with answers inside it is there after all (an override won)."""
    return any(path[: len(group)] == group and len(path) > len(group) and value is not None for path, value in values.items())


def _emit(form_id: str, parent: ET.Element, node: FormNode, values: dict, prefix: tuple[str, ...]) -> None:
    for child in node.children:
        path = prefix + (child.name,)
        if path in values and values[path] is None and not _answered_inside(values, path):
            continue  # not relevant: Collect leaves it out of the submission
        if child.is_repeat:
            instances = values.get(path, [{}])  # Collect starts a repeat with one instance
            for index, answers in enumerate(instances, start=1):
                where = f" (in {'/'.join(path)}[{index}])"
                element = ET.SubElement(parent, child.name)
                _emit(form_id, element, child, _resolve(form_id, child, answers, where), ())
        elif child.is_leaf:
            element = ET.SubElement(parent, child.name)
            value = values.get(path)
            element.text = None if value is None else str(value)
        else:
            _emit(form_id, ET.SubElement(parent, child.name), child, values, path)


def instance_xml(
    form_id: str,
    answers: dict[str, object],
    *,
    instance_id: str,
    deprecated_id: str | None = None,
    version: str | None = None,
) -> bytes:
    """A submission instance of forms/<form_id>.md, as ODK Collect sends it.

    Answers name a field by its name (when unique in the form) or by its path from the root
    ("sights/sight_head_photo"); a repeat takes a list of dicts, one per instance, whose keys are
    names or paths inside the repeat. None leaves a field, group or repeat out (not relevant), unless
    fields inside that group are answered; any field not answered is present and empty; a repeat not answered has one empty instance. A name
    the form does not have raises KeyError.
    """
    form = compiled_form(form_id)
    values = _resolve(form_id, form.root, answers, "")
    root = ET.Element(form.root.name, {**_SUBMISSION_NAMESPACES, "id": form.form_id, "version": version or form.version})
    _emit(form_id, root, form.root, values, ())
    meta = root.find("meta")
    if meta is None:
        meta = ET.SubElement(root, "meta")
    instance_element = meta.find("instanceID")
    if instance_element is None:
        instance_element = ET.SubElement(meta, "instanceID")
    instance_element.text = instance_id
    if deprecated_id is not None:
        deprecated = ET.Element("deprecatedID")
        deprecated.text = deprecated_id
        meta.insert(list(meta).index(instance_element) + 1, deprecated)
    return b"<?xml version='1.0' ?>" + ET.tostring(root, encoding="utf-8", xml_declaration=False)


# --- people, numbers and times as the phone writes them ---------------------------------------

def id_number(birth: date, male: bool, sequence: int = 1, region: str = ID_REGION) -> str:
    """A valid 18-character resident ID number (GB 11643 check digit; 17th digit odd for men)."""
    digit17 = (sequence * 2 + (1 if male else 0)) % 10
    if (digit17 % 2 == 1) != male:
        digit17 = (digit17 + 1) % 10
    first17 = f"{region}{birth:%Y%m%d}{sequence % 100:02d}{digit17}"
    return first17 + check_digit(first17)


def _number(value: float) -> str:
    """A number as an XPath calculation prints it: 350, 433.33."""
    value = round(value, 2)
    return str(int(value)) if value == int(value) else repr(value)


def _odk_datetime(moment: datetime) -> str:
    """JavaRosa's dateTime: local time with milliseconds and offset, 2026-11-20T10:03:12.000+08:00."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _geopoint(lat: float, lon: float, altitude: float = 1820.0, accuracy: float = 5.0) -> str:
    return f"{lat} {lon} {altitude} {accuracy}"


# Recent (the forms refuse a visit_date after today) and fixed for the whole test run.
DEFAULT_WHEN = datetime.combine(datetime.now(SHANGHAI).date() - timedelta(days=1), time(10, 30), tzinfo=SHANGHAI)


_MEMBER_FIELDS = (
    "member_name", "relation", "male", "birth", "disability_grade", "work_capacity", "health", "is_student",
    "income_operating_gross", "income_operating_cost", "income_self_consumed", "income_wage", "wage_proven",
    "income_property", "income_transfer",
)
# A household in the order members are usually entered; monthly yuan. member_income is
# gross - cost + wage + property + transfer: 350, 800, 0, 200, 0.
_MEMBERS = [
    ("张建国", "head", True, date(1968, 3, 15), "none", "partial", "chronic_illness", "no", 300, 100, 50, 0, "no", 0, 150),
    ("李秀英", "spouse", False, date(1970, 7, 2), "none", "full", "healthy", "no", 0, 0, 30, 800, "no", 0, 0),
    ("张小明", "child", True, date(2012, 9, 1), "none", "none", "healthy", "yes", 0, 0, 0, 0, "no", 0, 0),
    ("张德福", "parent", True, date(1940, 1, 20), "2", "none", "serious_illness", "no", 0, 0, 0, 0, "no", 0, 200),
    ("张小红", "child", False, date(2015, 4, 11), "none", "none", "healthy", "yes", 0, 0, 0, 0, "no", 0, 0),
]
_MORE_CHILDREN = "小军小华小丽小强小燕小龙小凤小伟小芳小杰"


def _member_rows(count: int) -> list[dict]:
    rows = []
    for index in range(count):
        row = dict(zip(_MEMBER_FIELDS, _MEMBERS[index % len(_MEMBERS)]))
        if index >= len(_MEMBERS):  # more children, each with a name and birthday of their own
            given = _MORE_CHILDREN[(index * 2) % len(_MORE_CHILDREN) : (index * 2) % len(_MORE_CHILDREN) + 2]
            row.update(member_name=f"张{given}", relation="child", birth=date(2000 + index % 20, 1 + index % 12, 10))
        row["sequence"] = index + 1
        rows.append(row)
    return rows


def _member_income(row: dict) -> float:
    cost = row["income_operating_cost"] if row["income_operating_gross"] > 0 else 0
    return row["income_operating_gross"] - cost + row["income_wage"] + row["income_property"] + row["income_transfer"]


def _income_answers(row: dict) -> dict:
    """The income part of a member, with Collect's relevance: cost only when there is gross
    operating income; wage_proven only with a wage or some capacity to work."""
    answers = {
        "income_operating_gross": row["income_operating_gross"],
        "income_operating_cost": row["income_operating_cost"] if row["income_operating_gross"] > 0 else None,
        "income_self_consumed": row["income_self_consumed"],
        "income_wage": row["income_wage"],
        "wage_proven": row["wage_proven"]
        if row["income_wage"] > 0 or row["work_capacity"] in ("full", "partial")
        else None,
        "income_property": row["income_property"],
        "income_transfer": row["income_transfer"],
        "member_income": _number(_member_income(row)),
    }
    return answers


def _photo_name(moment: datetime, extension: str) -> str:
    """Collect names a captured file by the phone's clock: System.currentTimeMillis() + extension."""
    return f"{_millis(moment)}{extension}"


def audit_csv(
    events: list[tuple[str, str, datetime, datetime | None, str]],
    *,
    lat: float,
    lon: float,
    seed: int = 0,
) -> bytes:
    """Collect's form audit log with location tracking and track-changes: one row per event,
    times in milliseconds since the epoch, the best recent location on each row (none before the
    first fix), new values CSV-quoted when needed. `events` are (event, node, start, end, new value)."""
    rng = random.Random(f"audit-{seed}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["event", "node", "start", "end", "latitude", "longitude", "accuracy", "old-value", "new-value"])
    for index, (event, node, start, end, new_value) in enumerate(events):
        if index < 2:  # form start and tracking enabled come before the first fix
            position = ["", "", ""]
        else:
            position = [
                repr(round(lat + rng.uniform(-0.00008, 0.00008), 7)),
                repr(round(lon + rng.uniform(-0.00008, 0.00008), 7)),
                repr(round(rng.uniform(3.0, 15.0), 1)),
            ]
        writer.writerow([event, node, _millis(start), _millis(end) if end else "", *position, "", new_value])
    return buffer.getvalue().encode("utf-8")


def _audited(answers: dict, *nodes: str) -> list[tuple[str, str]]:
    """(node, answer) for the question events of audit.csv, for the nodes the visit answered.
    A node is a path below the root; "repeat[1]/field" reads the first instance of a repeat."""
    answered = []
    for node in nodes:
        parts = node.split("/")
        name = parts[-1]
        if "[" in parts[0]:
            instances = answers.get(parts[0].split("[")[0]) or []
            value = instances[0].get(name) if instances else None
        else:
            value = answers.get(name)
        if value is not None:
            answered.append((node, str(value)))
    return answered


def _audit_events(form_root: str, start: datetime, end: datetime, answered: list[tuple[str, str]]) -> list:
    events = [
        ("form start", "", start, None, ""),
        ("location tracking enabled", "", start + timedelta(milliseconds=40), None, ""),
        ("location permissions granted", "", start + timedelta(milliseconds=60), None, ""),
        ("location providers enabled", "", start + timedelta(milliseconds=90), None, ""),
    ]
    span = (end - start - timedelta(seconds=30)) / max(1, len(answered))
    moment = start + timedelta(seconds=2)
    for node, value in answered:
        finished = moment + span * 0.9
        events.append(("question", f"/{form_root}/{node}", moment, finished, value))
        moment += span
    events += [
        ("end screen", "", end - timedelta(seconds=20), end - timedelta(seconds=5), ""),
        ("form save", "", end - timedelta(seconds=5), None, ""),
        ("form exit", "", end - timedelta(seconds=4), None, ""),
        ("form finalize", "", end - timedelta(seconds=4), None, ""),
    ]
    return events


SIGHTS = ("head", "certificate", "passbook", "hukou", "home")
_SIGHT_REASONS = {
    "head": "户主外出就医，未在家",
    "certificate": "低保证由村委会代为保管",
    "passbook": "存折在外出务工的子女处",
    "hukou": "户口本在派出所办理变更",
    "home": "户主不同意拍摄室内",
}
_RED_FLAGS = {"done": "none", "not_home": "none", "refused": "refused_investigation", "moved": "moved_without_notice"}
_OUTCOME_NOTES = {
    "not_home": "家中无人，邻居称户主外出务工",
    "refused": "户主拒绝配合入户调查",
    "moved": "已搬离，现住址不详",
}


def _sight_answers(lat, lon, when, photo_seed, with_photos, files) -> dict:
    """The five sights, each photographed (EXIF GPS within ~5 m of the household, taken during the
    visit) or, without photos, marked not seen with a reason."""
    rng = random.Random(f"sights-{photo_seed}")
    answers: dict[str, object] = {}
    for index, sight in enumerate(SIGHTS):
        if with_photos:
            taken = when - timedelta(minutes=8) + timedelta(minutes=2 * index, milliseconds=rng.randrange(1000))
            name = _photo_name(taken, ".jpg")
            files[name] = jpeg_with_exif(
                lat=round(lat + rng.uniform(-0.00004, 0.00004), 6),
                lon=round(lon + rng.uniform(-0.00004, 0.00004), 6),
                taken_at=taken.replace(microsecond=0),
                seed=photo_seed * 100 + index,
            )
            answers[f"sight_{sight}_seen"] = "yes"
            answers[f"sight_{sight}_photo"] = name
            answers[f"sight_{sight}_reason"] = None
        else:
            answers[f"sight_{sight}_seen"] = "no"
            answers[f"sight_{sight}_photo"] = None
            answers[f"sight_{sight}_reason"] = _SIGHT_REASONS[sight]
    return answers


def drawn_signature(seed: int, case_id: str | None, signed: datetime) -> bytes:
    """A signature drawn for household `case_id` at `signed`. A drawn signature never comes out the
    same twice, so each household and moment has its own; the same visit built twice (as Collect
    re-sends or edits one) has the same."""
    return png_signature(f"{seed}/{case_id}/{signed.isoformat()}")


def _signers(people, name_field: str, signature_field: str, start: datetime, seed: int, files,
             case_id: str | None) -> list[dict]:
    """One repeat instance per person: a name signs with a new signature PNG; a dict is taken as
    the instance's answers as they are (e.g. {"investigator_name": "李四", "investigator_signature": ""}
    for someone who did not sign)."""
    rows = []
    for index, person in enumerate(people):
        if isinstance(person, dict):
            rows.append(person)
            continue
        signed = start + timedelta(minutes=1, seconds=20 * index, milliseconds=137 * (index + 1))
        file_name = _photo_name(signed, ".png")
        files[file_name] = drawn_signature(seed * 10 + index, case_id, signed)
        rows.append({name_field: person, signature_field: file_name})
    return rows


def _referenced(value) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for v in item.values() for name in _referenced(v)]
    return [value] if isinstance(value, str) else []


def _finish(form_id, answers, overrides, files, instance_id, deprecated_id, version) -> tuple[bytes, dict[str, bytes]]:
    """Apply overrides, build the XML, and keep exactly the files the final answers name.

    Overrides win by path: a group or repeat overridden with None drops the builder's own answers
    inside it (three_checks=None leaves the group out even though the builder had filled it)."""
    root = compiled_form(form_id).root
    defaults = _resolve(form_id, root, answers, "")
    replaced = _resolve(form_id, root, overrides, "")
    for group, value in replaced.items():
        if value is None:
            defaults = {path: v for path, v in defaults.items() if path[: len(group)] != group or path == group}
    answers = {"/".join(path): value for path, value in {**defaults, **replaced}.items()}
    named = {name for value in answers.values() for name in _referenced(value)}
    attachments = {name: data for name, data in files.items() if name in named}
    xml = instance_xml(
        form_id, answers, instance_id=instance_id or f"uuid:{uuid.uuid4()}", deprecated_id=deprecated_id, version=version
    )
    return xml, attachments


# --- whole submissions ------------------------------------------------------------------------

def household_visit(
    case_id: str,
    *,
    instance_id: str | None = None,
    lat: float = 35.0312,
    lon: float = 104.7104,
    when: datetime | None = None,
    outcome: str = "done",
    members: int = 2,
    with_photos: bool = True,
    photo_seed: int = 0,
    investigators: tuple[str | dict, ...] = ("王芳", "李建军"),
    deprecated_id: str | None = None,
    version: str | None = None,
    **overrides,
) -> tuple[bytes, dict[str, bytes]]:
    """A complete, valid household_visit as Collect sends it: (XML, {file name: bytes}).

    Two investigators with signature PNGs; the visit geopoint `lat lon alt 5.0` and a start
    geopoint; the five sights photographed (JPEGs with EXIF GPS within a few metres and times
    inside the visit) or, with_photos=False, explained; `members` co-resident members with valid ID
    numbers and incomes and the form's own calculations; the head's signature; start 12 minutes
    before `when` and end 13 minutes after; audit.csv with a location on every event. An outcome
    other than "done" leaves out what the form makes non-relevant and flags it as the caseworker
    would (refused -> refused_investigation, moved -> moved_without_notice).

    case_id=None makes a new applicant's visit (visit_type application, is_new_applicant yes, the
    applicant group filled, no case_id); visit_type="application" also skips the three checks.

    `investigators` are names (each signs) or dicts of raw answers (see _signers). `overrides`
    replace answers by name or path: None leaves a field out (sight_head_photo=None: a sight seen
    but not photographed), a new file name is named in the XML but not returned (an attachment
    that has not arrived yet). Only files the final answers name are returned.
    """
    when = (when or DEFAULT_WHEN).astimezone(SHANGHAI)
    start, end = when - timedelta(minutes=12), when + timedelta(minutes=13)
    files: dict[str, bytes] = {}
    done = outcome == "done"
    new_applicant = case_id is None
    visit_type = overrides.get("visit_type") or ("application" if new_applicant else "periodic")
    answers: dict[str, object] = {
        "start": _odk_datetime(start),
        "end": _odk_datetime(end),
        "username": "",
        "start_location": _geopoint(round(lat + 0.0003, 6), round(lon - 0.0002, 6), 1818.0, 12.0),
        "visit_type": visit_type,
        "is_new_applicant": ("yes" if new_applicant else "no") if visit_type == "application" else None,
        "case_id": None if new_applicant else case_id,
        "applicant": None,
        "visit_date": when.date().isoformat(),
        "outcome": outcome,
        "outcome_notes": None if done else _OUTCOME_NOTES.get(outcome, ""),
        "investigators": _signers(list(investigators), "investigator_name", "investigator_signature", start, photo_seed, files,
                                  case_id),
        "investigator_count": str(len(investigators)),
        "investigators_check": "OK",
        "location": _geopoint(lat, lon),
        "red_flags": _RED_FLAGS.get(outcome, "none"),
        "red_flag_notes": None if _RED_FLAGS.get(outcome, "none") == "none" else _OUTCOME_NOTES.get(outcome, ""),
        "audit": "audit.csv",
    }
    if new_applicant:
        answers |= {
            "applicant_name": "赵新户",
            "applicant_id_number": id_number(date(1975, 5, 6), True, 7),
            "applicant_address": "石门村 9 号",
            "applicant_residence": "rural",
            "applicant_phone": "13800138000",
        }
    if done:
        rows = _member_rows(members)
        member_answers = [
            {
                "member_name": row["member_name"],
                "relation": row["relation"],
                "id_number": id_number(row["birth"], row["male"], row["sequence"]),
                "sex": "male" if row["male"] else "female",
                "birth_date": row["birth"].isoformat(),
                "disability_grade": row["disability_grade"],
                "work_capacity": row["work_capacity"],
                "health": row["health"],
                "is_student": row["is_student"],
                **_income_answers(row),
            }
            for row in rows
        ]
        household_income = round(sum(_member_income(row) for row in rows), 2)
        head_signed = end - timedelta(minutes=2, milliseconds=-583)
        head_signature = _photo_name(head_signed, ".png")
        files[head_signature] = drawn_signature(photo_seed * 10 + 9, case_id, head_signed)
        answers.update(
            _sight_answers(lat, lon, when, photo_seed, with_photos, files)
            | {
                "members": member_answers,
                "household_size": str(len(rows)),
                "household_income": _number(household_income),
                "income_per_capita": _number(household_income / len(rows)) if rows else "0",
                "members_check": "OK",
                "housing_type": "own_house",
                "housing_area_m2": "68",
                "owns_commercial_housing": "no",
                "built_large_house": "no",
                "vehicle": "none",
                "bank_deposits_yuan": "1200",
                "business_registered": "no",
                "luxury_goods": "none",
                "living_conditions": "土木结构平房三间，家具简陋",
                # The three checks are about payments and publicity: skipped on application visits.
                **({"three_checks": None} if visit_type == "application" else {name: "yes" for name in (
                    "check_genuine", "check_income_accurate", "check_category_right", "check_publicity_done",
                    "check_no_favouritism", "check_funds_on_time", "check_funds_full",
                )} | {"check_notes": ""}),
                "investigator_opinion": "approve_applicant" if visit_type == "application" else "continue",
                "suggested_category": "B",
                "opinion_text": "经入户核查，家庭收入情况属实，建议继续享受低保。",
                "head_signature": head_signature,
            }
        )
    else:
        answers.update(
            {name: None for name in (
                "sights", "members", "members_check", "property", "three_checks", "investigator_opinion",
                "suggested_category", "opinion_text", "head_signature",
            )}
            | {"household_size": "0", "household_income": "0", "income_per_capita": "0"}
        )
    applicant_name = overrides.get("applicant_name") or overrides.get("applicant/applicant_name") or "赵新户"
    label = f"新申请 {applicant_name}" if new_applicant else overrides.get("case_label", "")
    answers["instanceName"] = f"{label} {answers['visit_date']}"
    questions = _audited(
        {**answers, **overrides},
        "visit_type", "case_id", "visit_date", "outcome", "investigators[1]/investigator_name", "location",
        "sights/sight_head_photo", "sights/sight_home_photo", "members[1]/member_name", "members[1]/income_wage",
        "red_flags", "head_signature",
    )
    files["audit.csv"] = audit_csv(_audit_events("data", start, end, questions), lat=lat, lon=lon, seed=photo_seed)
    return _finish("household_visit", answers, overrides, files, instance_id, deprecated_id, version)


def application(
    case_id: str,
    *,
    instance_id: str | None = None,
    when: datetime | None = None,
    applicant_name: str = "张建国",
    applicant_id_number: str | None = None,
    photo_seed: int = 50,
    deprecated_id: str | None = None,
    version: str | None = None,
    **overrides,
) -> tuple[bytes, dict[str, bytes]]:
    """Book 1 (最低生活保障申请书) as Collect sends it: the head's written reasons, signature PNG
    and a photo of the signed paper (a JPEG with EXIF time, no GPS: a photo of a document taken
    indoors often has none)."""
    when = (when or DEFAULT_WHEN).astimezone(SHANGHAI)
    start, end = when - timedelta(minutes=5), when + timedelta(minutes=5)
    files: dict[str, bytes] = {}
    signed = when - timedelta(minutes=1)
    signature = _photo_name(signed, ".png")
    files[signature] = drawn_signature(photo_seed * 10 + 9, case_id, signed)
    shot = when + timedelta(minutes=1, milliseconds=412)
    paper = _photo_name(shot, ".jpg")
    files[paper] = jpeg_with_exif(taken_at=shot.replace(microsecond=0), seed=photo_seed * 100 + 7)
    answers = {
        "start": _odk_datetime(start),
        "end": _odk_datetime(end),
        "username": "",
        "case_id": case_id,
        "applicant_name": applicant_name,
        "applicant_id_number": applicant_id_number or id_number(date(1968, 3, 15), True, 1),
        "reasons": "本人患慢性病，丧失部分劳动能力，家庭收入低于当地低保标准，特申请最低生活保障。",
        "head_signature": signature,
        "paper_photo": paper,
        "signed_date": when.date().isoformat(),
        "instanceName": f"{overrides.get('case_label', '')} 申请书 {when.date().isoformat()}",
    }
    return _finish("application", answers, overrides, files, instance_id, deprecated_id, version)


def spot_check(
    case_id: str,
    *,
    instance_id: str | None = None,
    lat: float = 35.0312,
    lon: float = 104.7104,
    when: datetime | None = None,
    outcome: str = "done",
    members: int = 2,
    with_photos: bool = True,
    photo_seed: int = 20,
    checkers: tuple[str | dict, ...] = ("赵志强",),
    deprecated_id: str | None = None,
    version: str | None = None,
    **overrides,
) -> tuple[bytes, dict[str, bytes]]:
    """A spot check (抽查复核) re-visit as Collect sends it: one checker by default, the same five
    sights and member incomes as household_visit(members=...) so the two compare equal unless
    overridden, the assessment, the head's signature and audit.csv."""
    when = (when or DEFAULT_WHEN).astimezone(SHANGHAI)
    start, end = when - timedelta(minutes=10), when + timedelta(minutes=10)
    files: dict[str, bytes] = {}
    done = outcome == "done"
    answers: dict[str, object] = {
        "start": _odk_datetime(start),
        "end": _odk_datetime(end),
        "username": "",
        "start_location": _geopoint(round(lat - 0.0002, 6), round(lon + 0.0001, 6), 1821.0, 9.0),
        "case_id": case_id,
        "visit_date": when.date().isoformat(),
        "outcome": outcome,
        "outcome_notes": None if done else _OUTCOME_NOTES.get(outcome, ""),
        "checkers": _signers(list(checkers), "checker_name", "checker_signature", start, photo_seed, files, case_id),
        "checker_count": str(len(checkers)),
        "checkers_check": "OK",
        "location": _geopoint(lat, lon),
        "red_flags": _RED_FLAGS.get(outcome, "none"),
        "red_flag_notes": None if _RED_FLAGS.get(outcome, "none") == "none" else _OUTCOME_NOTES.get(outcome, ""),
        "audit": "audit.csv",
    }
    if done:
        rows = _member_rows(members)
        head_signed = end - timedelta(minutes=2, milliseconds=-583)
        head_signature = _photo_name(head_signed, ".png")
        files[head_signature] = drawn_signature(photo_seed * 10 + 9, case_id, head_signed)
        answers.update(
            _sight_answers(lat, lon, when, photo_seed, with_photos, files)
            | {
                "household_size_found": str(len(rows)),
                "members_present": str(len(rows)),
                "head_seen": "yes",
                "members": [
                    {"member_name": row["member_name"], "relation": row["relation"],
                     "work_capacity": row["work_capacity"], **_income_answers(row)}
                    for row in rows
                ],
                "member_count": str(len(rows)),
                "household_income": _number(sum(_member_income(row) for row in rows)),
                "member_count_note": None,  # relevant only when the count differs
                "assessed_eligible": "yes",
                "assessed_category": "B",
                "check_notes": "",
                "head_signature": head_signature,
            }
        )
    else:
        answers.update(
            {name: None for name in (
                "sights", "household_size_found", "members_present", "head_seen", "members", "member_count_note",
                "assessed_eligible", "assessed_category", "check_notes", "head_signature",
            )}
            | {"member_count": "0", "household_income": "0"}
        )
    answers["instanceName"] = f"{overrides.get('case_label', '')} 抽查 {answers['visit_date']}"
    questions = _audited(
        {**answers, **overrides},
        "case_id", "visit_date", "outcome", "checkers[1]/checker_name", "location", "sights/sight_head_photo",
        "members[1]/income_wage", "red_flags",
    )
    files["audit.csv"] = audit_csv(_audit_events("data", start, end, questions), lat=lat, lon=lon, seed=photo_seed)
    return _finish("spot_check", answers, overrides, files, instance_id, deprecated_id, version)


def multipart_files(xml: bytes, attachments: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The parts Collect posts: xml_submission_file, then each attachment under its file name.
    For requests (`files=`) and werkzeug's test client alike."""
    types = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".csv": "text/csv"}
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    for name, data in attachments.items():
        parts.append((name, (name, data, types.get(Path(name).suffix.lower(), "application/octet-stream"))))
    return parts
