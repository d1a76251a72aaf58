"""Reading XForms and submitted instances: which fields are files, repeats, and the answers."""
from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from defusedxml import ElementTree as SafeET

XFORMS_NS = "{http://www.w3.org/2002/xforms}"
HTML_NS = "{http://www.w3.org/1999/xhtml}"

# The years a date or time from a phone must fall in to count. A phone whose clock was reset reads
# 1970 or 2000: inside, so the checks can tell it apart. A date near the calendar's ends (years 1
# and 9999) is no visit's, and the sums made with it (Beijing time, a check's slack, the next due
# date) would run off the calendar.
PLAUSIBLE_YEARS = range(1900, 2200)


class InstanceInvalid(ValueError):
    """The submitted XML is not a usable instance document; the message says why."""


@dataclass(frozen=True)
class FormStructure:
    root_name: str
    binary_fields: frozenset[str]   # paths below the root, e.g. "sights/sight_head_photo", "meta/audit"
    image_fields: frozenset[str]
    repeats: frozenset[str]          # paths of repeat groups, e.g. "members"
    names_a_household: bool          # a household's form: it asks case_id
    # The form's own choice lists: list name -> choice name -> language ("zh", "en") -> label. Lists
    # read from a file (cases.csv, villages.csv) are not here: their labels are the server's data.
    choices: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # Questions answered from a choice list: path -> (list name, several choices allowed).
    selects: Mapping[str, tuple[str, bool]] = field(default_factory=dict)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _language(lang: str) -> str:
    """A translation's language code: "Chinese (zh)" -> "zh"; the whole name when it gives none."""
    found = re.search(r"\(([^()]+)\)\s*$", lang)
    return found.group(1) if found else lang


@functools.lru_cache(maxsize=256)
def form_structure(xml: bytes) -> FormStructure:
    """What the server needs to know about a form, read once per (immutable) form version."""
    root = ET.fromstring(xml)
    model = root.find(f"{HTML_NS}head/{XFORMS_NS}model")
    instance = model.find(f"{XFORMS_NS}instance")
    data = instance[0]
    prefix = f"/{local(data.tag)}/"

    def relative(nodeset: str) -> str:
        return nodeset[len(prefix):] if nodeset.startswith(prefix) else nodeset.lstrip("/")

    binary = {relative(b.get("nodeset", "")) for b in model.iter(f"{XFORMS_NS}bind") if b.get("type") == "binary"}
    images = {
        relative(u.get("ref", ""))
        for u in root.iter(f"{XFORMS_NS}upload")
        if (u.get("mediatype") or "").startswith("image/")
    }
    repeats = {relative(r.get("nodeset", "")) for r in root.iter(f"{XFORMS_NS}repeat")}
    selects = {}
    for tag, multiple in (("select1", False), ("select", True)):
        for question in root.iter(f"{XFORMS_NS}{tag}"):
            itemset = question.find(f"{XFORMS_NS}itemset")
            listed = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset", "")) if itemset is not None else None
            if listed:
                selects[relative(question.get("ref", ""))] = (listed.group(1), multiple)
    return FormStructure(local(data.tag), frozenset(binary), frozenset(images & binary), frozenset(repeats),
                         names_a_household=any(local(child.tag) == "case_id" for child in data),
                         choices=_choice_lists(model), selects=selects)


def _choice_lists(model: ET.Element) -> dict[str, dict[str, dict[str, str]]]:
    """The choice lists of the form's secondary instances with their labels in each language, read
    from the itext translations (or an item's own label in a form without translations)."""
    texts: dict[str, dict[str, str]] = {}
    itext = model.find(f"{XFORMS_NS}itext")
    for translation in itext.findall(f"{XFORMS_NS}translation") if itext is not None else []:
        language = _language(translation.get("lang", ""))
        for text in translation.findall(f"{XFORMS_NS}text"):
            value = text.find(f"{XFORMS_NS}value")
            texts.setdefault(text.get("id", ""), {})[language] = "".join(value.itertext()).strip() if value is not None else ""
    lists = {}
    for instance in model.findall(f"{XFORMS_NS}instance")[1:]:  # the first is the form's data
        if instance.get("src") or not instance.get("id"):
            continue
        items = {}
        for item in instance.iter(f"{XFORMS_NS}item"):
            name = (item.findtext(f"{XFORMS_NS}name") or "").strip()
            own = item.findtext(f"{XFORMS_NS}label")
            items[name] = dict(texts.get((item.findtext(f"{XFORMS_NS}itextId") or "").strip(), {}))
            if own is not None and not items[name]:
                items[name] = {"": own.strip()}
        lists[instance.get("id")] = items
    return lists


# Deepest element nesting accepted in form data, the root being level 1: our forms nest groups and
# repeats a few levels deep; the walks over an instance (leaves, the visit record's) recurse once per level.
MAX_DEPTH = 64
_BELOW_MAX_DEPTH = "/".join(["*"] * MAX_DEPTH)  # an element at level MAX_DEPTH + 1


def parse_instance(xml: bytes) -> ET.Element:
    """Parse a submission without DTDs, external entities or entity expansion, nested at most
    MAX_DEPTH levels deep."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ET.ParseError as error:
        raise InstanceInvalid(f"The form data is not well-formed XML ({error}).") from None
    except Exception as error:  # defusedxml's refusals (DTD, entities)
        raise InstanceInvalid(f"The form data uses XML features this server refuses ({type(error).__name__}).") from None
    if root.find(_BELOW_MAX_DEPTH) is not None:
        raise InstanceInvalid(f"The form data nests elements more than {MAX_DEPTH} levels deep, "
                              "which no form of this server does.")
    return root


def leaves(element: ET.Element, path: str = ""):
    """(path, text) of every leaf below element; paths omit repeat positions."""
    for child in element:
        child_path = f"{path}/{local(child.tag)}" if path else local(child.tag)
        if len(child):
            yield from leaves(child, child_path)
        else:
            yield child_path, (child.text or "").strip()


def find_text(root: ET.Element, path: str) -> str:
    """The text of the first element at a slash path (namespaces ignored) if it is a leaf, or ''."""
    element = root.find("/".join(f"{{*}}{name}" for name in path.split("/")))
    return (element.text or "").strip() if element is not None and not len(element) else ""


def flat_answers(tree: dict) -> dict:
    """Answers by field name with groups dissolved (names are unique in our forms); repeats stay
    lists of flat dicts."""
    flat: dict = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            flat.update(flat_answers(value))
        elif isinstance(value, list):
            flat[name] = [flat_answers(item) for item in value if isinstance(item, dict)]
        else:
            flat[name] = value
    return flat


def answer_date(text: str | None) -> date | None:
    """A date answer (YYYY-MM-DD) within PLAUSIBLE_YEARS; None for anything else."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if day.year in PLAUSIBLE_YEARS else None


def answer_instant(text: str | None) -> datetime | None:
    """A dateTime answer with its time zone (as ODK writes start and end) whose UTC time lies within
    PLAUSIBLE_YEARS; None for anything else."""
    try:
        moment = datetime.fromisoformat(text or "")
        if moment.tzinfo is None or moment.astimezone(timezone.utc).year not in PLAUSIBLE_YEARS:
            return None
    except (ValueError, OverflowError):
        return None
    return moment


def answer_geopoint(text: str | None) -> dict | None:
    """A geopoint answer, "latitude longitude altitude accuracy", as {latitude, longitude, altitude,
    accuracy}; None when it is no position on Earth (a missing one is none either). An accuracy or
    altitude that is not a number, or a negative accuracy, is None."""
    latitude, longitude, altitude, accuracy = (_finite(part) for part in ((text or "").split() + [""] * 4)[:4])
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude,
            "accuracy": accuracy if accuracy is None or accuracy >= 0 else None}


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
