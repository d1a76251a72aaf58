"""The test-data builders make what phones send: instances of the real forms, attachments named as
Collect names them, photos that pass inspection with the GPS and time of the visit."""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from server.services.idnumbers import birth_date_of, normalise_id_number, sex_of
from server.services.media import inspect_image
from tests.builders import (
    SHANGHAI,
    application,
    compiled_form,
    household_visit,
    instance_xml,
    multipart_files,
    spot_check,
)

WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI)
LAT, LON = 35.0312, 104.7104
BUILDERS = {
    "household_visit": lambda **kw: household_visit("623099200201-003", lat=LAT, lon=LON, when=WHEN, **kw),
    "application": lambda **kw: application("623099200201-003", when=WHEN, **kw),
    "spot_check": lambda **kw: spot_check("623099200201-003", lat=LAT, lon=LON, when=WHEN, **kw),
}
COLLECT_FILE_NAME = re.compile(r"^\d{13}\.(jpg|png)$")  # System.currentTimeMillis() + extension


def leaves(element: ET.Element, prefix: str = "") -> list[tuple[str, str]]:
    """(path, text) of every leaf below `element`, repeats unnumbered."""
    found = []
    for child in element:
        path = f"{prefix}/{child.tag}"
        found += leaves(child, path) if len(child) else [(path, child.text or "")]
    return found


def template_paths(form_id: str) -> set[str]:
    paths = set()

    def walk(node, prefix):
        for child in node.children:
            path = f"{prefix}/{child.name}"
            paths.add(path)
            walk(child, path)

    walk(compiled_form(form_id).root, "")
    return paths


def named_files(root: ET.Element) -> set[str]:
    return {text for _, text in leaves(root) if re.search(r"\.(jpg|jpeg|png|webp|csv)$", text)}


@pytest.mark.parametrize("form_id", BUILDERS)
def test_a_built_instance_is_a_submission_of_the_real_form(form_id):
    xml, attachments = BUILDERS[form_id]()
    root = ET.fromstring(xml)  # well-formed
    form = compiled_form(form_id)
    assert root.tag == "data"
    assert (root.get("id"), root.get("version")) == (form.form_id, form.version) == (form_id, {"household_visit": "2026112302"}.get(form_id, "2026112301"))
    assert re.fullmatch(r"uuid:[0-9a-f-]{36}", root.findtext("meta/instanceID"))
    assert xml.startswith(b"<?xml version='1.0' ?>")
    assert b"jr:template" not in xml
    # Nothing invented: every element is one the form has.
    elements = {f"/{'/'.join(path)}" for path in _element_paths(root)}
    assert elements <= template_paths(form_id), elements - template_paths(form_id)
    # Every file the XML names arrives, and nothing else.
    assert named_files(root) == set(attachments)
    for name in attachments:
        assert COLLECT_FILE_NAME.match(name) or name == "audit.csv", name


def _element_paths(element: ET.Element, prefix: tuple = ()) -> set[tuple]:
    paths = set()
    for child in element:
        path = prefix + (child.tag,)
        paths.add(path)
        paths |= _element_paths(child, path)
    return paths


@pytest.mark.parametrize("form_id", BUILDERS)
def test_the_pictures_pass_inspection_with_the_visit_position_and_time(form_id, tmp_path):
    xml, attachments = BUILDERS[form_id]()
    root = ET.fromstring(xml)
    start = datetime.fromisoformat(root.findtext("start"))
    end = datetime.fromisoformat(root.findtext("end"))
    photos = 0
    for name, data in attachments.items():
        if name == "audit.csv":
            continue
        path = tmp_path / name
        path.write_bytes(data)
        facts = inspect_image(path, declared_name=name)
        if name.endswith(".png"):
            assert facts.format == "PNG" and facts.taken_at is None
            continue
        photos += 1
        assert facts.format == "JPEG" and (facts.width, facts.height) == (1600, 1200)
        assert start <= facts.taken_at <= end
        if form_id == "application":  # a photo of the paper form, taken indoors: no position
            assert facts.latitude is None
        else:
            assert facts.latitude == pytest.approx(LAT, abs=0.0001)  # within ~10 m
            assert facts.longitude == pytest.approx(LON, abs=0.0001)
    assert photos == {"household_visit": 5, "application": 1, "spot_check": 5}[form_id]


def test_a_household_visit_has_what_the_form_requires():
    xml, attachments = household_visit("C-1", when=WHEN, members=4)
    root = ET.fromstring(xml)
    assert root.findtext("case_id") == "C-1"
    assert root.findtext("visit_date") == "2026-11-20"
    assert root.findtext("outcome") == "done"
    assert root.findtext("location") == "35.0312 104.7104 1820.0 5.0"
    lat, lon, altitude, accuracy = map(float, root.findtext("start_location").split())
    assert abs(lat - LAT) < 0.001 and abs(lon - LON) < 0.001
    start, end = (datetime.fromisoformat(root.findtext(name)) for name in ("start", "end"))
    assert start < WHEN < end and end - start == timedelta(minutes=25)

    investigators = root.findall("investigators")
    assert len(investigators) == 2 == int(root.findtext("investigator_count"))
    for investigator in investigators:
        assert investigator.findtext("investigator_name")
        assert investigator.findtext("investigator_signature") in attachments

    for sight in ("head", "certificate", "passbook", "hukou", "home"):
        assert root.findtext(f"sights/sight_{sight}_seen") == "yes"
        assert root.findtext(f"sights/sight_{sight}_photo") in attachments
        assert root.find(f"sights/sight_{sight}_reason") is None  # not relevant: left out, as Collect does

    members = root.findall("members")
    assert len(members) == 4 == int(root.findtext("household_size"))
    assert [m.findtext("relation") for m in members].count("head") == 1
    total = 0.0
    for member in members:
        number = member.findtext("id_number")
        assert normalise_id_number(number) == number
        assert sex_of(number) == member.findtext("sex")
        assert birth_date_of(number).isoformat() == member.findtext("birth_date")
        gross = float(member.findtext("income_operating_gross"))
        cost = float(member.findtext("income_operating_cost") or 0)
        stated = gross - cost + sum(float(member.findtext(f)) for f in ("income_wage", "income_property", "income_transfer"))
        assert float(member.findtext("member_income")) == stated
        total += stated
    assert float(root.findtext("household_income")) == total
    assert float(root.findtext("income_per_capita")) == round(total / 4, 2)
    assert root.findtext("red_flags") == "none" and root.find("red_flag_notes") is None
    assert root.findtext("head_signature") in attachments
    assert root.findtext("meta/audit") == "audit.csv"


def test_audit_csv_is_collects_format_with_a_location_trail():
    xml, attachments = household_visit("C-1", when=WHEN)
    rows = list(csv.reader(io.StringIO(attachments["audit.csv"].decode("utf-8"))))
    assert rows[0] == ["event", "node", "start", "end", "latitude", "longitude", "accuracy", "old-value", "new-value"]
    events = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert events[0]["event"] == "form start" and events[-1]["event"] == "form finalize"
    assert {"location tracking enabled", "location providers enabled", "question", "form save"} <= {e["event"] for e in events}
    questions = [e for e in events if e["event"] == "question"]
    assert all(e["node"].startswith("/data/") and int(e["end"]) > int(e["start"]) for e in questions)
    assert "/data/investigators[1]/investigator_name" in {e["node"] for e in questions}
    located = [e for e in events if e["latitude"]]
    assert len(located) >= 10
    assert all(abs(float(e["latitude"]) - LAT) < 0.001 and abs(float(e["longitude"]) - LON) < 0.001 for e in located)
    start_ms = int(datetime.fromisoformat(ET.fromstring(xml).findtext("start")).timestamp() * 1000)
    assert int(events[0]["start"]) == start_ms


@pytest.mark.parametrize("outcome", ["not_home", "refused", "moved"])
def test_a_visit_without_an_interview_leaves_out_what_the_form_skips(outcome):
    xml, attachments = household_visit("C-1", when=WHEN, outcome=outcome)
    root = ET.fromstring(xml)
    for absent in ("sights", "members", "property", "three_checks", "head_signature", "opinion_text"):
        assert root.find(absent) is None, absent
    assert root.findtext("outcome_notes")
    assert len(root.findall("investigators")) == 2
    assert root.findtext("location")
    assert not [name for name in attachments if name.endswith(".jpg")]
    assert set(attachments) == named_files(root)
    flags = {"not_home": "none", "refused": "refused_investigation", "moved": "moved_without_notice"}[outcome]
    assert root.findtext("red_flags") == flags
    assert (root.find("red_flag_notes") is None) == (flags == "none")


def test_without_photos_every_sight_has_a_reason():
    xml, attachments = household_visit("C-1", when=WHEN, with_photos=False)
    root = ET.fromstring(xml)
    for sight in ("head", "certificate", "passbook", "hukou", "home"):
        assert root.findtext(f"sights/sight_{sight}_seen") == "no"
        assert root.findtext(f"sights/sight_{sight}_reason")
        assert root.find(f"sights/sight_{sight}_photo") is None
    assert not [name for name in attachments if name.endswith(".jpg")]


def test_overrides_replace_answers_and_drop_files_no_longer_named():
    xml, attachments = household_visit("C-1", when=WHEN, sight_head_photo=None, visit_type="annual", case_label="王家")
    root = ET.fromstring(xml)
    assert root.find("sights/sight_head_photo") is None  # a sight seen but not photographed
    assert root.findtext("visit_type") == "annual"
    assert root.findtext("meta/instanceName") == "王家 2026-11-20"
    assert len([name for name in attachments if name.endswith(".jpg")]) == 4


def test_the_same_arguments_give_the_same_bytes_and_photo_seed_changes_the_photos():
    first = household_visit("C-1", when=WHEN, instance_id="uuid:same")
    assert household_visit("C-1", when=WHEN, instance_id="uuid:same") == first
    other = household_visit("C-1", when=WHEN, instance_id="uuid:same", photo_seed=1)
    photos = lambda visit: {data for name, data in visit[1].items() if name.endswith(".jpg")}  # noqa: E731
    assert not photos(first) & photos(other)
    assert household_visit("C-1", when=WHEN)[0] != household_visit("C-1", when=WHEN)[0]  # a new uuid each time


def test_a_spot_check_has_its_checker_and_the_same_members_as_the_visit():
    xml, _ = spot_check("C-1", when=WHEN, members=3)
    root = ET.fromstring(xml)
    assert len(root.findall("checkers")) == 1 == int(root.findtext("checker_count"))
    visit = ET.fromstring(household_visit("C-1", when=WHEN, members=3)[0])
    compared = ("member_name", "relation", "work_capacity", "income_wage", "income_transfer", "member_income")
    assert [[m.findtext(f) for f in compared] for m in root.findall("members")] == [
        [m.findtext(f) for f in compared] for m in visit.findall("members")
    ]
    assert root.findtext("household_income") == visit.findtext("household_income")
    assert root.findtext("household_size_found") == "3"


def test_an_application_carries_a_valid_id_number_and_the_paper_photo():
    xml, attachments = application("C-1", when=WHEN)
    root = ET.fromstring(xml)
    number = root.findtext("applicant_id_number")
    assert normalise_id_number(number) == number
    assert root.findtext("paper_photo") in attachments and root.findtext("head_signature") in attachments
    assert root.findtext("signed_date") == "2026-11-20"


# --- instance_xml itself ------------------------------------------------------------------------

def test_instance_xml_fills_answers_by_name_and_by_path_and_leaves_the_rest_empty():
    xml = instance_xml(
        "household_visit",
        {"case_id": "C-9", "sights/sight_home_seen": "no", "sight_home_reason": "不同意拍摄",
         "investigators": [{"investigator_name": "王芳", "investigator_signature": "1.png"},
                           {"investigator_name": "李四"}]},
        instance_id="uuid:x",
    )
    root = ET.fromstring(xml)
    assert root.findtext("case_id") == "C-9"
    assert root.findtext("sights/sight_home_seen") == "no"
    assert root.findtext("sights/sight_home_reason") == "不同意拍摄"
    assert root.find("sights/sight_head_photo") is not None and root.findtext("sights/sight_head_photo") == ""
    assert [i.findtext("investigator_name") for i in root.findall("investigators")] == ["王芳", "李四"]
    assert root.findall("investigators")[1].findtext("investigator_signature") == ""
    assert len(root.findall("members")) == 1  # a repeat not answered has Collect's one empty instance
    assert root.find("meta/deprecatedID") is None


def test_instance_xml_refuses_a_name_the_form_does_not_have():
    with pytest.raises(KeyError, match="sight_hed_photo"):
        instance_xml("household_visit", {"sight_hed_photo": "1.jpg"}, instance_id="uuid:x")
    with pytest.raises(KeyError, match=r"investigator_nmae.*investigators\[1\]"):
        instance_xml("household_visit", {"investigators": [{"investigator_nmae": "王芳"}]}, instance_id="uuid:x")
    with pytest.raises(KeyError, match="property/sight_head_photo"):
        instance_xml("household_visit", {"property/sight_head_photo": "1.jpg"}, instance_id="uuid:x")
    with pytest.raises(KeyError, match="member_name"):  # inside a repeat, not at the top
        instance_xml("household_visit", {"member_name": "张三"}, instance_id="uuid:x")


def test_instance_xml_refuses_a_list_for_a_field_and_a_value_for_a_repeat():
    with pytest.raises(TypeError):
        instance_xml("household_visit", {"members": "张三"}, instance_id="uuid:x")
    with pytest.raises(TypeError):
        instance_xml("household_visit", {"case_id": [{"a": 1}]}, instance_id="uuid:x")


def test_instance_xml_adds_deprecated_id_after_instance_id_and_overrides_the_version():
    xml = instance_xml("spot_check", {}, instance_id="uuid:new", deprecated_id="uuid:old", version="2026010101")
    root = ET.fromstring(xml)
    assert root.get("version") == "2026010101"
    tags = [child.tag for child in root.find("meta")]
    assert tags[tags.index("instanceID") + 1] == "deprecatedID"
    assert root.findtext("meta/deprecatedID") == "uuid:old" and root.findtext("meta/instanceID") == "uuid:new"


def test_a_rebuilt_visit_can_deprecate_the_first():
    first, _ = household_visit("C-1", when=WHEN, instance_id="uuid:first")
    second, _ = household_visit("C-1", when=WHEN, instance_id="uuid:second", deprecated_id="uuid:first", outcome_notes="补充说明")
    assert ET.fromstring(second).findtext("meta/deprecatedID") == "uuid:first"
    assert ET.fromstring(first).find("meta/deprecatedID") is None


def test_multipart_files_lists_the_xml_first_then_each_file_by_its_name():
    xml, attachments = household_visit("C-1", when=WHEN)
    parts = multipart_files(xml, attachments)
    assert parts[0] == ("xml_submission_file", ("submission.xml", xml, "text/xml"))
    assert {name for name, _ in parts[1:]} == set(attachments)
    assert all(part[1][0] == part[0] for part in parts[1:])


def test_an_investigator_who_did_not_sign_is_given_as_raw_answers():
    xml, attachments = household_visit(
        "C-1", when=WHEN, investigators=("王芳", {"investigator_name": "李建军", "investigator_signature": ""})
    )
    root = ET.fromstring(xml)
    signatures = [i.findtext("investigator_signature") for i in root.findall("investigators")]
    assert signatures[0] in attachments and signatures[1] == ""
    assert len([name for name in attachments if name.endswith(".png")]) == 2  # the other investigator and the head


def test_a_file_named_in_an_override_is_not_returned_so_the_submission_is_incomplete():
    xml, attachments = household_visit("C-1", when=WHEN, sight_home_photo="1795000000000.jpg")
    assert ET.fromstring(xml).findtext("sights/sight_home_photo") == "1795000000000.jpg"
    assert "1795000000000.jpg" not in attachments
    assert len([name for name in attachments if name.endswith(".jpg")]) == 4


def test_without_a_time_two_builds_of_a_visit_name_the_same_files():
    # As Collect re-sending or editing one visit: the same file names, and the same bytes.
    first, second = household_visit("C-1"), household_visit("C-1", deprecated_id="uuid:x")
    assert first[1] == second[1]
    assert datetime.fromisoformat(ET.fromstring(first[0]).findtext("start")) < datetime.now(SHANGHAI)


def test_a_new_applicant_visit_has_the_applicant_group_and_no_case_id():
    xml, _ = household_visit(None, when=WHEN, **{"applicant/applicant_name": "钱新户"})
    root = ET.fromstring(xml)
    assert root.find("case_id") is None  # not relevant for a new applicant
    assert (root.findtext("visit_type"), root.findtext("is_new_applicant")) == ("application", "yes")
    assert root.findtext("applicant/applicant_name") == "钱新户"
    number = root.findtext("applicant/applicant_id_number")
    assert normalise_id_number(number) == number
    assert root.find("three_checks") is None  # skipped on application visits
    assert root.findtext("investigator_opinion") == "approve_applicant"
    assert root.findtext("meta/instanceName") == "新申请 钱新户 2026-11-20"


def test_an_application_visit_of_a_known_case_and_a_group_overridden_to_none():
    root = ET.fromstring(household_visit("C-1", when=WHEN, visit_type="application")[0])
    assert (root.findtext("case_id"), root.findtext("is_new_applicant")) == ("C-1", "no")
    assert root.find("applicant") is None and root.find("three_checks") is None
    root = ET.fromstring(household_visit("C-1", when=WHEN, property=None)[0])
    assert root.find("property") is None  # the builder's own answers inside it are dropped too
    assert root.findtext("three_checks/check_genuine") == "yes"
