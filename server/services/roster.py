"""Importing a county's existing household roster (one row per member) from CSV or XLSX."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Area, Household, Member
from .idnumbers import birth_date_of, normalise_id_number

HOUSEHOLD_COLUMNS = ("case_number", "village_code", "address", "residence", "category", "status", "latitude", "longitude")
MEMBER_COLUMNS = ("member_name", "relation", "sex", "birth_date", "id_number", "disability_grade", "work_capacity")
REQUIRED_COLUMNS = ("case_number", "village_code", "residence", "member_name", "relation")

# Headers as county rosters write them.
HEADER_ALIASES = {
    "户编号": "case_number", "户号": "case_number", "村代码": "village_code", "村(社区)代码": "village_code",
    "地址": "address", "家庭住址": "address", "城乡": "residence", "城乡类别": "residence", "类别": "category",
    "保障类别": "category", "状态": "status", "纬度": "latitude", "经度": "longitude", "姓名": "member_name",
    "与户主关系": "relation", "关系": "relation", "性别": "sex", "出生日期": "birth_date", "身份证号": "id_number",
    "身份证号码": "id_number", "残疾等级": "disability_grade", "劳动能力": "work_capacity",
}
VALUE_ALIASES = {
    "residence": {"城市": "urban", "城镇": "urban", "农村": "rural"},
    "category": {"一类": "A", "二类": "B", "三类": "C", "a": "A", "b": "B", "c": "C"},
    "status": {"申请": "applicant", "在保": "active", "停保": "suspended", "暂停": "suspended", "退保": "removed", "注销": "removed"},
    "relation": {
        "户主": "head", "本人": "head", "配偶": "spouse", "妻": "spouse", "夫": "spouse", "子女": "child", "子": "child",
        "女": "child", "儿子": "child", "女儿": "child", "父母": "parent", "父亲": "parent", "母亲": "parent",
        "孙子女": "grandchild", "孙子": "grandchild", "孙女": "grandchild", "兄弟姐妹": "sibling", "其他": "other",
    },
    "sex": {"男": "male", "女": "female", "m": "male", "f": "female"},
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


def read_roster(path: Path) -> list[_Row]:
    """Rows of a CSV (UTF-8 or GB18030, as Excel writes it in China) or XLSX file, by line number."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        workbook = load_workbook(path, read_only=True, data_only=True)
        rows = [
            (number, ["" if cell is None else _cell_text(cell) for cell in row])
            for number, row in enumerate(workbook.active.iter_rows(values_only=True), start=1)
        ]
        workbook.close()
    elif suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader]
    else:
        raise InvalidInput(f"{path.name}: a roster is a .csv or .xlsx file.")
    if not rows:
        raise InvalidInput(f"{path.name} is empty.")
    header = [HEADER_ALIASES.get(name.strip(), name.strip().lower()) for name in rows[0][1]]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(f"{path.name} lacks the columns {', '.join(missing)} (line 1).")
    known = set(HOUSEHOLD_COLUMNS) | set(MEMBER_COLUMNS)
    return [
        _Row(line, {name: value.strip() for name, value in zip(header, cells) if name in known})
        for line, cells in rows[1:]
        if any(value.strip() for value in cells)
    ]


def _cell_text(value) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _canonical(column: str, value: str) -> str:
    value = VALUE_ALIASES.get(column, {}).get(value, VALUE_ALIASES.get(column, {}).get(value.lower(), value))
    if column in ALLOWED and value not in ALLOWED[column]:
        shown = ", ".join(v for v in ALLOWED[column] if v)
        raise ValueError(f"{column} {value!r} is not one of {shown}")
    return value


def _parse_member(values: dict[str, str]) -> Member:
    name = values.get("member_name", "")
    if not name:
        raise ValueError("member_name is empty")
    member = Member(
        name=name,
        relation=_canonical("relation", values.get("relation", "")),
        sex=values.get("sex", ""),
        work_capacity=_canonical("work_capacity", values.get("work_capacity", "")) or None,
    )
    grade = _canonical("disability_grade", values.get("disability_grade", ""))
    member.disability_grade = int(grade) if grade else None
    id_number = values.get("id_number", "")
    member.id_number = normalise_id_number(id_number) if id_number else None
    birth = values.get("birth_date", "")
    member.birth_date = date.fromisoformat(birth) if birth else None
    if member.id_number:
        from_id = birth_date_of(member.id_number)
        if member.birth_date and member.birth_date != from_id:
            raise ValueError(f"birth_date {member.birth_date} differs from the ID number's {from_id}")
        member.birth_date = from_id
        sex_from_id = "male" if int(member.id_number[16]) % 2 else "female"
        if member.sex and _canonical("sex", member.sex) != sex_from_id:
            raise ValueError("sex differs from the ID number's")
        member.sex = member.sex and _canonical("sex", member.sex) or sex_from_id
    else:
        member.sex = _canonical("sex", member.sex)
    return member


def _household_fields(values: dict[str, str], villages: dict[str, int]) -> dict:
    code = values.get("village_code", "")
    if code not in villages:
        raise ValueError(f"village_code {code!r} is not a known village")
    lat, lon = values.get("latitude", ""), values.get("longitude", "")
    if bool(lat) != bool(lon):
        raise ValueError("give both latitude and longitude, or neither")
    fields = {
        "village_id": villages[code],
        "address": values.get("address", ""),
        "residence": _canonical("residence", values.get("residence", "")),
        "category": _canonical("category", values.get("category", "")) or None,
        "status": _canonical("status", values.get("status", "") or "active"),
        "latitude": None,
        "longitude": None,
    }
    if lat:
        fields["latitude"], fields["longitude"] = float(lat), float(lon)
        if not (-90 <= fields["latitude"] <= 90 and -180 <= fields["longitude"] <= 180):
            raise ValueError("latitude/longitude out of range")
    return fields


def import_roster(
    session: Session,
    rows: list[_Row],
    *,
    skip_bad: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> RosterReport:
    """Check every row; import all households, or none if any row is bad (unless skip_bad).

    A household is imported whole or not at all: with skip_bad, a household with one bad row is
    left out entirely and its lines are reported.
    """
    report = RosterReport()
    villages = dict(session.execute(select(Area.code, Area.id).where(Area.level == "village")).all())
    by_case: dict[str, list[_Row]] = {}
    for row in rows:
        by_case.setdefault(row.values.get("case_number", ""), []).append(row)

    ids_in_file: dict[str, int] = {}
    numbers = [number for number in by_case if number]
    taken_numbers = set(_existing(session, Household.case_number, numbers))
    candidate_ids = [_safe_id(r.values.get("id_number", "")) for r in rows]
    taken_ids = set(_existing(session, Member.id_number, [i for i in candidate_ids if i]))
    ready: list[Household] = []

    for number, case_rows in by_case.items():
        errors: list[tuple[int, str]] = []
        household = None
        if not number:
            errors += [(row.line, "case_number is empty") for row in case_rows]
        elif number in taken_numbers:
            errors.append((case_rows[0].line, f"case {number} already exists"))
        else:
            try:
                fields = _household_fields(case_rows[0].values, villages)
                household = Household(case_number=number, head_name="", **fields)
            except ValueError as error:
                errors.append((case_rows[0].line, str(error)))
            for row in case_rows[1:]:
                for column in HOUSEHOLD_COLUMNS:
                    value = row.values.get(column, "")
                    if value and value != case_rows[0].values.get(column, ""):
                        errors.append((row.line, f"{column} {value!r} differs from line {case_rows[0].line} of case {number}"))
            for row in case_rows:
                try:
                    member = _parse_member(row.values)
                except ValueError as error:
                    errors.append((row.line, str(error)))
                    continue
                if member.id_number:
                    if member.id_number in taken_ids:
                        errors.append((row.line, f"ID number {member.id_number[:6]}… is already in another household"))
                    elif member.id_number in ids_in_file:
                        errors.append((row.line, f"ID number repeats line {ids_in_file[member.id_number]}"))
                    ids_in_file.setdefault(member.id_number, row.line)
                if household is not None:
                    household.members.append(member)
            if household is not None and not errors:
                heads = [m for m in household.members if m.relation == "head"]
                if len(heads) != 1:
                    errors.append((case_rows[0].line, f"case {number} has {len(heads)} heads of household; it needs one"))
                else:
                    household.head_name = heads[0].name
        progress(len(case_rows))
        if errors:
            report.errors += errors
            report.skipped_households += 1
        elif household is not None:
            ready.append(household)

    report.errors.sort()
    if report.errors and not skip_bad:
        return report
    session.add_all(ready)
    session.flush()
    report.households = len(ready)
    report.members = sum(len(h.members) for h in ready)
    report.imported = True
    return report


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
