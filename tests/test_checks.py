"""Checks run at receipt: each check firing and not firing, with its figures worked out by hand.

Visits are built from the real forms (tests/builders.py) and posted through the phone protocol;
run_checks is called directly where only the recomputation is the point.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from server.models import CountyRules, Flag, Standard, SubmissionVersion
from server.services import checks, standards, xforms
from server.services.checks import run_checks

from .builders import SHANGHAI, application, compiled_form, household_visit, jpeg_with_exif, spot_check
from .conftest import OPENROSA
from .openrosa_client import parse_openrosa_response

HOME = (35.0312, 104.7104)  # the builders' default visit geopoint; households here are "at home"
WHEN = datetime(2026, 6, 15, 10, 30, tzinfo=SHANGHAI)  # a fixed visit time: start 10:18, end 10:43


@pytest.fixture
def area(make):
    county = make.county()
    township = make.township(county)
    return {
        "county": county,
        "township": township,
        "village": make.village(township, "001", "东村"),
        "other_village": make.village(township, "002", "西村"),
    }


@pytest.fixture
def worker(make, area):
    user = make.user("caseworker", [area["village"], area["other_village"]])
    return make.token(user)


@pytest.fixture
def household(make, area):
    return make.household(area["village"], latitude=HOME[0], longitude=HOME[1])


def post(client, token, xml: bytes, files: dict[str, bytes]):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, body in files.items():
        data[name] = (io.BytesIO(body), name)
    response = client.post(f"/key/{token}/submission", data=data, headers=OPENROSA, content_type="multipart/form-data")
    assert response.status_code in (201, 202), parse_openrosa_response(response.data)
    return response


def version_of(session, xml: bytes) -> SubmissionVersion:
    from server.services.xforms import find_text, parse_instance

    session.expire_all()
    instance_id = find_text(parse_instance(xml), "meta/instanceID")
    return session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))


def flags_of(session, xml: bytes) -> dict[str, list[Flag]]:
    grouped: dict[str, list[Flag]] = {}
    for flag in version_of(session, xml).flags:
        grouped.setdefault(flag.code, []).append(flag)
    return grouped


def submit(client, session, token, xml_files) -> dict[str, list[Flag]]:
    xml, files = xml_files
    post(client, token, xml, files)
    return flags_of(session, xml)


def photo_name(xml: bytes, sight: str) -> str:
    return ET.fromstring(xml).findtext(f"sights/sight_{sight}_photo")


def with_photo(xml_files, sight: str, data: bytes, name: str = "1781490000000.jpg"):
    """The visit with one sight's photo replaced by `data` under a new file name."""
    xml, files = xml_files
    old = photo_name(xml, sight)
    xml = xml.replace(f">{old}<".encode(), f">{name}<".encode())
    files = {n: b for n, b in files.items() if n != old} | {name: data}
    return xml, files


# --- a clean visit -------------------------------------------------------------------------------

def test_a_clean_visit_has_no_flags(client, session, worker, household):
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN)) == {}


def test_other_forms_get_no_flags(client, session, worker, household):
    assert submit(client, session, worker, application(household.case_number, when=WHEN)) == {}


# --- five sights ---------------------------------------------------------------------------------

def test_a_sight_neither_photographed_nor_explained(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(
        household.case_number, when=WHEN,
        sight_certificate_photo=None,  # seen, but no photo
        sight_passbook_seen="no", sight_passbook_photo=None, sight_passbook_reason="  ",  # not seen, no reason
    ))
    [flag] = flags.pop("sight_unexplained")
    assert flags == {}
    assert flag.severity == "error" and flag.figures == {"sights": ["certificate", "passbook"]}
    assert "见低保证、见存折/一卡通" in flag.message and "the passbook or bank card" in flag.message


def test_sights_explained_or_not_asked_are_not_flagged(client, session, worker, household, make, area):
    assert "sight_unexplained" not in submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, with_photos=False))  # every sight not seen, with a reason
    assert "sight_unexplained" not in submit(client, session, worker, household_visit(
        household.case_number, when=WHEN + timedelta(days=1), outcome="not_home"))  # sights not asked


# --- investigators and signatures ----------------------------------------------------------------

@pytest.mark.parametrize("names", [("王芳",), ("王芳", " 王芳 ")])
def test_fewer_than_two_investigators(client, session, worker, household, names):
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, investigators=names))
    [flag] = flags.pop("investigators_too_few")
    assert flags == {}
    assert flag.severity == "error" and flag.figures == {"count": 1, "minimum": 2}


@pytest.fixture
def supervisor(make, area):
    return make.token(make.user("supervisor", [area["township"]]))


def test_a_spot_check_needs_one_checker_and_the_checks_run_on_it(client, session, supervisor, household):
    worker = supervisor  # spot checks are done by supervisors
    # No campaign assigns this household: kept, and flagged as attached to no sample (test_spotcheck_compare.py).
    assert set(submit(client, session, worker, spot_check(household.case_number, when=WHEN))) == {"spot_check_not_attached"}
    flags = submit(client, session, worker, spot_check(
        household.case_number, when=WHEN, checkers=({"checker_name": "", "checker_signature": ""},)))
    assert flags["investigators_too_few"][0].figures == {"count": 0, "minimum": 1}
    flags = submit(client, session, worker, spot_check(household.case_number, when=WHEN + timedelta(hours=1),
                                                       lat=HOME[0] + 0.01))
    assert set(flags) == {"far_from_home", "spot_check_not_attached"}


def test_missing_signatures(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, head_signature=None,
        investigators=("王芳", {"investigator_name": "李建军", "investigator_signature": ""})))
    [flag] = flags.pop("signature_missing")
    assert flags == {}
    assert flag.severity == "error"
    assert flag.figures == {"unsigned_investigators": ["李建军"], "head_signature_missing": True}
    assert "李建军" in flag.message and "户主" in flag.message


def signature_names(xml: bytes) -> dict[str, str]:
    """The visit's signature files: the head's under "head", each investigator's under their name."""
    root = ET.fromstring(xml)
    names = {"head": root.findtext("head_signature")}
    for person in root.iter("investigators"):
        names[person.findtext("investigator_name")] = person.findtext("investigator_signature")
    return names


def test_a_signature_copied_from_another_households_record_is_flagged(client, session, make, area, worker, household):
    first = household_visit(household.case_number, when=WHEN)
    assert submit(client, session, worker, first) == {}
    original = version_of(session, first[0])
    # Corrected once: the head's signature file is now in two versions of that submission.
    submit(client, session, worker, household_visit(household.case_number, when=WHEN, members=3,
                                                    deprecated_id=original.instance_id))
    copied_from = signature_names(first[0])["head"]
    # Another household's application (book 1, a form without the visit's checks), signed with
    # that very file under the phone's own name for it.
    other = make.household(area["other_village"])
    xml, files = application(other.case_number, when=WHEN + timedelta(days=1))
    [own] = [name for name in files if name.endswith(".png")]
    files[own] = first[1][copied_from]
    [flag] = submit(client, session, worker, (xml, files)).pop("signature_copied")
    assert flag.severity == "error"
    assert flag.figures == {
        "filename": own, "field": "head_signature", "same_in_this_record": [], "elsewhere_count": 1,
        "elsewhere": [{"case_number": household.case_number, "submission_id": original.submission_id,
                       "instance_id": original.instance_id, "filename": copied_from}],
    }
    assert household.case_number in flag.message and copied_from in flag.message
    # Drawn again, as on a phone: another file, not a copy.
    assert "signature_copied" not in submit(client, session, worker, application(other.case_number, when=WHEN + timedelta(days=2)))


def test_one_signature_file_for_two_signers_in_a_visit_is_flagged(client, session, worker, household):
    xml, files = household_visit(household.case_number, when=WHEN)
    names = signature_names(xml)
    files[names["李建军"]] = files[names["王芳"]]  # the second investigator "signed" with the first one's file
    flags = submit(client, session, worker, (xml, files))
    copied = {flag.figures["filename"]: flag for flag in flags.pop("signature_copied")}
    assert flags == {}
    assert set(copied) == {names["王芳"], names["李建军"]}
    assert copied[names["李建军"]].figures["same_in_this_record"] == [names["王芳"]]
    assert copied[names["李建军"]].figures["elsewhere"] == []
    assert names["王芳"] in copied[names["李建军"]].message


def test_a_corrected_visit_keeps_its_signatures_without_a_flag(client, session, worker, household):
    first = household_visit(household.case_number, when=WHEN)
    submit(client, session, worker, first)
    original = version_of(session, first[0])
    # Edited on the phone: a new version of the same submission, its signature files sent again as they were.
    corrected = household_visit(household.case_number, when=WHEN, deprecated_id=original.instance_id, members=3)
    assert all(corrected[1][name] == first[1][name] for name in signature_names(first[0]).values())
    assert submit(client, session, worker, corrected) == {}


def test_no_head_signature_is_expected_when_nobody_was_home(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, outcome="not_home"))
    assert "signature_missing" not in flags and "investigators_too_few" not in flags


# --- where the visit was -------------------------------------------------------------------------

def test_far_from_the_registered_home(client, session, worker, household):
    # 0.01 degree of latitude north: 2 * pi * 6,371 km / 360 / 100 ~ 1,112 m on a sphere; the
    # WGS-84 ellipsoid's meridian is a little flatter at 35 N: 1,109 m.
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, lat=HOME[0] + 0.01))
    [flag] = flags.pop("far_from_home")
    assert flags == {}  # the photos moved with the visit
    assert flag.severity == "warning"
    assert flag.figures == {"distance_m": 1109, "threshold_m": 300}
    assert "1109 米" in flag.message and "300" in flag.message


def test_near_the_registered_home_is_not_flagged(client, session, worker, household):
    # 0.002 degree north ~ 222 m, inside the default 300 m.
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN, lat=HOME[0] + 0.002)) == {}


def test_a_county_rule_overrides_the_default_threshold(client, session, worker, household, area):
    session.add(CountyRules(county_id=area["county"].id, location_threshold_m=200))
    session.flush()
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, lat=HOME[0] + 0.002))
    assert flags["far_from_home"][0].figures == {"distance_m": 222, "threshold_m": 200}


def test_a_county_rule_can_also_be_looser(client, session, worker, household, area):
    session.add(CountyRules(county_id=area["county"].id, location_threshold_m=2000))
    session.flush()
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN, lat=HOME[0] + 0.01)) == {}


def test_another_countys_rule_does_not_apply(client, session, worker, household, make):
    other = make.county(code="623002", name="邻县")
    session.add(CountyRules(county_id=other.id, location_threshold_m=100))
    session.flush()
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN, lat=HOME[0] + 0.002)) == {}


def test_a_county_rules_row_with_only_the_county_has_the_defaults(session, area):
    session.add(CountyRules(county_id=area["county"].id))
    session.flush()
    assert checks.rules_for(session, area["village"]) == checks.Rules() == checks.Rules(300, 50, 500, 30, 3)


def test_poor_accuracy(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, location=f"{HOME[0]} {HOME[1]} 1820.0 80.0"))
    [flag] = flags.pop("poor_accuracy")
    assert flags == {}
    assert flag.figures == {"accuracy_m": 80.0, "max_accuracy_m": 50}


def test_accuracy_at_the_limit_is_accepted(client, session, worker, household):
    assert submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, location=f"{HOME[0]} {HOME[1]} 1820.0 50.0")) == {}


def test_no_location(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, location=""))
    [flag] = flags.pop("no_location")
    assert flags == {} and flag.severity == "warning" and flag.figures == {}


# --- photos: position and time -------------------------------------------------------------------

def test_a_photo_taken_far_from_the_visit(client, session, worker, household):
    far = jpeg_with_exif(lat=HOME[0] + 0.01, lon=HOME[1], taken_at=WHEN, seed=901, quality=60)
    flags = submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "home", far))
    [flag] = flags.pop("photo_far_from_visit")
    assert flags == {}
    assert flag.figures == {"filename": "1781490000000.jpg", "field": "sights/sight_home_photo",
                            "distance_m": 1109, "threshold_m": 500}
    assert "见居住环境" in flag.message and "the living conditions" in flag.message


def test_a_photo_without_exif_location_is_normal(client, session, worker, household):
    bare = jpeg_with_exif(taken_at=WHEN, seed=902, quality=60)  # no GPS, as a picker app leaves it
    assert submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "home", bare)) == {}
    nothing = jpeg_with_exif(seed=903, quality=60, make=None, model=None)  # no EXIF time either
    assert submit(client, session, worker, with_photo(
        household_visit(household.case_number, when=WHEN + timedelta(days=1)), "home", nothing)) == {}


def test_a_county_rule_widens_the_photo_distance(client, session, worker, household, area):
    session.add(CountyRules(county_id=area["county"].id, photo_distance_m=1500))
    session.flush()
    far = jpeg_with_exif(lat=HOME[0] + 0.01, lon=HOME[1], taken_at=WHEN, seed=901, quality=60)
    assert submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "home", far)) == {}


def test_a_photo_taken_before_the_visit(client, session, worker, household):
    # The form was started at 10:18 (WHEN - 12 min); a photo from 08:30 is 108 minutes before it.
    early = jpeg_with_exif(lat=HOME[0], lon=HOME[1], taken_at=WHEN - timedelta(hours=2), seed=904, quality=60)
    flags = submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "head", early))
    [flag] = flags.pop("photo_time_outside_visit")
    assert flags == {}
    assert flag.figures == {
        "filename": "1781490000000.jpg", "field": "sights/sight_head_photo",
        "taken_at": "2026-06-15T08:30:00+08:00", "started_at": "2026-06-15T10:18:00+08:00",
        "ended_at": "2026-06-15T10:43:00+08:00", "minutes_outside": 108, "slack_minutes": 30,
    }
    assert "08:30" in flag.message and "108 分钟" in flag.message


def test_a_photo_taken_after_the_visit(client, session, worker, household):
    # Ended at 10:43; a photo at 11:28 is 45 minutes after, beyond the 30 allowed.
    late = jpeg_with_exif(lat=HOME[0], lon=HOME[1], taken_at=WHEN + timedelta(minutes=58), seed=905, quality=60)
    flags = submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "head", late))
    assert flags["photo_time_outside_visit"][0].figures["minutes_outside"] == 45


def test_a_photo_within_the_slack_is_not_flagged(client, session, worker, household):
    # 20 minutes before the form was started: inside the 30 minutes allowed.
    early = jpeg_with_exif(lat=HOME[0], lon=HOME[1], taken_at=WHEN - timedelta(minutes=32), seed=906, quality=60)
    assert submit(client, session, worker, with_photo(household_visit(household.case_number, when=WHEN), "head", early)) == {}


# --- photos re-used in another household ----------------------------------------------------------

@pytest.fixture
def neighbour(make, area):
    return make.household(area["other_village"], latitude=HOME[0], longitude=HOME[1])


def test_the_same_photos_in_two_households(client, session, worker, household, neighbour):
    first = household_visit(household.case_number, when=WHEN, photo_seed=7)
    assert submit(client, session, worker, first) == {}
    # The same seed, place and time: byte for byte the same five photos.
    copied = household_visit(neighbour.case_number, when=WHEN, photo_seed=7)
    assert {n: b for n, b in copied[1].items() if n.endswith(".jpg")} == {n: b for n, b in first[1].items() if n.endswith(".jpg")}
    flags = submit(client, session, worker, copied)
    reused = flags.pop("photo_reused")
    assert flags == {}  # signatures drawn in each household are not searched for look-alikes
    assert len(reused) == 5
    original = version_of(session, first[0])
    flag = next(f for f in reused if f.figures["field"] == "sights/sight_head_photo")
    assert flag.severity == "error"
    head = photo_name(first[0], "head")
    assert {k: flag.figures[k] for k in ("filename", "distance_bits", "threshold_bits", "identical_file",
                                          "other_case_number", "other_submission_id", "other_filename")} == {
        "filename": head, "distance_bits": 0, "threshold_bits": 10, "identical_file": True,
        "other_case_number": household.case_number, "other_submission_id": original.submission_id,
        "other_filename": head,
    }
    assert flag.figures["other_instance_id"] == original.instance_id
    assert household.case_number in flag.message and original.instance_id in flag.message


def test_a_recompressed_copy_is_still_found(client, session, worker, household, neighbour):
    first = household_visit(household.case_number, when=WHEN, photo_seed=7)
    submit(client, session, worker, first)
    original = first[1][photo_name(first[0], "home")]
    image = Image.open(io.BytesIO(original))
    buffer = io.BytesIO()
    image.resize((1200, 900)).save(buffer, "JPEG", quality=50, exif=image.getexif())  # smaller, re-encoded
    copy = buffer.getvalue()
    assert copy != original
    flags = submit(client, session, worker, with_photo(
        household_visit(neighbour.case_number, when=WHEN, photo_seed=8), "home", copy))
    [flag] = flags.pop("photo_reused")
    assert flags == {}
    assert flag.severity == "warning" and flag.figures["identical_file"] is False
    assert flag.figures["distance_bits"] <= 10 and flag.figures["other_filename"] == photo_name(first[0], "home")
    assert flag.figures["other_case_number"] == household.case_number


def test_a_household_may_reuse_its_own_photo(client, session, worker, household):
    first = household_visit(household.case_number, when=WHEN, photo_seed=7)
    submit(client, session, worker, first)
    # A month later: the same pictures (other EXIF times, so other bytes) and one file exactly as before.
    again = household_visit(household.case_number, when=WHEN + timedelta(days=30), photo_seed=7)
    again = with_photo(again, "hukou", first[1][photo_name(first[0], "hukou")])
    assert "photo_reused" not in submit(client, session, worker, again)


def test_different_photos_are_not_taken_for_reuse(client, session, worker, household, neighbour):
    submit(client, session, worker, household_visit(household.case_number, when=WHEN, photo_seed=7))
    assert submit(client, session, worker, household_visit(neighbour.case_number, when=WHEN, photo_seed=8)) == {}


def test_an_identical_photo_in_another_county_is_found_by_its_exact_hash(client, session, make, worker, household, monkeypatch):
    county = make.county(code="623002", name="邻县")
    village = make.village(make.township(county, "200", "邻镇"), "001", "邻村")
    elsewhere = make.household(village, latitude=HOME[0], longitude=HOME[1])
    their_worker = make.token(make.user("caseworker", [village]))
    submit(client, session, their_worker, household_visit(elsewhere.case_number, when=WHEN, photo_seed=7))
    monkeypatch.setattr(checks, "REUSE_SCAN_LIMIT", 0)  # the county scan sees nothing: only the exact stage
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, photo_seed=7))
    assert len(flags["photo_reused"]) == 5
    assert {f.figures["other_case_number"] for f in flags["photo_reused"]} == {elsewhere.case_number}


def test_the_near_duplicate_scan_is_bounded_to_the_most_recent_photos(client, session, make, area, worker, household,
                                                                       neighbour, monkeypatch):
    first = household_visit(household.case_number, when=WHEN, photo_seed=7)
    submit(client, session, worker, first)
    original = first[1][photo_name(first[0], "home")]
    image = Image.open(io.BytesIO(original))
    buffer = io.BytesIO()
    image.crop((40, 30, 1560, 1170)).save(buffer, "JPEG", quality=70)  # cropped: the hash moves, not equal
    copy = buffer.getvalue()
    third = make.household(area["village"], latitude=HOME[0], longitude=HOME[1])
    submit(client, session, worker, household_visit(third.case_number, when=WHEN + timedelta(days=1), photo_seed=9))
    # Five newer photos of a third household now come before the original in the scan.
    visit = with_photo(household_visit(neighbour.case_number, when=WHEN + timedelta(days=2), photo_seed=8), "home", copy)
    monkeypatch.setattr(checks, "REUSE_SCAN_LIMIT", 5)
    flags = submit(client, session, worker, visit)
    assert "photo_reused" not in flags  # the original is the 6th most recent: beyond the bound
    monkeypatch.setattr(checks, "REUSE_SCAN_LIMIT", 20)
    version = version_of(session, visit[0])
    [flag] = [f for f in run_checks(session, version) if f.code == "photo_reused"]
    assert 0 < flag.figures["distance_bits"] <= 10


# --- red flags -----------------------------------------------------------------------------------

def test_red_flags_answered(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, red_flags="owns_vehicle_or_machinery luxury_goods",
        red_flag_notes="院内停放小型货车一辆"))
    [flag] = flags.pop("red_flags_answered")
    assert flags == {}
    assert flag.figures == {"red_flags": ["owns_vehicle_or_machinery", "luxury_goods"]}
    assert "拥有汽车、货车、工程机械或大型农机具" in flag.message and "Luxury goods" in flag.message


def test_a_refusal_is_itself_a_red_flag(client, session, worker, household):
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, outcome="refused"))
    assert flags["red_flags_answered"][0].figures == {"red_flags": ["refused_investigation"]}
    assert "拒绝配合调查" in flags["red_flags_answered"][0].message


def test_no_red_flag_when_none_is_answered(client, session, worker, household):
    assert "red_flags_answered" not in submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, red_flags="none"))


# --- income against the standard ------------------------------------------------------------------
# The builders' two members: head 300 gross - 100 cost + 150 transfer = 350 (50 self-consumed, not
# counted); spouse 800 wage (30 self-consumed, not counted). 1,150 yuan / 2 = 575.00 yuan per person.

def standard(session, area, yuan: str, since: date, residence="rural") -> Standard:
    from decimal import Decimal

    row = Standard(area_id=area.id, residence=residence, monthly_fen=int(Decimal(yuan) * 100), effective_from=since)
    session.add(row)
    session.flush()
    return row


def test_income_above_the_standard(client, session, worker, household, area):
    standard(session, area["county"], "420", date(2025, 1, 1))
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN))
    [flag] = flags.pop("income_above_standard")
    assert flags == {}
    assert flag.severity == "warning"
    assert flag.figures == {
        "per_capita_fen": 57500, "standard_fen": 42000, "household_income_fen": 115000, "household_size": 2,
        "residence": "rural", "standard_area_code": area["county"].code, "effective_from": "2025-01-01",
        "visit_date": "2026-06-15",
    }
    assert "575.00 元" in flag.message and "420.00 元" in flag.message


def test_an_income_past_any_reason_is_flagged_not_a_failed_check(client, session, worker, household, area):
    # No phone's constraint stops a hand-made upload: 1e100 yuan failed the computation (and so every
    # check) until money stopped going through Decimal's 28-digit quantize.
    standard(session, area["county"], "420", date(2025, 1, 1))
    xml, files = household_visit(household.case_number, when=WHEN)
    assert b"<income_wage>800</income_wage>" in xml  # the spouse's wage
    flags = submit(client, session, worker, (xml.replace(b"<income_wage>800<", b"<income_wage>1e100<"), files))
    assert "checks_failed" not in flags
    assert flags["income_above_standard"][0].figures["household_income_fen"] > 10**100


def test_income_at_the_standard_is_not_above_it(client, session, worker, household, area):
    standard(session, area["county"], "575.00", date(2025, 1, 1))
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN)) == {}


def test_one_fen_under_the_income_is_above(client, session, worker, household, area):
    standard(session, area["county"], "574.99", date(2025, 1, 1))
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN))
    assert flags["income_above_standard"][0].figures["standard_fen"] == 57499


def test_per_capita_income_is_exact_in_decimal(client, session, worker, household, area):
    # Three members: 1,150 / 3 = 383.333... yuan; above 383.33, shown as 383.33 (38,333 fen).
    standard(session, area["county"], "383.33", date(2025, 1, 1))
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN, members=3))
    assert flags["income_above_standard"][0].figures["per_capita_fen"] == 38333
    standard(session, area["county"], "383.34", date(2026, 1, 1))
    assert "income_above_standard" not in submit(client, session, worker, household_visit(
        household.case_number, when=WHEN + timedelta(days=1), members=3))


def test_no_standard_no_flag(client, session, worker, household, area):
    standard(session, area["county"], "100", date(2025, 1, 1), residence="urban")  # the household is rural
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN)) == {}


def test_the_standard_in_force_on_the_visit_date_applies(client, session, worker, household, area):
    standard(session, area["county"], "500", date(2025, 1, 1))
    standard(session, area["county"], "600", date(2026, 6, 16))  # raised the day after the visit
    standard(session, area["county"], "550", date(2024, 1, 1))
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN))
    assert flags["income_above_standard"][0].figures["standard_fen"] == 50000
    assert flags["income_above_standard"][0].figures["effective_from"] == "2025-01-01"
    # A visit on the day the new standard takes effect: 575 is below 600.
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN + timedelta(days=1))) == {}


def test_the_nearest_area_with_a_standard_wins(client, session, worker, household, area):
    standard(session, area["county"], "700", date(2025, 1, 1))
    standard(session, area["township"], "500", date(2024, 1, 1))
    flags = submit(client, session, worker, household_visit(household.case_number, when=WHEN))
    assert flags["income_above_standard"][0].figures["standard_area_code"] == area["township"].code
    standard(session, area["village"], "600", date(2026, 1, 1))
    assert submit(client, session, worker, household_visit(household.case_number, when=WHEN + timedelta(days=1))) == {}
    # Another village's standard is not ours.
    assert standards.standard_in_force(session, area["other_village"], "rural", date(2026, 6, 15)).monthly_fen == 50000


def test_no_income_check_when_nobody_was_home(client, session, worker, household, area):
    standard(session, area["county"], "1", date(2025, 1, 1))
    assert "income_above_standard" not in submit(client, session, worker, household_visit(
        household.case_number, when=WHEN, outcome="not_home"))


# --- not at home, again --------------------------------------------------------------------------

def visit_on(case_number: str, day: int, outcome: str):
    return household_visit(case_number, when=datetime(2026, 3, day, 9, 0, tzinfo=SHANGHAI), outcome=outcome,
                           photo_seed=day)


def test_the_third_not_at_home_in_a_row(client, session, worker, household):
    assert submit(client, session, worker, visit_on(household.case_number, 1, "done")) == {}
    assert submit(client, session, worker, visit_on(household.case_number, 2, "not_home")) == {}
    assert submit(client, session, worker, visit_on(household.case_number, 3, "not_home")) == {}
    flags = submit(client, session, worker, visit_on(household.case_number, 4, "not_home"))
    [flag] = flags.pop("not_home_repeated")
    assert flags == {}
    assert flag.figures == {"consecutive": 3, "limit": 3, "visit_dates": ["2026-03-02", "2026-03-03", "2026-03-04"]}
    assert "连续第 3 次" in flag.message and "3rd visit in a row" in flag.message


def test_a_visit_at_home_breaks_the_run(client, session, worker, household):
    submit(client, session, worker, visit_on(household.case_number, 1, "not_home"))
    submit(client, session, worker, visit_on(household.case_number, 2, "not_home"))
    submit(client, session, worker, visit_on(household.case_number, 3, "done"))
    assert "not_home_repeated" not in submit(client, session, worker, visit_on(household.case_number, 4, "not_home"))


def test_visits_count_in_visit_date_order_not_arrival(client, session, worker, household):
    submit(client, session, worker, visit_on(household.case_number, 3, "not_home"))
    submit(client, session, worker, visit_on(household.case_number, 1, "done"))  # an older visit sent late
    assert "not_home_repeated" not in submit(client, session, worker, visit_on(household.case_number, 4, "not_home"))
    # The late one sent now is dated before the other two: it ends no run of three.
    assert "not_home_repeated" not in submit(client, session, worker, visit_on(household.case_number, 2, "not_home"))


def test_the_county_sets_the_not_at_home_limit(client, session, worker, household, area):
    session.add(CountyRules(county_id=area["county"].id, not_home_limit=2))
    session.flush()
    submit(client, session, worker, visit_on(household.case_number, 1, "not_home"))
    flags = submit(client, session, worker, visit_on(household.case_number, 2, "not_home"))
    assert flags["not_home_repeated"][0].figures == {"consecutive": 2, "limit": 2,
                                                      "visit_dates": ["2026-03-01", "2026-03-02"]}


def test_another_households_visits_do_not_count(client, session, worker, household, neighbour):
    submit(client, session, worker, visit_on(neighbour.case_number, 1, "not_home"))
    submit(client, session, worker, visit_on(neighbour.case_number, 2, "not_home"))
    assert "not_home_repeated" not in submit(client, session, worker, visit_on(household.case_number, 3, "not_home"))


# --- recomputation -------------------------------------------------------------------------------

def test_run_checks_replaces_the_flags_it_stored(client, session, worker, household):
    xml, files = household_visit(household.case_number, when=WHEN, investigators=("王芳",), location="")
    post(client, token=worker, xml=xml, files=files)
    version = version_of(session, xml)
    assert sorted(f.code for f in version.flags) == ["investigators_too_few", "no_location"]
    again = run_checks(session, version)
    assert sorted(f.code for f in again) == ["investigators_too_few", "no_location"]
    session.expire_all()
    stored = session.scalars(select(Flag).where(Flag.version_id == version.id)).all()
    assert sorted(f.code for f in stored) == ["investigators_too_few", "no_location"]  # replaced, not added


def test_a_resend_that_completes_the_files_checks_them(client, session, worker, household):
    far = jpeg_with_exif(lat=HOME[0] + 0.01, lon=HOME[1], taken_at=WHEN, seed=901, quality=60)
    xml, files = with_photo(household_visit(household.case_number, when=WHEN), "home", far)
    post(client, worker, xml, {n: b for n, b in files.items() if n != "1781490000000.jpg"})
    assert flags_of(session, xml) == {}  # the far photo has not arrived: nothing to check yet
    post(client, worker, xml, files)
    flags = flags_of(session, xml)
    assert list(flags) == ["photo_far_from_visit"] and len(flags["photo_far_from_visit"]) == 1


@pytest.mark.parametrize("field, value", [
    ("start", "0001-01-01T00:00:00.000+08:00"),   # year 0 in UTC: the INSERT failed, a 500
    ("end", "9999-12-31T23:59:59.999-08:00"),     # year 10000 in UTC: the same
    ("start", "0001-01-01T00:00:00.000Z"),        # stored; the photo-time check then ran off the calendar
    ("end", "9999-12-31T23:59:59.999Z"),
    ("start", "9999-12-31T23:59:59.999Z"),        # Beijing time of it is past year 9999
    ("start", "1899-12-31T23:00:00.000Z"),
])
def test_a_phone_time_off_the_calendar_counts_as_no_time(client, session, worker, household, field, value):
    # No phone's clock gives these; a hand-made upload can. The visit is stored whole (its XML says
    # what was sent), the time is left out as an unreadable one is, and the checks all run.
    xml, files = household_visit(household.case_number, when=WHEN)
    xml = re.sub(f"<{field}>[^<]*</{field}>".encode(), f"<{field}>{value}</{field}>".encode(), xml)
    flags = submit(client, session, worker, (xml, files))
    assert "checks_failed" not in flags
    version = version_of(session, xml)
    assert value.encode() in version.xml
    times = {"start": version.started_at, "end": version.ended_at}
    assert times.pop(field) is None and times.popitem()[1].year == 2026


def test_a_phone_time_from_a_reset_clock_is_kept():
    # 1970 and 2000 are what a phone reads after its clock was reset: kept, for the checks to see.
    assert xforms.answer_instant("1970-01-01T00:00:05.000+08:00") == datetime(1970, 1, 1, 0, 0, 5, tzinfo=SHANGHAI)
    assert xforms.answer_instant("2000-01-01T00:00:00Z").year == 2000
    assert xforms.answer_instant("2026-06-15T10:18:00") is None  # no zone: ODK always writes one
    assert xforms.answer_date("2026-06-15") == date(2026, 6, 15)
    assert [xforms.answer_date(text) for text in ("9999-12-31", "0001-01-01", "2026-13-01", "", None)] == [None] * 5


@pytest.mark.parametrize("build", [application, household_visit, spot_check])
def test_a_households_form_that_names_none_is_kept_and_flagged_not_filed(client, session, worker, supervisor, build):
    # The phone requires case_id; a hand-made upload can leave it empty. Kept (evidence is never
    # refused), under no case, and said so: one flag, whatever the form.
    xml, files = build("")
    flags = submit(client, session, supervisor if build is spot_check else worker, (xml, files))
    assert version_of(session, xml).submission.household_id is None
    assert "not_filed" in flags and "checks_failed" not in flags and "spot_check_not_attached" not in flags
    assert "filed under no case" in flags["not_filed"][0].message


def test_only_a_households_form_can_be_not_filed():
    asks = {form_id: xforms.form_structure(compiled_form(form_id).xform.encode()).names_a_household
            for form_id in ("application", "declaration", "household_visit", "spot_check", "publicity_record",
                            "democratic_appraisal")}
    assert asks == {"application": True, "declaration": True, "household_visit": True, "spot_check": True,
                    "publicity_record": False, "democratic_appraisal": False}
