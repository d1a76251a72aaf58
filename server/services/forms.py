"""Publishing questionnaires: XLSForm → pyxform → ODK Validate → a stored, immutable version."""
from __future__ import annotations

import hashlib
import logging
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyxform.errors import PyXFormError
from pyxform.validators.odk_validate import ODKValidateError, check_xform
from pyxform.xls2xform import convert
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Duplicate, FormInvalid, InvalidInput, NotFound
from ..models import Form, FormVersion, User
from .xforms import HTML_NS, XFORMS_NS, FormStructure, form_structure

log = logging.getLogger(__name__)

XLSFORM_TYPES = (".xlsx", ".xls", ".md", ".csv")

# Files this server generates for each caller; a form may read no other media.
GENERATED_MEDIA = ("cases.csv", "villages.csv")

# The formIDs of the questionnaires in forms/ that the server reads by name (forms/README.md).
HOUSEHOLD_VISIT = "household_visit"  # the home visit, table 1
APPLICATION = "application"
DECLARATION = "declaration"
AUTHORIZATION = "authorization"
RELATIVE_REGISTRATION = "relative_registration"  # table 2
REVIEW_APPROVAL = "review_approval"  # table 3
SPOT_CHECK = "spot_check"  # the county's re-visit of a sampled household
DEMOCRATIC_APPRAISAL = "democratic_appraisal"
PUBLICITY_RECORD = "publicity_record"

# Who receives which form on the phone; a new formID gets DEFAULT_ROLES until an admin changes it.
FORM_ROLES = {
    HOUSEHOLD_VISIT: ["caseworker", "supervisor", "county"],
    APPLICATION: ["caseworker", "supervisor"],
    DECLARATION: ["caseworker", "supervisor"],
    AUTHORIZATION: ["caseworker", "supervisor"],
    RELATIVE_REGISTRATION: ["caseworker", "supervisor"],
    REVIEW_APPROVAL: ["caseworker", "supervisor", "county"],
    SPOT_CHECK: ["supervisor", "county"],
    DEMOCRATIC_APPRAISAL: ["caseworker", "supervisor"],
    PUBLICITY_RECORD: ["caseworker", "supervisor"],
}
DEFAULT_ROLES = ["caseworker", "supervisor", "county"]


@dataclass(frozen=True)
class CompiledForm:
    form_id: str
    version: str
    title: str
    xml: bytes
    md5: str
    media_files: list[str]
    warnings: list[str]


def compile_xlsform(source: bytes, filename: str) -> CompiledForm:
    """Run pyxform on an XLSForm and read what the server needs from the XForm it makes."""
    suffix = Path(filename).suffix.lower()
    if suffix not in XLSFORM_TYPES:
        raise InvalidInput(f"{filename!r} is not an XLSForm; send .xlsx, .xls, .md or .csv.")
    warnings: list[str] = []
    try:
        result = convert(xlsform=source, file_type=suffix, warnings=warnings)
    except PyXFormError as error:
        raise FormInvalid(f"pyxform could not read {filename}: {error}") from None
    except Exception as error:  # pyxform raises plain errors on some broken files
        log.info("pyxform failed on %s: %r", filename, error)
        raise FormInvalid(f"pyxform could not read {filename}: {type(error).__name__}: {error}") from None
    xml = result.xform.encode("utf-8")
    root = ET.fromstring(xml)
    instance = root.find(f"./{HTML_NS}head/{XFORMS_NS}model/{XFORMS_NS}instance")
    data = instance[0] if instance is not None and len(instance) else None
    if data is None or not data.get("id"):
        raise FormInvalid(f"{filename} has no form_id.")
    version = data.get("version") or ""
    if not version:
        raise FormInvalid(f"{filename} has no version: set settings.version (e.g. 2026112301).")
    title = root.findtext(f"./{HTML_NS}head/{HTML_NS}title") or data.get("id")
    for name, value, column in (("form_id", data.get("id"), Form.form_id), ("version", version, FormVersion.version),
                                ("form_title", title, FormVersion.title)):
        if len(value) > column.type.length:
            raise FormInvalid(f"{filename}: settings.{name} is longer than {column.type.length} characters.")
    media = sorted(
        {
            src.rsplit("/", 1)[-1]
            for element in root.iter(f"{XFORMS_NS}instance")
            if (src := element.get("src", "")).startswith("jr://file")
        }
    )
    unknown = [name for name in media if name not in GENERATED_MEDIA]
    if unknown:
        raise FormInvalid(
            f"{filename} reads {', '.join(unknown)}, which this server does not supply; "
            f"forms may read only {', '.join(GENERATED_MEDIA)}."
        )
    return CompiledForm(
        form_id=data.get("id"),
        version=version,
        title=title,
        xml=xml,
        md5=hashlib.md5(xml).hexdigest(),
        media_files=media,
        warnings=warnings,
    )


def run_odk_validate(compiled: CompiledForm) -> list[str]:
    """ODK Validate (JavaRosa, shipped in pyxform) must accept the XForm exactly as phones get it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{compiled.form_id}.xml"
        path.write_bytes(compiled.xml)
        try:
            warnings = check_xform(str(path))
        except ODKValidateError as error:
            raise FormInvalid(f"ODK Validate refused {compiled.form_id}: {error}") from None
        except OSError as error:  # no Java
            raise FormInvalid(f"ODK Validate could not run: {error}") from None
    for warning in warnings:
        if warning.startswith(("XForm took to long", "Bad return code")):
            raise FormInvalid(f"ODK Validate did not finish on {compiled.form_id}: {warning}")
    return warnings


_structures: dict[tuple[int, str], FormStructure] = {}


def structure_of(form_version: FormVersion) -> FormStructure:
    """The structure of a published version, read from its XForm once per process."""
    return structure_of_version(form_version.id, form_version.md5, lambda: form_version.xml)


def structure_of_version(version_pk: int, md5: str, xml: Callable[[], bytes]) -> FormStructure:
    """The structure of the published version with this id and md5, parsed from xml() the first
    time: a version is immutable, and the md5 guards against a reused id (SQLite after a rollback)."""
    key = (version_pk, md5)
    if key not in _structures:
        _structures[key] = form_structure(xml())
    return _structures[key]


def find_version(session: Session, form_id: str, version: str) -> FormVersion | None:
    return session.scalar(
        select(FormVersion).join(Form).where(Form.form_id == form_id, FormVersion.version == version)
    )


def publish(
    session: Session,
    source: bytes,
    filename: str,
    *,
    published_by: User | None = None,
    validate: bool = True,
) -> FormVersion:
    """Store a new version of a form; a version string is never reused, old versions stay."""
    if len(Path(filename).name) > FormVersion.source_filename.type.length:
        raise InvalidInput(f"The file name is longer than {FormVersion.source_filename.type.length} characters.")
    compiled = compile_xlsform(source, filename)
    existing = find_version(session, compiled.form_id, compiled.version)
    if existing is not None:
        raise Duplicate(
            f"{compiled.form_id} version {compiled.version} is already published; "
            "change settings.version to publish a new version."
        )
    if validate:
        run_odk_validate(compiled)
    form = session.scalar(select(Form).where(Form.form_id == compiled.form_id))
    if form is None:
        form = Form(
            form_id=compiled.form_id,
            title=compiled.title,
            roles=list(FORM_ROLES.get(compiled.form_id, DEFAULT_ROLES)),
        )
        session.add(form)
    form.title = compiled.title
    version = FormVersion(
        form=form,
        version=compiled.version,
        title=compiled.title,
        xml=compiled.xml,
        md5=compiled.md5,
        media_files=compiled.media_files,
        source_filename=Path(filename).name,
        source=source,
        published_by=published_by,
    )
    session.add(version)
    session.flush()
    return version


def publish_directory(session: Session, folder: Path, *, validate: bool = True) -> list[tuple[str, str, str]]:
    """Publish every XLSForm in a folder whose version is new; return (file, formID@version, what)."""
    report = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in XLSFORM_TYPES or path.name.lower() == "readme.md":
            continue
        source = path.read_bytes()
        compiled = compile_xlsform(source, path.name)
        label = f"{compiled.form_id}@{compiled.version}"
        existing = find_version(session, compiled.form_id, compiled.version)
        if existing is not None:
            if existing.md5 != compiled.md5:
                raise Duplicate(f"{path.name} changed but its version {compiled.version} is already published; "
                                "bump settings.version.")
            report.append((path.name, label, "unchanged"))
            continue
        publish(session, source, path.name, validate=validate)
        report.append((path.name, label, "published"))
    return report


def current_versions(session: Session, form_ids: list[str] | None = None) -> list[tuple[Form, FormVersion]]:
    """The newest version of each form (optionally of the given formIDs), in formID order."""
    newest = select(FormVersion.form_pk, func.max(FormVersion.id).label("id")).group_by(FormVersion.form_pk).subquery()
    query = (
        select(Form, FormVersion)
        .join(newest, newest.c.form_pk == Form.id)
        .join(FormVersion, FormVersion.id == newest.c.id)
        .order_by(Form.form_id)
    )
    if form_ids is not None:
        query = query.where(Form.form_id.in_(form_ids))
    return [(form, version) for form, version in session.execute(query)]


def get_version(session: Session, form_id: str, version: str | None = None) -> FormVersion:
    """A given version of a form, or its newest."""
    if version is None:
        found = current_versions(session, [form_id])
        if found:
            return found[0][1]
    else:
        found_version = find_version(session, form_id, version)
        if found_version is not None:
            return found_version
    raise NotFound(f"No form {form_id!r}" + (f" with version {version!r}." if version else "."))


def forms_for_role(session: Session, role: str) -> list[tuple[Form, FormVersion]]:
    return [(form, version) for form, version in current_versions(session) if role in form.roles]
