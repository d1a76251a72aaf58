"""Importing a county's household roster (one row per member) from CSV or XLSX, by service and CLI."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from server.errors import InvalidInput
from server.models import Household, Member
from server.services.idnumbers import check_digit
from server.services.roster import import_roster, read_roster

ZH = ["户编号", "村代码", "地址", "城乡", "类别", "状态", "纬度", "经度", "姓名", "与户主关系", "性别", "出生日期", "身份证号", "残疾等级", "劳动能力"]
EN = ["case_number", "village_code", "address", "residence", "category", "status", "latitude", "longitude",
      "member_name", "relation", "sex", "birth_date", "id_number", "disability_grade", "work_capacity"]
EAST, WEST = "623001100001", "623001100002"


def ident(birth: str, sequence: str = "001") -> str:
    """A valid ID number of the test county; an odd last sequence digit is a man."""
    first17 = f"623001{birth}{sequence}"
    return first17 + check_digit(first17)


def mistyped(id_number: str) -> str:
    """The same number with a wrong check digit."""
    return id_number[:-1] + ("0" if id_number[-1] != "0" else "1")


HEAD_ID = ident("19560312", "011")  # a man born 1956-03-12
WIFE_ID = ident("19580820", "022")  # a woman born 1958-08-20
SON_ID = ident("19850101", "033")
WIDOW_ID = ident("19400505", "042")


def member(case, name, relation, id_number="", village=EAST, **extra):
    row = {"户编号": case, "村代码": village, "地址": "", "城乡": "", "类别": "", "状态": "", "纬度": "", "经度": "",
           "姓名": name, "与户主关系": relation, "性别": "", "出生日期": "", "身份证号": id_number, "残疾等级": "", "劳动能力": ""}
    row.update(extra)
    return row


def good_rows():
    """Two households: a couple with a son, and a widow alone; household fields on the first row only."""
    return [
        member("C001", "王建国", "户主", HEAD_ID, 地址="东村1号", 城乡="农村", 类别="二类", 状态="在保", 纬度="35.01", 经度="104.61",
               残疾等级="二级", 劳动能力="部分"),
        member("C001", "李秀英", "配偶", WIFE_ID),
        member("C001", "王小军", "儿子", SON_ID),
        member("C002", "张桂兰", "户主", WIDOW_ID, village=WEST, 地址="西村8号", 城乡="农村", 类别="一类"),
    ]


def csv_bytes(rows, header=ZH, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")  # as Excel writes it
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return buffer.getvalue().encode(encoding)


@pytest.fixture
def villages(session, make):
    county = make.county("623001")
    township = make.township(county, "100")
    east = make.village(township, "001", "东村")
    west = make.village(township, "002", "西村")
    return {EAST: east, WEST: west}


@pytest.fixture
def write(tmp_path):
    def write(rows, name="roster.csv", header=ZH, encoding="utf-8-sig"):
        path = tmp_path / name
        path.write_bytes(csv_bytes(rows, header, encoding))
        return path

    return write


def household_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Household))


def imported(session, case_number) -> Household:
    return session.scalar(select(Household).where(Household.case_number == case_number))


def run(session, path, **options):
    return import_roster(session, read_roster(path), **options)


# --- reading the file ------------------------------------------------------------------------


def check_good_import(session, report):
    assert report.errors == []
    assert (report.imported, report.households, report.members, report.skipped_households) == (True, 2, 4, 0)
    couple = imported(session, "C001")
    assert couple.village.code == EAST
    assert (couple.head_name, couple.address, couple.residence, couple.category, couple.status) == (
        "王建国", "东村1号", "rural", "B", "active")
    assert (couple.latitude, couple.longitude) == (35.01, 104.61)
    head, wife, son = couple.members
    # Birth date and sex come from the ID number when the file leaves them out.
    assert (head.relation, head.sex, head.birth_date, head.id_number) == ("head", "male", date(1956, 3, 12), HEAD_ID)
    assert (wife.relation, wife.sex, wife.birth_date) == ("spouse", "female", date(1958, 8, 20))
    assert (son.relation, son.sex, son.birth_date) == ("child", "male", date(1985, 1, 1))
    assert (head.disability_grade, head.work_capacity) == (2, "partial")
    assert (wife.disability_grade, wife.work_capacity) == (None, None)
    widow = imported(session, "C002")
    assert (widow.village.code, widow.category, widow.latitude, widow.head_name) == (WEST, "A", None, "张桂兰")
    assert [(m.sex, m.birth_date) for m in widow.members] == [("female", date(1940, 5, 5))]


def test_utf8_csv_with_bom_and_chinese_headers(session, villages, write):
    path = write(good_rows())
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    check_good_import(session, run(session, path))


def test_gb18030_csv_as_excel_in_china_saves_it(session, villages, write):
    path = write(good_rows(), encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    check_good_import(session, run(session, path))


def test_utf8_csv_without_bom_and_english_headers_and_values(session, villages, write):
    rows = [[row[zh] for zh in ZH] for row in good_rows()]
    english = {"农村": "Rural", "二类": "b", "一类": "A", "在保": "Active", "户主": "Head", "配偶": "SPOUSE", "儿子": "child",
               "二级": "2", "部分": "partial"}
    rows = [[english.get(value, value) for value in row] for row in rows]
    path = write(rows, header=EN, encoding="utf-8")
    check_good_import(session, run(session, path))


def test_english_headers_in_other_spellings(session, villages, write):
    header = [name.replace("_", " ").title() for name in EN]  # "Case Number", "Village Code", ...
    header[0] = "case-number"
    rows = [[row[zh] for zh in ZH] for row in good_rows()]
    check_good_import(session, run(session, write(rows, header=header)))


def xlsx(path, rows, header=ZH, title=None):
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    workbook.save(path)
    return path


def test_xlsx_with_chinese_headers(session, villages, tmp_path):
    check_good_import(session, run(session, xlsx(tmp_path / "roster.xlsx", good_rows())))


def test_xlsx_with_a_title_row_full_width_header_number_and_date_cells(session, villages, tmp_path):
    header = [("村（社区）代码" if name == "村代码" else name) for name in ZH]
    rows = []
    for row in good_rows():
        row = {("村（社区）代码" if name == "村代码" else name): value for name, value in row.items()}
        row["村（社区）代码"] = int(row["村（社区）代码"])  # Excel keeps a 12-digit code as a number
        if row["纬度"]:
            row["纬度"], row["经度"] = float(row["纬度"]), float(row["经度"])
        rows.append(row)
    rows[1]["出生日期"] = datetime(1958, 8, 20)  # a date cell
    rows[1]["身份证号"] = "\u3000" + WIFE_ID.lower()[:-1] + WIFE_ID[-1] + " "
    path = xlsx(tmp_path / "花名册.xlsx", rows, header=header, title="青山县测试镇低保花名册")
    check_good_import(session, run(session, path))


def test_xlsx_line_numbers_are_the_sheets_row_numbers(session, villages, tmp_path):
    rows = good_rows()
    rows[2]["身份证号"] = mistyped(SON_ID)
    path = xlsx(tmp_path / "roster.xlsx", rows, title="花名册")  # title on row 1, blank row 2, header row 3
    report = run(session, path)
    assert report.errors == [(6, "id_number: the check digit is wrong (a digit was mistyped)")]


def test_xlsx_with_a_wrong_dimension_is_read_whole(session, villages, tmp_path):
    path = xlsx(tmp_path / "roster.xlsx", good_rows())
    # Some programs write a stale <dimension>; openpyxl's read-only mode would trust it.
    patched = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C2"', data)
                assert count == 1
            target.writestr(item, data)
    check_good_import(session, run(session, patched))


def test_an_id_number_excel_kept_as_a_number_is_explained(session, villages, tmp_path, write):
    rows = good_rows()
    rows[0]["身份证号"] = float(HEAD_ID)  # what Excel stores when the column is not text
    report = run(session, xlsx(tmp_path / "roster.xlsx", rows))
    assert len(report.errors) == 1
    line, message = report.errors[0]
    assert line == 2 and "Excel kept it as a number" in message and "format the column as text" in message
    rows = good_rows()
    rows[0]["身份证号"] = "6.23001E+17"  # the same, saved from Excel as CSV
    report = run(session, write(rows))
    assert report.errors == [(2, "id_number '6.23001E+17': Excel kept it as a number and dropped its last digits; "
                                 "format the column as text and type the numbers again")]


def test_blank_rows_are_skipped_and_line_numbers_still_count_them(session, villages, write):
    rows = good_rows()
    rows.insert(1, [""] * len(ZH))  # line 4: only commas, as Excel leaves them
    rows.insert(1, ["  ", "\u3000"])  # line 3: only white space
    rows[4]["身份证号"] = "12345"  # line 6
    report = run(session, write(rows))
    assert report.errors == [(6, "id_number: an ID number has 18 characters, this one has 5")]


def test_a_quoted_value_spanning_lines_keeps_later_line_numbers_right(session, villages, write):
    rows = good_rows()
    rows[0]["地址"] = "东村\n1号"
    rows[3]["身份证号"] = "bad"
    report = run(session, write(rows))
    # Header line 1, the head's row spans lines 2-3, so the widow's row is line 6.
    assert report.errors == [(6, "id_number: an ID number has 18 characters, this one has 3")]


@pytest.mark.parametrize("name, content, message", [
    ("roster.txt", b"x", "a roster is a .csv or .xlsx file"),
    ("roster.csv", b"", "is empty"),
    ("roster.csv", b"\r\n,,,\r\n", "is empty"),
    ("roster.csv", "户编号,姓名\r\nC001,王\r\n".encode(), "lacks the columns village_code, residence, relation (line 1)"),
    ("roster.csv", b"\xff\xfe\x00\x00\x81\x30", "neither UTF-8 nor GB18030"),
    ("roster.xlsx", b"not a zip", "not a readable .xlsx"),
])
def test_unreadable_files_are_refused_with_a_reason(tmp_path, villages, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        read_roster(path)


def test_two_columns_meaning_the_same_are_refused(write, villages):
    header = ZH + ["身份证号码"]
    with pytest.raises(InvalidInput, match="the columns '身份证号' and '身份证号码' both mean id_number"):
        read_roster(write([], header=header))


def test_unknown_columns_are_reported_as_ignored(session, villages, write):
    header = ZH + ["备注", "身份证"[:2]]
    rows = [[row[zh] for zh in ZH] + ["低保边缘", "x"] for row in good_rows()]
    roster = read_roster(write(rows, header=header))
    assert roster.ignored_columns == ["备注", "身份"]
    check_good_import(session, import_roster(session, roster))


def test_more_header_aliases(session, villages, write):
    header = ["户号", "村(居)代码", "家庭住址", "城乡类别", "保障类别", "保障状态", "纬度", "经度", "成员姓名", "关系", "性别",
              "出生日期", "公民身份号码", "残疾等级", "劳动能力"]
    rows = [[row[zh] for zh in ZH] for row in good_rows()]
    check_good_import(session, run(session, write(rows, header=header)))


# --- checking the rows -----------------------------------------------------------------------


def test_every_kind_of_bad_row_is_reported_with_its_line_and_nothing_is_imported(session, villages, make, write):
    existing = make.household(villages[EAST], case_number="C900")
    taken_id = existing.members[0].id_number
    before = household_count(session)
    rows = good_rows() + [
        member("B01", "赵一", "户主", mistyped(ident("19700101", "011"))),  # line 6
        member("B02", "钱二", "户主", ident("19700102", "011"), village="623001100099"),  # line 7: unknown village
        member("B03", "孙三", "户主", ident("19700103", "011")),  # line 8
        member("B03", "孙四", "本人", ident("19700104", "011")),  # line 9: a second head
        member("B04", "李五", "配偶", ident("19700105", "022")),  # line 10: no head
        member("B05", "周六", "户主", ident("19700106", "011"), 地址="北街1号"),  # line 11
        member("B05", "周七", "子女", ident("19900106", "011"), 地址="南街2号"),  # line 12: conflicting address
        member("B06", "吴八", "户主", ident("19700107", "011")),  # line 13
        member("B07", "郑九", "户主", ident("19700107", "011")),  # line 14: same ID as line 13
        member("B08", "王十", "户主", taken_id),  # line 15: ID already in the database
        member("C900", "冯一", "户主", ident("19700108", "011")),  # line 16: existing case number
        member("B09", "陈二", "户主", ident("19700109", "011"), 出生日期="1970-01-10"),  # line 17
        member("B10", "褚三", "户主", ident("19700110", "011"), 性别="女"),  # line 18
        member("", "卫四", "户主", ident("19700111", "011")),  # line 19
        member("B11", "蒋五", "户主", ident("19700112", "011"), 城乡="乡下"),  # line 20
    ]
    for row in rows[4:]:
        row["城乡"] = row["城乡"] or "农村"
    report = run(session, write(rows))
    assert report.imported is False
    assert (report.households, report.members) == (0, 0)
    assert report.errors == [
        (6, "id_number: the check digit is wrong (a digit was mistyped)"),
        (7, "village_code '623001100099' is not a known village"),
        (8, "case B03 has 2 heads of household; it needs one"),
        (9, "case B03 has 2 heads of household; it needs one"),
        (10, "case B04 has no head of household (relation head/户主)"),
        (12, "address '南街2号' differs from '北街1号' on line 11 of case B05"),
        (13, "ID number 623001… is also on line 14"),
        (14, "ID number 623001… is also on line 13"),
        (15, "ID number 623001… is already in another household"),
        (16, "case C900 already exists"),
        (17, "birth_date 1970-01-10 differs from the ID number's 1970-01-09"),
        (18, "sex female differs from the ID number's (male)"),
        (19, "case_number is empty"),
        (20, "residence '乡下' is not one of urban, rural"),
    ]
    assert report.skipped_households == 13
    # All or nothing: the good households C001 and C002 were not imported either.
    assert household_count(session) == before
    assert imported(session, "C001") is None


def test_with_skip_bad_good_households_are_imported_whole_and_bad_ones_skipped_whole(session, villages, write):
    rows = good_rows()
    rows[1]["身份证号"] = mistyped(WIFE_ID)  # one bad member of C001
    report = run(session, write(rows), skip_bad=True)
    assert report.imported is True
    assert report.errors == [(3, "id_number: the check digit is wrong (a digit was mistyped)")]
    assert (report.households, report.members, report.skipped_households) == (1, 1, 1)
    assert imported(session, "C001") is None  # not even the head and the son
    assert session.scalar(select(Member).where(Member.id_number == HEAD_ID)) is None
    assert [m.name for m in imported(session, "C002").members] == ["张桂兰"]


def test_household_fields_may_be_on_any_row_and_repeated_when_equal(session, villages, write):
    rows = good_rows()
    # The household's fields repeated on every row (the usual flat export) ...
    for row in rows[1:3]:
        row.update({k: rows[0][k] for k in ("地址", "城乡", "类别", "状态", "纬度", "经度")})
    rows[2]["城乡"] = "rural"  # ... in another spelling of the same value,
    # ... or only on a later row than the first.
    rows[3].update({"地址": "", "城乡": ""})
    rows.append(member("C002", "张小花", "孙女", ident("20100606", "024"), village=WEST, 地址="西村8号", 城乡="农村"))
    report = run(session, write(rows))
    assert report.errors == []
    widow = imported(session, "C002")
    assert (widow.address, widow.residence) == ("西村8号", "rural")
    assert [m.relation for m in widow.members] == ["head", "grandchild"]


def test_a_row_contradicting_the_first_on_a_household_field_is_refused(session, villages, write):
    rows = good_rows()
    rows[1]["村代码"] = WEST
    rows[2]["类别"] = "三类"
    report = run(session, write(rows))
    assert report.errors == [
        (3, f"village_code '{WEST}' differs from '{EAST}' on line 2 of case C001"),
        (4, "category '三类' differs from '二类' on line 2 of case C001"),
    ]


def test_a_person_listed_twice_in_one_household_is_reported_on_both_lines(session, villages, write):
    rows = good_rows()
    rows[2]["身份证号"] = WIFE_ID.lower()  # the same person, with a lower-case x or not
    report = run(session, write(rows))
    assert [line for line, _ in report.errors] == [3, 4]


def test_members_without_an_id_number_need_a_sex_and_may_have_a_birth_date(session, villages, write):
    rows = good_rows()
    rows.append(member("C002", "张小宝", "孙子", "", village=WEST, 性别="男", 出生日期="2019/7/3"))
    rows.append(member("C002", "张小妹", "孙女", "", village=WEST, 性别="女性", 出生日期="2020年1月5日"))
    rows.append(member("C002", "张小弟", "孙子", "", village=WEST, 性别="M", 出生日期="20210202"))
    rows.append(member("C002", "张小妞", "孙女", "", village=WEST, 性别="f", 出生日期="2022.3.4"))
    report = run(session, write(rows))
    assert report.errors == []
    grandchildren = imported(session, "C002").members[1:]
    assert [(m.sex, m.birth_date, m.id_number) for m in grandchildren] == [
        ("male", date(2019, 7, 3), None), ("female", date(2020, 1, 5), None),
        ("male", date(2021, 2, 2), None), ("female", date(2022, 3, 4), None)]


def test_member_field_errors(session, villages, write):
    rows = good_rows()
    rows += [
        member("C002", "", "孙子", ident("20100101", "011"), village=WEST),  # line 6
        member("C002", "张甲", "孙子", "", village=WEST),  # line 7: no sex, no ID
        member("C002", "张乙", "孙子", "", village=WEST, 性别="男", 出生日期="2019-02-30"),  # line 8
        member("C002", "张丙", "孙子", "", village=WEST, 性别="男", 出生日期="3.4.2019"),  # line 9
        member("C002", "张丁", "表亲", ident("20100102", "011"), village=WEST),  # line 10
        member("C002", "张戊", "孙子", ident("20100103", "011"), village=WEST, 残疾等级="五级"),  # line 11
        member("C002", "张己", "孙子", ident("20100104", "011"), village=WEST, 劳动能力="很强"),  # line 12
        member("C002", "张庚", "孙子", "", village=WEST, 性别="男", 出生日期="2999-01-01"),  # line 13
        member("C002", "张" * 101, "孙子", ident("20100105", "011"), village=WEST),  # line 14
        member("C002", "张辛", "孙子", ident("20100106", "011"), village=WEST, 性别="未知"),  # line 15
    ]
    report = run(session, write(rows))
    assert report.errors == [
        (6, "member_name is empty"),
        (7, "sex is empty and there is no ID number to take it from"),
        (8, "birth_date '2019-02-30' is not a date (write it as 1949-12-31)"),
        (9, "birth_date '3.4.2019' is not a date (write it as 1949-12-31)"),
        (10, "relation '表亲' is not one of head, spouse, child, parent, grandchild, sibling, other"),
        (11, "disability_grade '五级' is not one of 1, 2, 3, 4"),
        (12, "work_capacity '很强' is not one of full, partial, none"),
        (13, "birth_date 2999-01-01 is in the future"),
        (14, "member_name has more than 100 characters"),
        (15, "sex '未知' is not one of male, female"),
    ]


def test_household_field_errors(session, villages, write):
    rows = [
        member("H01", "甲", "户主", ident("19700101", "011"), 城乡="农村", 纬度="35.0"),  # line 2
        member("H02", "乙", "户主", ident("19700102", "011"), 城乡="农村", 纬度="北纬35", 经度="104"),  # line 3
        member("H03", "丙", "户主", ident("19700103", "011"), 城乡="农村", 纬度="95", 经度="104"),  # line 4
        member("H04", "丁", "户主", ident("19700104", "011"), 城乡="农村", 类别="四类"),  # line 5
        member("H05", "戊", "户主", ident("19700105", "011"), 城乡="农村", 状态="在审"),  # line 6
        member("H06", "己", "户主", ident("19700106", "011"), village=""),  # line 7
        member("H" * 33, "庚", "户主", ident("19700107", "011"), 城乡="农村"),  # line 8
        member("H08", "辛", "户主", ident("19700108", "011"), 城乡="农村", 地址="长" * 256),  # line 9
    ]
    report = run(session, write(rows))
    assert report.errors == [
        (2, "give both latitude and longitude, or neither"),
        (3, "latitude/longitude '北纬35', '104' are not decimal degrees"),
        (4, "latitude/longitude out of range"),
        (5, "category '四类' is not one of A, B, C"),
        (6, "status '在审' is not one of applicant, active, suspended, removed"),
        (7, "village_code is empty"),
        (8, "case_number has more than 32 characters"),
        (9, "address has more than 255 characters"),
    ]


def test_progress_is_reported_for_every_row(session, villages, write):
    seen = []
    run(session, write(good_rows()), progress=seen.append)
    assert sum(seen) == 4


def test_an_empty_roster_imports_nothing_without_error(session, villages, write):
    report = run(session, write([]))
    assert (report.imported, report.households, report.errors) == (True, 0, [])


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(app, session, villages):
    # The command commits (a savepoint, in tests) or rolls back; commit the areas first so its
    # rollback cannot take them away.
    session.commit()
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=["households", "import", *map(str, args)], **kwargs)


def test_cli_imports_a_good_file_with_a_progress_bar_and_a_summary(session, cli, write):
    result = cli(write(good_rows()))
    assert result.exit_code == 0, result.output
    assert "checking and importing" in result.stderr
    assert result.stdout.strip() == "imported 2 households with 4 members"
    assert household_count(session) == 2
    assert imported(session, "C001").members[0].birth_date == date(1956, 3, 12)


def test_cli_imports_nothing_from_a_file_with_errors_and_lists_them_by_line(session, cli, write):
    rows = good_rows()
    rows[1]["身份证号"] = "123"
    rows[3]["村代码"] = "623001100099"
    result = cli(write(rows))
    assert result.exit_code == 1
    assert "line 3: id_number: an ID number has 18 characters, this one has 3" in result.stderr
    assert "line 5: village_code '623001100099' is not a known village" in result.stderr
    assert "2 error(s) in 2 household(s); nothing was imported" in result.stderr
    assert "--skip-bad" in result.stderr
    assert "Traceback" not in result.output
    assert household_count(session) == 0


def test_cli_skip_bad_imports_the_good_households(session, cli, write):
    rows = good_rows()
    rows[1]["身份证号"] = "123"
    result = cli(write(rows), "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "line 3: id_number: an ID number has 18 characters" in result.stderr
    assert "imported 1 households with 1 members; skipped 1 households with errors" in result.stdout
    assert [h.case_number for h in session.scalars(select(Household))] == ["C002"]


def test_cli_reports_ignored_columns(session, cli, write):
    rows = [[row[zh] for zh in ZH] + ["备注"] for row in good_rows()]
    result = cli(write(rows, header=ZH + ["备注"]))
    assert result.exit_code == 0, result.output
    assert "ignoring columns that are not part of a roster: 备注" in result.stderr


@pytest.mark.parametrize("name, content, message", [
    ("roster.csv", "户编号,姓名\r\n".encode(), "lacks the columns village_code, residence, relation (line 1)"),
    ("roster.xlsx", b"not a zip", "is not a readable .xlsx workbook"),
    ("roster.ods", b"x", "a roster is a .csv or .xlsx file"),
])
def test_cli_shows_an_unreadable_file_as_one_line(cli, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = cli(path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_refuses_a_missing_file(cli, tmp_path):
    result = cli(tmp_path / "missing.csv")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --- the documentation's example ---------------------------------------------------------------


def documented_csv_examples() -> list[str]:
    from server.config import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    return re.findall(r"```csv\n(.*?)```", text, re.S)


@pytest.mark.parametrize("index, households, members", [(0, 2, 5), (1, 1, 1)])
def test_the_examples_in_docs_import_md_import_into_the_demo_county(session, tmp_path, index, households, members):
    from server.services.demo import seed_demo

    seed_demo(session)
    before = household_count(session)
    path = tmp_path / "roster.csv"
    path.write_text(documented_csv_examples()[index], encoding="utf-8")
    report = run(session, path)
    assert report.errors == []
    assert (report.households, report.members) == (households, members)
    assert household_count(session) == before + households
    head = imported(session, "QS-0101").members[0]
    assert (head.name, head.sex, head.birth_date, head.disability_grade) == ("刘德明", "male", date(1952, 3, 14), 2)
