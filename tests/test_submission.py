"""OpenRosa submission: every row of the semantics table, durability and the crash case."""
from __future__ import annotations

import io
import re
import uuid

import pytest
import urllib3
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from server.models import Household, Submission, SubmissionVersion
from server.services import checking, ingest, xforms

from .builders import household_visit, jpeg_with_exif
from .conftest import OPENROSA
from .openrosa_client import parse_openrosa_response


@pytest.fixture
def area(make):
    county = make.county()
    township = make.township(county)
    return {"village": make.village(township, "001", "东村"), "other": make.village(township, "002", "西村")}


@pytest.fixture
def worker(make, area):
    user = make.user("caseworker", [area["village"]])
    return user, make.token(user)


@pytest.fixture
def household(make, area):
    return make.household(area["village"])


def post(client, token, xml: bytes, files: dict[str, bytes], **extra):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, body in files.items():
        data[name] = (io.BytesIO(body), name)
    data.update(extra)
    return client.post(f"/key/{token}/submission", data=data, headers=OPENROSA, content_type="multipart/form-data")


def message(response) -> str:
    return parse_openrosa_response(response.data)


def stored_version(session, instance_id) -> SubmissionVersion:
    session.expire_all()
    return session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))


def test_the_form_data_is_read_from_memory_and_never_written_to_a_file(client, session, app, worker, household,
                                                                         monkeypatch):
    from server.storage import local

    monkeypatch.setitem(app.config, "CHECKS_INLINE", False)  # no thumbnails staged: the upload's files alone
    made = []
    real_mkstemp = local.tempfile.mkstemp
    monkeypatch.setattr(local.tempfile, "mkstemp", lambda **kwargs: made.append(kwargs) or real_mkstemp(**kwargs))
    _, token = worker
    xml, files = household_visit(household.case_number)
    response = post(client, token, xml, files)
    assert response.status_code == 201, message(response)
    assert len(made) == len(files)  # one staged file per photo, signature and audit log; none for the XML
    assert stored_version(session, instance_id_of(xml)).xml == xml


def test_a_file_sent_before_the_form_data_is_stored_all_the_same(client, session, app, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    data = {name: (io.BytesIO(body), name) for name, body in files.items()}  # the first part is a photo
    data["xml_submission_file"] = (io.BytesIO(xml), "submission.xml", "text/xml")
    response = client.post(f"/key/{token}/submission", data=data, headers=OPENROSA,
                           content_type="multipart/form-data")
    assert response.status_code == 201, message(response)
    version = stored_version(session, instance_id_of(xml))
    assert version.is_complete and version.xml == xml
    for attachment in version.attachments:
        with app.extensions["storage"].open(attachment.sha256) as stored:
            assert stored.read() == files[attachment.filename]


def test_head_announces_the_size_collect_splits_at(client, worker):
    _, token = worker
    response = client.head(f"/key/{token}/submission", headers=OPENROSA)
    assert response.status_code == 204
    assert int(response.headers["X-OpenRosa-Accept-Content-Length"]) == 256 * 1024


def test_new_visit_is_stored_whole_and_filed_under_its_household(client, session, app, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    response = post(client, token, xml, files)
    assert response.status_code == 201, message(response)
    instance_id = instance_id_of(xml)
    version = stored_version(session, instance_id)
    assert version.xml == xml and version.is_current and version.is_complete
    assert version.submission.household_id == household.id
    assert {a.filename for a in version.attachments} == set(files)
    storage = app.extensions["storage"]
    for attachment in version.attachments:
        with storage.open(attachment.sha256) as stored:
            assert stored.read() == files[attachment.filename]
    photo = next(a for a in version.attachments if a.field == "sights/sight_head_photo")
    assert photo.exif_latitude == pytest.approx(35.0312, abs=0.01) and photo.thumbnail_sha256 and photo.phash


def instance_id_of(xml: bytes) -> str:
    from server.services.xforms import find_text, parse_instance

    return find_text(parse_instance(xml), "meta/instanceID")


def test_identical_resend_with_nothing_new_is_202(client, session, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    again = post(client, token, xml, files)
    assert again.status_code == 202 and "Already received" in message(again)
    assert session.scalar(select(Submission).where(Submission.instance_id == instance_id_of(xml))) is not None
    session.expire_all()
    assert len(session.scalars(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id_of(xml))).all()) == 1


def test_missing_files_are_listed_and_completed_by_a_resend(client, session, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    first_half = dict(list(files.items())[:3])
    response = post(client, token, xml, first_half, **{"*isIncomplete*": "yes"})
    assert response.status_code == 201
    version = stored_version(session, instance_id_of(xml))
    assert not version.is_complete
    missing = {a.filename for a in version.attachments if a.sha256 is None}
    assert missing == set(files) - set(first_half)
    assert all(name in message(response) for name in missing)

    # A re-send that brings none of them says what is still missing, not just "nothing new".
    again = post(client, token, xml, first_half)
    assert again.status_code == 202 and "Already received" in message(again)
    assert all(name in message(again) for name in missing)
    one_more = dict(list(files.items())[3:4])
    more = post(client, token, xml, one_more)
    assert more.status_code == 201 and "Received 1 more file(s)" in message(more)
    assert all(name in message(more) for name in missing - set(one_more))

    completed = post(client, token, xml, files)
    assert completed.status_code == 201 and "thank you" in message(completed)
    assert stored_version(session, instance_id_of(xml)).is_complete


def test_same_instance_id_with_different_xml_is_409(client, worker, household):
    _, token = worker
    instance_id = f"uuid:{uuid.uuid4()}"
    xml, files = household_visit(household.case_number, instance_id=instance_id)
    assert post(client, token, xml, files).status_code == 201
    changed, _ = household_visit(household.case_number, instance_id=instance_id, outcome="not_home")
    response = post(client, token, changed, {})
    assert response.status_code == 409 and "instanceID" in message(response)


def test_an_edit_adds_a_version_keeps_history_and_carries_files_over(client, session, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    first_id = instance_id_of(xml)
    edit_id = f"uuid:{uuid.uuid4()}"
    edited, edited_files = household_visit(household.case_number, instance_id=edit_id, deprecated_id=first_id)
    # Collect re-sends only what changed; here the photos are the same file names, not re-sent.
    response = post(client, token, edited, {})
    assert response.status_code == 201, message(response)
    old, new = stored_version(session, first_id), stored_version(session, edit_id)
    assert new.submission_id == old.submission_id and new.is_current and not old.is_current
    assert old.xml == xml  # history kept
    assert new.is_complete and {a.filename: a.sha256 for a in new.attachments} == {a.filename: a.sha256 for a in old.attachments}
    # Editing the old version again is refused: it is no longer current.
    again, _ = household_visit(household.case_number, instance_id=f"uuid:{uuid.uuid4()}", deprecated_id=first_id)
    assert post(client, token, again, {}).status_code == 409


def test_different_bytes_for_a_stored_file_are_refused_and_the_first_kept(client, session, app, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    name = next(n for n in files if n.endswith(".jpg"))
    tampered = {name: jpeg_with_exif(None, seed=99, lat=35.0312, lon=104.7104)}
    response = post(client, token, xml, tampered)
    assert response.status_code == 409 and "never replaced" in message(response)
    attachment = next(a for a in stored_version(session, instance_id_of(xml)).attachments if a.filename == name)
    with app.extensions["storage"].open(attachment.sha256) as stored:
        assert stored.read() == files[name]


def test_parts_not_named_in_the_xml_are_not_stored(client, session, app, worker, household):
    import hashlib

    _, token = worker
    xml, files = household_visit(household.case_number)
    stray = b"not part of this form"
    assert post(client, token, xml, {**files, "stray.txt": stray}).status_code == 201
    assert not app.extensions["storage"].exists(hashlib.sha256(stray).hexdigest())
    assert "stray.txt" not in {a.filename for a in stored_version(session, instance_id_of(xml)).attachments}


def test_two_different_files_under_one_name_are_refused(client, session, app, worker, household):
    # Which of them is the evidence? Neither is stored; the same file twice is harmless.
    _, token = worker
    xml, files = household_visit(household.case_number)
    photo, other = [name for name in files if name.endswith(".jpg")][:2]

    def send(extra: bytes):
        parts = MultiDict([("xml_submission_file", (io.BytesIO(xml), "submission.xml", "text/xml"))]
                          + [(name, (io.BytesIO(body), name)) for name, body in files.items()])
        parts.add(photo, (io.BytesIO(extra), photo))
        return client.post(f"/key/{token}/submission", data=parts, headers=OPENROSA, content_type="multipart/form-data")

    storage = app.extensions["storage"]
    before = set(storage.keys())
    response = send(files[other])
    assert response.status_code == 400 and f"two different files named {photo}" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None and set(storage.keys()) == before
    assert send(files[photo]).status_code == 201 and stored_version(session, instance_id_of(xml)).is_complete


def test_two_different_form_data_parts_are_refused(client, session, worker, household):
    # The second was silently ignored: which of them did the caseworker send?
    _, token = worker
    xml, files = household_visit(household.case_number)
    other, _ = household_visit(household.case_number)

    def send(second: bytes):
        parts = MultiDict([("xml_submission_file", (io.BytesIO(xml), "submission.xml", "text/xml")),
                           ("xml_submission_file", (io.BytesIO(second), "submission.xml", "text/xml"))]
                          + [(name, (io.BytesIO(body), name)) for name, body in files.items()])
        return client.post(f"/key/{token}/submission", data=parts, headers=OPENROSA, content_type="multipart/form-data")

    response = send(other)
    assert response.status_code == 400 and "2 different xml_submission_file parts" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None and stored_version(session, instance_id_of(other)) is None
    assert send(xml).status_code == 201  # the same form data twice is harmless


@pytest.mark.parametrize("character", ["\n", "\r", "\t"])
def test_a_file_name_with_a_control_character_is_refused(client, session, worker, household, character):
    # No multipart header can carry a CR or LF in a file name: the visit would wait for it for good.
    _, token = worker
    xml, files = household_visit(household.case_number)
    photo = next(name for name in files if name.endswith(".jpg"))
    bad = photo.replace(".jpg", f"{character}.jpg")
    encoded_name = bad.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    xml = xml.replace(f">{photo}<".encode(), f">{encoded_name}<".encode())
    response = post(client, token, xml, {name: body for name, body in files.items() if name != photo})
    assert response.status_code == 400 and "is not allowed" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None


def test_unknown_form_or_version_is_404_and_older_versions_are_accepted(client, session, worker, household):
    from server.services import forms

    _, token = worker
    xml, files = household_visit(household.case_number)
    unknown_form = xml.replace(b'id="household_visit"', b'id="no_such_form"')
    assert post(client, token, unknown_form, files).status_code == 404
    version = forms.get_version(session, "household_visit").version.encode()
    unknown_version = xml.replace(b'version="' + version + b'"', b'version="1999"')
    assert b'version="1999"' in unknown_version
    assert post(client, token, unknown_version, files).status_code == 404

    # Publish a newer version: phones still holding the old one can send it.
    source = forms.get_version(session, "household_visit").source.replace(b"| " + version + b" |", b"| 2099123199 |")
    forms.publish(session, source, "household_visit.md", validate=False)
    assert post(client, token, xml, files).status_code == 201


@pytest.mark.parametrize("body, expected", [
    (b"<data id='household_visit'", "well-formed"),
    (b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e 'x'>]><data id='household_visit' version='2026112301'>&e;</data>", "refuses"),
    # Nested past what the walks over an instance recurse through (it was a 500).
    (b"<data id='household_visit' version='2026112301'>" + b"<g>" * 5000 + b"</g>" * 5000 + b"</data>", "levels deep"),
])
def test_malformed_or_hostile_xml_is_400(client, worker, body, expected):
    _, token = worker
    response = post(client, token, body, {})
    assert response.status_code == 400 and expected in message(response)


def test_form_data_may_nest_max_depth_levels_and_no_more():
    def nested(levels: int) -> bytes:  # the root is level 1
        return b"<data>" + b"<g>" * (levels - 1) + b"</g>" * (levels - 1) + b"</data>"

    assert xforms.parse_instance(nested(xforms.MAX_DEPTH)) is not None
    with pytest.raises(xforms.InstanceInvalid, match="levels deep"):
        xforms.parse_instance(nested(xforms.MAX_DEPTH + 1))


def test_form_data_over_its_limit_is_413_and_nothing_is_stored(client, session, app, worker, household, monkeypatch):
    # The form data is read into memory and parsed (~45 bytes of memory per byte): 8 MB of empty
    # elements took 358 MB. Its own cap keeps that small whatever the body's limit.
    _, token = worker
    xml, files = household_visit(household.case_number)
    monkeypatch.setitem(app.config, "MAX_FORM_DATA_BYTES", len(xml) - 1)
    storage = app.extensions["storage"]
    before = set(storage.keys())
    response = post(client, token, xml, files)
    assert response.status_code == 413 and "form data" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None
    assert set(storage.keys()) == before
    monkeypatch.setitem(app.config, "MAX_FORM_DATA_BYTES", len(xml))
    assert post(client, token, xml, files).status_code == 201


def test_missing_instance_id_or_wrong_root_is_400(client, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    no_id = xml.replace(instance_id_of(xml).encode(), b"")
    assert "instanceID" in message(post(client, token, no_id, files))
    wrong_root = xml.replace(b"<data ", b"<other ", 1).replace(b"</data>", b"</other>")
    response = post(client, token, wrong_root, files)
    assert response.status_code == 400 and "root" in message(response)


def test_no_xml_part_is_400(client, worker):
    _, token = worker
    response = client.post(f"/key/{token}/submission", data={"a.jpg": (io.BytesIO(b"x"), "a.jpg")},
                           headers=OPENROSA, content_type="multipart/form-data")
    assert response.status_code == 400


def test_body_over_the_limit_is_413(client, app, worker, household, monkeypatch):
    _, token = worker
    monkeypatch.setitem(app.config, "MAX_SUBMISSION_BYTES", 10_000)
    xml, files = household_visit(household.case_number)
    response = post(client, token, xml, files)
    assert response.status_code == 413
    parse_openrosa_response(response.data)


def encoded(xml: bytes, files: dict[str, bytes]) -> tuple[bytes, str]:
    """The multipart body ODK Collect would send, and its Content-Type."""
    fields = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
    body, content_type = urllib3.encode_multipart_formdata(fields)
    return body, content_type


def test_more_parts_than_the_parser_takes_is_413_in_words_and_nothing_is_stored(client, app, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    storage = app.extensions["storage"]
    before = set(storage.keys())
    response = post(client, token, xml, {**files, **{f"extra{n}.txt": b"x" for n in range(1001)}})
    assert response.status_code == 413 and "more than 1000 parts" in message(response)
    assert set(storage.keys()) == before and list(storage.staging.iterdir()) == []


def test_form_data_cut_off_is_400_in_words_and_nothing_is_stored(client, session, app, worker, household):
    # Werkzeug's parser is silent on a malformed body: it gave no parts, "no xml_submission_file part".
    _, token = worker
    xml, files = household_visit(household.case_number)
    body, content_type = encoded(xml, files)
    storage = app.extensions["storage"]
    before = set(storage.keys())
    for cut in (body[: len(body) // 2], body[:-10]):
        response = client.post(f"/key/{token}/submission", data=cut,
                               headers={**OPENROSA, "Content-Type": content_type})
        assert response.status_code == 400 and "cut off" in message(response)
    response = client.post(f"/key/{token}/submission", data=body,
                           headers={**OPENROSA, "Content-Type": "multipart/form-data"})  # no boundary
    assert response.status_code == 400 and "malformed" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None
    assert set(storage.keys()) == before and list(storage.staging.iterdir()) == []
    response = client.post(f"/key/{token}/submission", data=body, headers={**OPENROSA, "Content-Type": content_type})
    assert response.status_code == 201


def test_a_body_that_does_not_match_its_boundary_is_400_not_413(client, session, app, worker, household):
    # The parser buffered the body looking for the boundary until its memory limit: it said "too large".
    _, token = worker
    xml, files = household_visit(household.case_number)
    body, content_type = encoded(xml, files)
    assert len(body) > 500_000  # past the parser's memory limit for one part
    storage = app.extensions["storage"]
    before = set(storage.keys())
    response = client.post(f"/key/{token}/submission", data=body,
                           headers={**OPENROSA, "Content-Type": "multipart/form-data; boundary=not-the-one-used"})
    assert response.status_code == 400 and "does not match the multipart boundary" in message(response)
    assert stored_version(session, instance_id_of(xml)) is None
    assert set(storage.keys()) == before and list(storage.staging.iterdir()) == []


def test_a_body_that_is_not_multipart_is_400_in_words(client, worker, household):
    _, token = worker
    xml, _ = household_visit(household.case_number)
    response = client.post(f"/key/{token}/submission", data=xml, headers={**OPENROSA, "Content-Type": "text/xml"})
    assert response.status_code == 400 and "text/xml, not multipart/form-data" in message(response)


def test_case_outside_the_callers_areas_is_403(client, make, area, worker):
    _, token = worker
    theirs = make.household(area["other"])
    xml, files = household_visit(theirs.case_number)
    response = post(client, token, xml, files)
    assert response.status_code == 403 and "not in your areas" in message(response)


def test_a_non_image_where_a_photo_is_expected_is_refused(client, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    name = next(n for n in files if n.endswith(".jpg"))
    response = post(client, token, xml, {**files, name: b"this is not a photo"})
    assert response.status_code == 400 and name in message(response)


def test_new_applicant_visit_creates_an_applicant_case_in_the_chosen_village(client, session, make, area):
    token = make.token(make.user("caseworker", [area["village"], area["other"]]))
    xml, files = household_visit(None, visit_type="application", is_new_applicant="yes", applicant=None, **{
        "applicant/applicant_name": "赵新户", "applicant/applicant_id_number": "11010519491231002X",
        "applicant/applicant_address": "东村 9 号", "applicant/applicant_residence": "rural",
        "applicant/applicant_phone": "13800138000", "applicant/applicant_village": area["other"].code},
        investigator_opinion="approve_applicant")
    response = post(client, token, xml, files)
    assert response.status_code == 201, message(response)
    version = stored_version(session, instance_id_of(xml))
    household = session.get(Household, version.submission.household_id)
    assert household.status == "applicant" and household.village_id == area["other"].id
    assert household.head_name == "赵新户"
    assert household.latitude == pytest.approx(version.latitude)


def test_first_visit_fills_the_registered_location(client, session, make, area, worker):
    _, token = worker
    household = make.household(area["village"], latitude=None, longitude=None)
    xml, files = household_visit(household.case_number, lat=35.0401, lon=104.7222)
    assert post(client, token, xml, files).status_code == 201
    session.expire_all()
    assert (household.latitude, household.longitude) == pytest.approx((35.0401, 104.7222))
    # Later visits, elsewhere, leave the registered location as the first one set it.
    xml, files = household_visit(household.case_number, lat=35.0555, lon=104.7333)
    assert post(client, token, xml, files).status_code == 201
    session.expire_all()
    assert (household.latitude, household.longitude) == pytest.approx((35.0401, 104.7222))


@pytest.mark.parametrize("location, kept", [
    ("95.0 104.7 1800 5", None), ("35.0 190.0 1800 5", None), ("nan nan 0 5", None), ("inf -inf 0 5", None),
    ("35.0401 104.7222 1800 -3", (35.0401, 104.7222, None)), ("35.0401 104.7222 1800 nan", (35.0401, 104.7222, None)),
])
def test_a_location_that_is_no_position_is_kept_out_of_the_columns(client, session, make, area, worker, location, kept):
    # The visit is stored whole (its XML says what the phone sent) and the checks say it has no
    # location; before, a first visit's impossible position failed the households' CHECK: a 500.
    _, token = worker
    household = make.household(area["village"], latitude=None, longitude=None)
    xml, files = household_visit(household.case_number)
    xml = re.sub(rb"<location>[^<]*</location>", f"<location>{location}</location>".encode(), xml)
    assert post(client, token, xml, files).status_code == 201
    version = stored_version(session, instance_id_of(xml))
    assert location.encode() in version.xml
    if kept is None:
        assert (version.latitude, version.longitude, version.accuracy) == (None, None, None)
        assert household.latitude is None
    else:
        assert (version.latitude, version.longitude, version.accuracy) == pytest.approx(kept)
        assert (household.latitude, household.longitude) == pytest.approx(kept[:2])


@pytest.mark.parametrize("name", ["instanceID", "deprecatedID"])
def test_ids_longer_than_255_characters_are_400(client, worker, household, name):
    # They did not fit PostgreSQL's column: a 500 there, while SQLite stored them.
    _, token = worker
    xml, files = household_visit(household.case_number)
    long_id = b"uuid:" + b"a" * 251
    if name == "instanceID":
        xml = xml.replace(instance_id_of(xml).encode(), long_id)
    else:
        xml = xml.replace(b"</instanceID>", b"</instanceID><deprecatedID>" + long_id + b"</deprecatedID>")
    response = post(client, token, xml, files)
    assert response.status_code == 400 and f"meta/{name} is longer than 255" in message(response)


@pytest.mark.parametrize("answer, expected", [
    ({"applicant/applicant_residence": "city"}, "'city' is not one of urban, rural"),
    ({"applicant/applicant_name": "名" * 101}, "applicant_name is longer than 100"),
    ({"applicant/applicant_address": "址" * 256}, "applicant_address is longer than 255"),
])
def test_a_new_applicant_whose_answers_fit_no_case_is_400(client, session, app, make, area, answer, expected):
    token = make.token(make.user("caseworker", [area["village"]]))
    xml, files = household_visit(None, visit_type="application", is_new_applicant="yes", applicant=None, **{
        "applicant/applicant_name": "赵新户", "applicant/applicant_address": "东村 9 号",
        "applicant/applicant_residence": "rural", "applicant/applicant_village": area["village"].code, **answer})
    storage = app.extensions["storage"]
    before = set(storage.keys())
    response = post(client, token, xml, files)
    assert response.status_code == 400 and expected in message(response)
    assert session.scalar(select(Household).where(Household.status == "applicant")) is None
    assert set(storage.keys()) == before


def test_a_correction_may_file_the_visit_under_another_household(client, session, make, area, worker, household):
    _, token = worker
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    right = make.household(area["village"], latitude=None, longitude=None)
    edit_id = f"uuid:{uuid.uuid4()}"
    edited, _ = household_visit(right.case_number, instance_id=edit_id, deprecated_id=instance_id_of(xml), lat=35.0401,
                                lon=104.7222)
    assert post(client, token, edited, {}).status_code == 201
    session.expire_all()
    assert stored_version(session, edit_id).submission.household_id == right.id
    assert (right.latitude, right.longitude) == pytest.approx((35.0401, 104.7222))


def test_a_crash_between_file_write_and_commit_leaves_nothing(client, session, app, worker, household, monkeypatch):
    _, token = worker
    xml, files = household_visit(household.case_number)
    storage = app.extensions["storage"]
    before = set(storage.keys())

    def crash():
        raise RuntimeError("power cut")

    monkeypatch.setattr("server.openrosa.submission.commit", crash)
    response = post(client, token, xml, files)
    assert response.status_code == 500
    assert stored_version(session, instance_id_of(xml)) is None
    orphans = set(storage.keys()) - before
    assert orphans  # the files were fsynced before the (failed) commit
    ingest.sweep_orphans(session, storage, older_than_seconds=0)
    assert set(storage.keys()) & orphans == set()
    monkeypatch.undo()
    assert post(client, token, xml, files).status_code == 201  # the phone's re-send then succeeds


def new_applicant_visit(village_code: str, **kwargs):
    return household_visit(None, visit_type="application", is_new_applicant="yes", applicant=None, **{
        "applicant/applicant_name": "钱新户", "applicant/applicant_id_number": "11010519491231002X",
        "applicant/applicant_residence": "rural", "applicant/applicant_village": village_code}, **kwargs)


def test_correcting_a_new_applicants_visit_makes_no_second_case(client, session, worker, area):
    _, token = worker
    xml, files = new_applicant_visit(area["village"].code)
    assert post(client, token, xml, files).status_code == 201
    edited, _ = new_applicant_visit(area["village"].code, instance_id=f"uuid:{uuid.uuid4()}",
                                    deprecated_id=instance_id_of(xml))
    assert post(client, token, edited, {}).status_code == 201
    session.expire_all()
    applicants = session.scalars(select(Household).where(Household.head_name == "钱新户")).all()
    assert len(applicants) == 1
    assert stored_version(session, instance_id_of(edited)).submission.household_id == applicants[0].id


def test_no_file_of_a_refused_household_is_stored(client, app, make, area, worker):
    import hashlib

    _, token = worker
    theirs = make.household(area["other"])
    xml, files = household_visit(theirs.case_number, photo_seed=77)
    assert post(client, token, xml, files).status_code == 403
    storage = app.extensions["storage"]
    assert not any(storage.exists(hashlib.sha256(body).hexdigest()) for body in files.values())


def test_a_failing_check_never_costs_the_visit(client, session, worker, household, monkeypatch):
    def broken(session, version):
        raise ZeroDivisionError("a bug in a check")

    monkeypatch.setattr(checking, "compute_flags", broken)
    _, token = worker
    xml, files = household_visit(household.case_number)
    assert post(client, token, xml, files).status_code == 201
    version = stored_version(session, instance_id_of(xml))
    assert version.is_complete and [f.code for f in version.flags] == ["checks_failed"]
