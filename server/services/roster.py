"""Importing a county's existing household roster (one row per member) from CSV or XLSX."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Area, Household, Member
from .idnumbers import birth_date_of, normalise_id_number, sex_of

HOUSEHOLD_COLUMNS = ("case_number", "village_code", "address", "residence", "category", "status", "latitude", "longitude")
MEMBER_COLUMNS = ("member_name", "relation", "sex", "birth_date", "id_number", "disability_grade", "work_capacity")
REQUIRED_COLUMNS = ("case_number", "village_code", "residence", "member_name", "relation")
# The columns' lengths: PostgreSQL refuses a longer value with a DataError for the whole import.
MAX_LENGTH = {"case_number": 32, "address": 255, "member_name": 100}
# A title row or two ("青山县低保花名册") often stands above the header.
HEADER_SEARCH_ROWS = 10

# Headers as county rosters write them (compared after NFKC, so "村（社区）代码" matches too).
HEADER_ALIASES = {
    "户编号": "case_number", "户号": "case_number", "案件编号": "case_number",
    "村代码": "village_code", "村(社区)代码": "village_code", "村(居)代码": "village_code", "社区代码": "village_code",
    "地址": "address", "家庭住址": "address", "住址": "address",
    "城乡": "residence", "城乡类别": "residence", "城乡属性": "residence",
    "类别": "category", "保障类别": "category", "分类": "category",
    "状态": "status", "保障状态": "status", "纬度": "latitude", "经度": "longitude",
    "姓名": "member_name", "成员姓名": "member_name",
    "与户主关系": "relation", "关系": "relation", "性别": "sex", "出生日期": "birth_date",
    "身份证号": "id_number", "身份证号码": "id_number", "身份证": "id_number", "公民身份号码": "id_number",
    "证件号码": "id_number", "残疾等级": "disability_grade", "劳动能力": "work_capacity",
}
VALUE_ALIASES = {
    "residence": {"城市": "urban", "城镇": "urban", "城市低保": "urban", "农村": "rural", "农村低保": "rural"},
    "category": {"一类": "A", "二类": "B", "三类": "C", "a": "A", "b": "B", "c": "C"},
    "status": {"申请": "applicant", "在保": "active", "停保": "suspended", "暂停": "suspended", "退保": "removed", "注销": "removed"},
    "relation": {
        "户主": "head", "本人": "head", "配偶": "spouse", "妻": "spouse", "妻子": "spouse", "夫": "spouse", "丈夫": "spouse",
        "子女": "child", "子": "child", "女": "child", "儿子": "child", "女儿": "child", "父母": "parent", "父亲": "parent",
        "母亲": "parent", "孙子女": "grandchild", "孙子": "grandchild", "孙女": "grandchild", "兄弟姐妹": "sibling",
        "其他": "other",
    },
    "sex": {"男": "male", "女": "female", "男性": "male", "女性": "female", "m": "male", "f": "female"},
    "work_capacity": {"有": "full", "完全": "full", "部分": "partial", "弱": "partial", "无": "none", "丧失": "none"},
    "disability_grade": {"": "", "无": "", "一级": "1", "二级": "2", "三级": "3", "四级": "4"},
}
ALLOWED = {
    "residence": ("urban", "rural"),
    "category": ("", "A", "B", "C"),
    "status": ("applicant", "active", "suspended", "removed"),
    "relation": ("head", "spouse", "child", "parent", "grandchild", "sibling", "other"),
    "sex": ("male", "female"),
    "work_capacity": ("", "full", "partial", "none"),
    "disability_grade": ("", "1", "2", "3", "4"),
}
_EXCEL_NUMBER = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
_EXCEL_NUMBER_HINT = ("Excel kept it as a number and dropped its last digits; format the column as text "
                      "and type the numbers again")


@dataclass
class RosterReport:
    households: int = 0
    members: int = 0
    skipped_households: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    imported: bool = False


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    # The ID number cell of an XLSX held a number, not text: Excel keeps 15 significant digits.
    numeric_id: bool = False


@dataclass
class Roster:
    """The rows of a roster file and what was left out of it."""

    rows: list[_Row]
    ignored_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def read_roster(path: Path) -> Roster:
    """Rows of a CSV (UTF-8 or GB18030, as Excel writes it in China) or XLSX file, by line number."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise InvalidInput(f"{path.name}: a roster is a .csv or .xlsx file.")
    if not any(_filled(cells) for _, cells in rows):
        raise InvalidInput(f"{path.name} is empty.")
    header_index, header = _find_header(path.name, rows)
    known = set(HOUSEHOLD_COLUMNS) | set(MEMBER_COLUMNS)
    ignored = [original for original, name in header if name and name not in known]
    result = []
    for line, cells in rows[header_index + 1 :]:
        if not _filled(cells):
            continue
        values, numeric_id = {}, False
        for (_, name), cell in zip(header, cells):
            if name in known:
                values[name] = _cell_text(cell).strip()
                numeric_id = numeric_id or (name == "id_number" and isinstance(cell, (int, float)) and not isinstance(cell, bool))
        result.append(_Row(line, values, numeric_id))
    return Roster(result, ignored)


def _xlsx_rows(path: Path) -> list[tuple[int, list]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as error:
        raise InvalidInput(f"{path.name} is not a readable .xlsx workbook ({type(error).__name__}).") from None
    try:
        sheet = workbook.active
        # Some programs write a wrong <dimension> in the sheet; read-only mode would trust it and
        # silently drop the rows and columns outside it.
        sheet.reset_dimensions()
        return [(number, list(row)) for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def _csv_rows(path: Path) -> list[tuple[int, list]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is neither UTF-8 nor GB18030 text; save it from Excel as CSV.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))  # a quoted value may span lines: report where the row starts
            start = reader.line_num + 1
    except csv.Error as error:
        raise InvalidInput(f"{path.name} line {reader.line_num}: {error}.") from None
    return rows


def _filled(cells) -> bool:
    return any(_cell_text(cell).strip() for cell in cells)


def _header_name(text: str) -> str:
    name = unicodedata.normalize("NFKC", text).strip()
    if name in HEADER_ALIASES:
        return HEADER_ALIASES[name]
    return re.sub(r"[\s-]+", "_", name.lower())


def _find_header(filename: str, rows: list[tuple[int, list]]) -> tuple[int, list[tuple[str, str]]]:
    """The first row naming every required column; rows above it are titles."""
    candidates = [(index, cells) for index, (_, cells) in enumerate(rows) if _filled(cells)][:HEADER_SEARCH_ROWS]
    for index, cells in candidates:
        header = [(_cell_text(cell).strip(), _header_name(_cell_text(cell))) for cell in cells]
        names = [name for _, name in header]
        if all(name in names for name in REQUIRED_COLUMNS):
            seen: dict[str, str] = {}
            for original, name in header:
                if name in seen and name in set(HOUSEHOLD_COLUMNS) | set(MEMBER_COLUMNS):
                    raise InvalidInput(
                        f"{filename} line {rows[index][0]}: the columns {seen[name]!r} and {original!r} both mean {name}."
                    )
                seen.setdefault(name, original)
            return index, header
    index, cells = candidates[0]
    names = [_header_name(_cell_text(cell)) for cell in cells]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    raise InvalidInput(f"{filename} lacks the columns {', '.join(missing)} (line {rows[index][0]}).")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _canonical(column: str, value: str) -> str:
    aliases = VALUE_ALIASES.get(column, {})
    value = aliases.get(value, aliases.get(value.lower(), value))
    if column in ALLOWED and value not in ALLOWED[column] and value.lower() in ALLOWED[column]:
        value = value.lower()  # "Head", "Rural"
    if column in ALLOWED and value not in ALLOWED[column]:
        shown = ", ".join(v for v in ALLOWED[column] if v)
        raise ValueError(f"{column} {value!r} is not one of {shown}")
    return value


def _parse_date(column: str, value: str) -> date:
    """ISO dates and the forms Excel in China writes: 1949/1/5, 1949.1.5, 19490105, 1949年1月5日."""
    text = unicodedata.normalize("NFKC", value)
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a date (write it as 1949-12-31)") from None


def _parse_member(row: _Row, today: date) -> Member:
    values = row.values
    name = values.get("member_name", "")
    if not name:
        raise ValueError("member_name is empty")
    if len(name) > MAX_LENGTH["member_name"]:
        raise ValueError(f"member_name has more than {MAX_LENGTH['member_name']} characters")
    member = Member(
        name=name,
        relation=_canonical("relation", values.get("relation", "")),
        work_capacity=_canonical("work_capacity", values.get("work_capacity", "")) or None,
    )
    grade = _canonical("disability_grade", values.get("disability_grade", ""))
    member.disability_grade = int(grade) if grade else None
    sex = _canonical("sex", values["sex"]) if values.get("sex") else ""
    birth = _parse_date("birth_date", values["birth_date"]) if values.get("birth_date") else None
    if birth and birth > today:
        raise ValueError(f"birth_date {birth} is in the future")
    id_number = values.get("id_number", "")
    if id_number:
        try:
            member.id_number = normalise_id_number(id_number)
        except ValueError as error:
            if row.numeric_id or _EXCEL_NUMBER.fullmatch(id_number):
                raise ValueError(f"id_number {id_number!r}: {_EXCEL_NUMBER_HINT}") from None
            raise ValueError(f"id_number: {error}") from None
        from_id = birth_date_of(member.id_number)
        if birth and birth != from_id:
            raise ValueError(f"birth_date {birth} differs from the ID number's {from_id}")
        sex_from_id = sex_of(member.id_number)
        if sex and sex != sex_from_id:
            raise ValueError(f"sex {sex} differs from the ID number's ({sex_from_id})")
        member.birth_date, member.sex = from_id, sex_from_id
    else:
        if not sex:
            raise ValueError("sex is empty and there is no ID number to take it from")
        member.id_number, member.birth_date, member.sex = None, birth, sex
    return member


def _household_fields(values: dict[str, str], villages: dict[str, int]) -> dict:
    code = values.get("village_code", "")
    if not code:
        raise ValueError("village_code is empty")
    if code not in villages:
        raise ValueError(f"village_code {code!r} is not a known village")
    address = values.get("address", "")
    if len(address) > MAX_LENGTH["address"]:
        raise ValueError(f"address has more than {MAX_LENGTH['address']} characters")
    lat, lon = values.get("latitude", ""), values.get("longitude", "")
    if bool(lat) != bool(lon):
        raise ValueError("give both latitude and longitude, or neither")
    fields = {
        "village_id": villages[code],
        "address": address,
        "residence": _canonical("residence", values.get("residence", "")),
        "category": _canonical("category", values.get("category", "")) or None,
        "status": _canonical("status", values.get("status", "") or "active"),
        "latitude": None,
        "longitude": None,
    }
    if lat:
        try:
            fields["latitude"], fields["longitude"] = float(lat), float(lon)
        except ValueError:
            raise ValueError(f"latitude/longitude {lat!r}, {lon!r} are not decimal degrees") from None
        if not (-90 <= fields["latitude"] <= 90 and -180 <= fields["longitude"] <= 180):
            raise ValueError("latitude/longitude out of range")
    return fields


def _same(column: str, a: str, b: str) -> bool:
    """Two spellings of one value ("农村" and "rural") are the same value."""
    if a == b:
        return True
    try:
        return _canonical(column, a) == _canonical(column, b)
    except ValueError:
        return False


def _merged_household_values(number: str, case_rows: list[_Row]) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Household columns may be filled on any of the case's rows, but must agree where filled twice."""
    merged: dict[str, str] = {}
    source: dict[str, int] = {}
    errors = []
    for row in case_rows:
        for column in HOUSEHOLD_COLUMNS:
            value = row.values.get(column, "")
            if not value:
                continue
            if column not in merged:
                merged[column], source[column] = value, row.line
            elif not _same(column, value, merged[column]):
                errors.append((row.line, f"{column} {value!r} differs from {merged[column]!r} on line {source[column]} of case {number}"))
    return merged, errors


def import_roster(
    session: Session,
    rows: Roster | list[_Row],
    *,
    skip_bad: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> RosterReport:
    """Check every row; import all households, or none if any row is bad (unless skip_bad).

    A household is imported whole or not at all: with skip_bad, a household with one bad row is
    left out entirely and its lines are reported.
    """
    rows = rows.rows if isinstance(rows, Roster) else rows
    report = RosterReport()
    today = date.today()
    villages = dict(session.execute(select(Area.code, Area.id).where(Area.level == "village")).all())
    by_case: dict[str, list[_Row]] = {}
    for row in rows:
        by_case.setdefault(row.values.get("case_number", ""), []).append(row)

    numbers = [number for number in by_case if number]
    taken_numbers = set(_existing(session, Household.case_number, numbers))
    # Every line of each valid ID number, so a person listed twice is reported on both lines:
    # which of the two is right is for a person to decide.
    lines_of_id: dict[str, list[int]] = {}
    for row in rows:
        id_number = _safe_id(row.values.get("id_number", ""))
        if id_number:
            lines_of_id.setdefault(id_number, []).append(row.line)
    taken_ids = set(_existing(session, Member.id_number, list(lines_of_id)))
    ready: list[Household] = []

    for number, case_rows in by_case.items():
        errors = _check_household(number, case_rows, villages, taken_numbers, taken_ids, lines_of_id, today, ready)
        progress(len(case_rows))
        if errors:
            report.errors += errors
            report.skipped_households += 1

    report.errors.sort()
    if report.errors and not skip_bad:
        return report
    session.add_all(ready)
    session.flush()
    report.households = len(ready)
    report.members = sum(len(h.members) for h in ready)
    report.imported = True
    return report


def _check_household(number, case_rows, villages, taken_numbers, taken_ids, lines_of_id, today, ready) -> list[tuple[int, str]]:
    """The errors of one case's rows; a case without errors is appended to ready."""
    if not number:
        return [(row.line, "case_number is empty") for row in case_rows]
    if len(number) > MAX_LENGTH["case_number"]:
        return [(case_rows[0].line, f"case_number has more than {MAX_LENGTH['case_number']} characters")]
    if number in taken_numbers:
        return [(case_rows[0].line, f"case {number} already exists")]
    values, errors = _merged_household_values(number, case_rows)
    household = None
    try:
        household = Household(case_number=number, head_name="", **_household_fields(values, villages))
    except ValueError as error:
        errors.append((case_rows[0].line, str(error)))
    members = []
    for row in case_rows:
        try:
            member = _parse_member(row, today)
        except ValueError as error:
            errors.append((row.line, str(error)))
            continue
        if member.id_number in taken_ids:
            errors.append((row.line, f"ID number {member.id_number[:6]}… is already in another household"))
        elif member.id_number and len(lines_of_id[member.id_number]) > 1:
            others = ", ".join(str(line) for line in lines_of_id[member.id_number] if line != row.line)
            errors.append((row.line, f"ID number {member.id_number[:6]}… is also on line {others}"))
        members.append(member)
    # Count heads on every row whose relation is readable, even if the row has other errors.
    head_lines = [row.line for row in case_rows if _relation_or_none(row) == "head"]
    if not head_lines:
        errors.append((case_rows[0].line, f"case {number} has no head of household (relation head/户主)"))
    elif len(head_lines) > 1:
        errors += [(line, f"case {number} has {len(head_lines)} heads of household; it needs one") for line in head_lines]
    if errors or household is None:
        return errors
    household.members = members
    household.head_name = next(m.name for m in members if m.relation == "head")
    ready.append(household)
    return []


def _relation_or_none(row: _Row) -> str | None:
    try:
        return _canonical("relation", row.values.get("relation", ""))
    except ValueError:
        return None


def _safe_id(value: str) -> str | None:
    try:
        return normalise_id_number(value) if value else None
    except ValueError:
        return None


def _existing(session: Session, column, values: Iterable[str]) -> list[str]:
    values = list(values)
    found: list[str] = []
    for start in range(0, len(values), 500):  # stay under the database's parameter limit
        found += session.scalars(select(column).where(column.in_(values[start : start + 500]))).all()
    return found
