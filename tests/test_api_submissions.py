"""The JSON API for submissions and their files: a real visit sent through the phone protocol, read
back within the caller's reach (ID numbers masked, files byte for byte, thumbnails, history, flags)."""
from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from server.models import Flag, Submission, SubmissionVersion

from .builders import SHANGHAI, household_visit, id_number, instance_xml, jpeg_with_exif
from .conftest import OPENROSA, basic_auth

# A fixed visit time: the phone names photos and signatures by its clock, so an edit built from the
# same time names the same files (and the server carries them over, as Collect expects).
WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI)


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    east, west = make.village(township, "001", "东村"), make.village(township, "002", "西村")
    other_township = make.township(county, "200", "别镇")
    far = make.village(other_township, "001", "远村")
    worker = make.user("caseworker", [east], password="pw-east")
    return {
        "east": east,
        "west": west,
        "worker": worker,
        "token": make.token(worker),
        "auth": basic_auth(worker.username, "pw-east"),
        "neighbour": basic_auth(make.user("caseworker", [west], password="pw-west").username, "pw-west"),
        "supervisor": basic_auth(make.user("supervisor", [township], password="pw-sup").username, "pw-sup"),
        "far_supervisor": basic_auth(make.user("supervisor", [other_township], password="pw-far").username, "pw-far"),
        "far_village": far,
        # Registered where the builders' visits are recorded, so no distance flag.
        "household": make.household(east, latitude=35.0312, longitude=104.7104),
    }


def post(client, token, xml: bytes, files: dict[str, bytes]):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, body in files.items():
        data[name] = (io.BytesIO(body), name)
    response = client.post(f"/key/{token}/submission", data=data, headers=OPENROSA, content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    return response


def visit(client, site, **kwargs):
    """Send a household visit from the east caseworker's phone; return (xml, files, submission id)."""
    kwargs.setdefault("when", WHEN)
    xml, files = household_visit(site["household"].case_number, instance_id=kwargs.pop("instance_id", None)
                                 or f"uuid:{uuid.uuid4()}", **kwargs)
    post(client, site["token"], xml, files)
    listed = client.get(f"/api/v1/submissions?case={site['household'].case_number}", headers=site["auth"]).json
    return xml, files, listed[0]["id"]


def test_a_visit_reads_back_with_masked_answers_files_and_thumbnails(client, site):
    xml, files, submission_id = visit(client, site)
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=site["auth"])
    assert response.status_code == 200, response.json
    body = response.json
    assert body["form_id"] == "household_visit" and body["case_number"] == site["household"].case_number
    assert body["submitted_by"] == site["worker"].username and body["is_complete"] and body["missing_files"] == []
    assert body["instance_id"] == body["current_instance_id"]

    # The answers as nested objects, repeats as lists, with every ID number masked.
    answers = body["answers"]
    assert answers["case_id"] == site["household"].case_number and answers["outcome"] == "done"
    assert [m["member_name"] for m in answers["members"]] == ["张建国", "李秀英"]
    for member, (birth, male, sequence) in zip(answers["members"], [(date(1968, 3, 15), True, 1),
                                                                     (date(1970, 7, 2), False, 2)]):
        full = id_number(birth, male, sequence)
        assert member["id_number"] == full[:6] + "********" + full[-4:]
        assert full not in response.text

    assert body["geopoint"] == {"latitude": pytest.approx(35.0312), "longitude": pytest.approx(104.7104),
                                "accuracy": pytest.approx(5.0)}
    started, ended = (datetime.fromisoformat(body[k]) for k in ("started_at", "ended_at"))
    assert started == WHEN - timedelta(minutes=12) and ended == WHEN + timedelta(minutes=13)
    assert [v["instance_id"] for v in body["versions"]] == [body["instance_id"]]

    # Every attachment downloads byte for byte; photos and signatures have a JPEG thumbnail.
    by_name = {a["filename"]: a for a in body["attachments"]}
    assert set(by_name) == set(files)
    for name, data in files.items():
        attachment = by_name[name]
        assert attachment["received"] and attachment["size"] == len(data)
        assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
        download = client.get(attachment["url"], headers=site["auth"])
        assert download.status_code == 200 and download.data == data
        assert download.headers["Content-Type"].startswith(attachment["content_type"])
        assert download.headers["ETag"] == f'"{attachment["sha256"]}"'
        assert "private" in download.headers["Cache-Control"]
    photo = next(a for a in body["attachments"] if a["field"] == "sights/sight_head_photo")
    assert photo["content_type"] == "image/jpeg" and (photo["width"], photo["height"]) == (1600, 1200)
    assert photo["exif_latitude"] == pytest.approx(35.0312, abs=0.001)
    assert photo["exif_longitude"] == pytest.approx(104.7104, abs=0.001)
    assert started <= datetime.fromisoformat(photo["taken_at"]) <= ended
    assert photo["camera"] and "Redmi" in photo["camera"]
    thumbnail = client.get(photo["thumbnail_url"], headers=site["auth"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(thumbnail.data))
    assert image.format == "JPEG" and max(image.size) <= 320
    audit = by_name["audit.csv"]
    assert audit["thumbnail_url"] is None
    assert client.get(f"/api/v1/media/{audit['sha256']}/thumbnail", headers=site["auth"]).status_code == 404

    # Conditional requests: the ETag is the SHA-256, so an unchanged file is a 304 without a body.
    again = client.get(photo["url"], headers={**site["auth"], "If-None-Match": f'"{photo["sha256"]}"'})
    assert again.status_code == 304 and again.data == b""
    part = client.get(photo["url"], headers={**site["auth"], "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == files[photo["filename"]][:100]


def test_a_file_missing_from_storage_is_said_to_be_missing(client, app, site, monkeypatch):
    _, _, submission_id = visit(client, site)
    photo = next(a for a in client.get(f"/api/v1/submissions/{submission_id}", headers=site["auth"]).json["attachments"]
                 if a["field"] == "sights/sight_head_photo")

    def lost(sha256):
        raise FileNotFoundError(sha256)

    monkeypatch.setattr(app.extensions["storage"], "open", lost)
    response = client.get(photo["url"], headers=site["auth"])
    assert response.status_code == 404 and response.json["code"] == "file_missing"
    assert "tell the administrator" in response.json["message"]


def test_the_case_lists_its_submissions_newest_first(client, site):
    _, _, first = visit(client, site, photo_seed=1)
    _, _, second = visit(client, site, with_photos=False, when=WHEN + timedelta(days=30))
    case = client.get(f"/api/v1/cases/{site['household'].case_number}", headers=site["auth"]).json
    assert [s["id"] for s in case["submissions"]] == [second, first]
    summary = case["submissions"][1]
    assert summary["form_id"] == "household_visit" and summary["is_complete"]
    assert summary["flag_count"] == len(client.get(f"/api/v1/submissions/{first}", headers=site["auth"]).json["flags"])
    assert summary["submitted_by"] == site["worker"].username and summary["instance_id"].startswith("uuid:")
    assert summary["received_at"] and summary["last_received_at"]
    assert case["members"]  # the household itself is unchanged


def test_an_edit_shows_two_versions_and_the_current_answers(client, site):
    first_xml, files, submission_id = visit(client, site, instance_id="uuid:11111111-1111-4111-8111-111111111111")
    edit_id = "uuid:22222222-2222-4222-8222-222222222222"
    edited, _ = household_visit(site["household"].case_number, instance_id=edit_id, when=WHEN,
                                deprecated_id="uuid:11111111-1111-4111-8111-111111111111",
                                living_conditions="砖混结构平房两间，已翻新")
    post(client, site["token"], edited, {})  # Collect re-sends only what changed: nothing
    body = client.get(f"/api/v1/submissions/{submission_id}", headers=site["auth"]).json
    assert [(v["instance_id"], v["deprecated_id"], v["is_current"]) for v in body["versions"]] == [
        ("uuid:11111111-1111-4111-8111-111111111111", None, False),
        (edit_id, "uuid:11111111-1111-4111-8111-111111111111", True),
    ]
    assert all(v["submitted_by"] == site["worker"].username and v["received_at"] for v in body["versions"])
    assert body["instance_id"] == "uuid:11111111-1111-4111-8111-111111111111"
    assert body["current_instance_id"] == edit_id
    assert body["answers"]["property"]["living_conditions"] == "砖混结构平房两间，已翻新"
    # Files carried over from the first version still download.
    photo = next(a for a in body["attachments"] if a["field"] == "sights/sight_head_photo")
    assert client.get(photo["url"], headers=site["auth"]).data == files[photo["filename"]]
    listed = client.get("/api/v1/submissions", headers=site["auth"]).json
    assert [s["id"] for s in listed] == [submission_id]  # one submission, not one per version


def test_other_villages_get_404_and_the_township_supervisor_sees_it(client, site):
    _, files, submission_id = visit(client, site)
    body = client.get(f"/api/v1/submissions/{submission_id}", headers=site["auth"]).json
    photo = next(a for a in body["attachments"] if a["field"] == "sights/sight_head_photo")
    case_url = f"/api/v1/cases/{site['household'].case_number}"
    urls = [f"/api/v1/submissions/{submission_id}", case_url, photo["url"], photo["thumbnail_url"]]

    for outsider in ("neighbour", "far_supervisor"):
        for url in urls:
            response = client.get(url, headers=site[outsider])
            assert response.status_code == 404, (outsider, url)
            assert photo["filename"] not in response.text
            if url != case_url:  # (the case's own 404 repeats the number the caller asked for, no more)
                assert site["household"].case_number not in response.text
        assert client.get("/api/v1/submissions", headers=site[outsider]).json == []
        assert client.get(f"/api/v1/submissions?case={site['household'].case_number}", headers=site[outsider]).json == []
    # The same answer as for something that does not exist at all.
    hidden = client.get(f"/api/v1/submissions/{submission_id}", headers=site["neighbour"]).json
    missing = client.get("/api/v1/submissions/999999999", headers=site["neighbour"]).json
    assert hidden["message"].replace(str(submission_id), "N") == missing["message"].replace("999999999", "N")
    assert client.get(f"/api/v1/media/{'0' * 64}", headers=site["neighbour"]).json == \
        client.get(photo["url"], headers=site["neighbour"]).json

    for url in urls:
        assert client.get(url, headers=site["supervisor"]).status_code == 200, url
    assert client.get(photo["url"], headers=site["supervisor"]).data == files[photo["filename"]]
    assert [s["id"] for s in client.get("/api/v1/submissions", headers=site["supervisor"]).json] == [submission_id]
    # Without credentials nothing at all.
    assert client.get(photo["url"]).status_code == 401


def test_an_incomplete_submission_lists_its_missing_files(client, site):
    xml, files = household_visit(site["household"].case_number, when=WHEN)
    sent = {name: data for name, data in files.items() if not name.endswith(".jpg")}
    post(client, site["token"], xml, sent)
    [summary] = client.get("/api/v1/submissions", headers=site["auth"]).json
    assert summary["is_complete"] is False
    body = client.get(f"/api/v1/submissions/{summary['id']}", headers=site["auth"]).json
    photos = {name for name in files if name.endswith(".jpg")}
    assert len(photos) == 5 and set(body["missing_files"]) == photos
    for attachment in body["attachments"]:
        if attachment["filename"] in photos:
            assert attachment["received"] is False and attachment["url"] is None and attachment["sha256"] is None
        else:
            assert attachment["received"] and client.get(attachment["url"], headers=site["auth"]).status_code == 200

    post(client, site["token"], xml, files)  # the phone's re-send completes it
    body = client.get(f"/api/v1/submissions/{summary['id']}", headers=site["auth"]).json
    assert body["is_complete"] and body["missing_files"] == []


def test_pagination_and_filters(client, session, site, make):
    ids = [visit(client, site, with_photos=False, when=WHEN + timedelta(days=day))[2] for day in range(3)]
    other = make.household(site["east"])
    xml, files = household_visit(other.case_number, with_photos=False, when=WHEN)
    post(client, site["token"], xml, files)

    first = client.get("/api/v1/submissions?page_size=2", headers=site["auth"])
    assert first.status_code == 200 and len(first.json) == 2
    assert '"total": 4' in first.headers["X-Pagination"] and '"total_pages": 2' in first.headers["X-Pagination"]
    second = client.get("/api/v1/submissions?page_size=2&page=2", headers=site["auth"]).json
    everything = [s["id"] for s in first.json + second]
    assert len(set(everything)) == 4 and everything == sorted(everything, reverse=True)  # newest first

    of_case = client.get(f"/api/v1/submissions?case={site['household'].case_number}", headers=site["auth"]).json
    assert [s["id"] for s in of_case] == ids[::-1]
    assert client.get("/api/v1/submissions?form=household_visit", headers=site["auth"]).json
    assert client.get("/api/v1/submissions?form=spot_check", headers=site["auth"]).json == []
    assert client.get("/api/v1/submissions?case=no-such-case", headers=site["auth"]).json == []

    # Flags are written by the checks at receipt; here one is added by hand to test the filter.
    version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.submission_id == ids[0],
                                                             SubmissionVersion.is_current))
    session.add(Flag(version_id=version.id, code="visit_far_from_case", severity="warning",
                     message="The visit was recorded 1.2 km from the household's registered location.",
                     figures={"distance_m": 1200, "threshold_m": 300}))
    session.flush()
    flagged = client.get("/api/v1/submissions?flagged=true&page_size=100", headers=site["auth"]).json
    unflagged = client.get("/api/v1/submissions?flagged=false&page_size=100", headers=site["auth"]).json
    assert ids[0] in [s["id"] for s in flagged] and all(s["flag_count"] > 0 for s in flagged)
    assert all(s["flag_count"] == 0 for s in unflagged)
    assert sorted(s["id"] for s in flagged + unflagged) == sorted(ids + [s["id"] for s in second if s["id"] not in ids]
                                                                 + [s["id"] for s in first.json if s["id"] not in ids])
    [flag] = [f for f in client.get(f"/api/v1/submissions/{ids[0]}", headers=site["auth"]).json["flags"]
              if f["code"] == "visit_far_from_case"]
    assert flag["code"] == "visit_far_from_case" and flag["figures"] == {"distance_m": 1200, "threshold_m": 300}
    assert flag["severity"] == "warning" and "1.2 km" in flag["message"]

    assert client.get("/api/v1/submissions?page_size=1000", headers=site["auth"]).status_code == 422
    assert client.get("/api/v1/submissions?flagged=maybe", headers=site["auth"]).status_code == 422


def test_a_village_record_is_filed_under_the_village_it_names(client, session, app, make, site):
    """Publicity and appraisal records are about a village, not a household: they are seen where
    that village is, whoever sent them, and a caller may only send them for villages of their own."""
    photo = jpeg_with_exif(lat=35.03, lon=104.71, taken_at=WHEN, seed=7, width=640, height=480)

    def publicity(village_code):
        return instance_xml("publicity_record", {
            "start": WHEN.isoformat(), "end": (WHEN + timedelta(minutes=3)).isoformat(), "village": village_code,
            "notice_type": "review_result", "start_date": "2026-11-20", "end_date": "2026-11-27",
            "place": "村务公开栏", "objections_received": "0", "objection_details": None, "notice_photo": "notice.jpg",
        }, instance_id=f"uuid:{uuid.uuid4()}")

    post(client, site["token"], publicity(site["east"].code), {"notice.jpg": photo})
    [summary] = client.get("/api/v1/submissions", headers=site["auth"]).json
    assert summary["form_id"] == "publicity_record" and summary["case_number"] is None
    detail = client.get(f"/api/v1/submissions/{summary['id']}", headers=site["supervisor"])
    assert detail.status_code == 200 and detail.json["answers"]["place"] == "村务公开栏"
    assert client.get(detail.json["attachments"][0]["url"], headers=site["supervisor"]).data == photo
    for outsider in ("neighbour", "far_supervisor"):
        assert client.get(f"/api/v1/submissions/{summary['id']}", headers=site[outsider]).status_code == 404
        assert client.get(detail.json["attachments"][0]["url"], headers=site[outsider]).status_code == 404

    # Sent by someone answering for the east village and a village of another township: it is
    # still the east village's record, seen by the east caseworker and the township supervisor.
    two_villages = make.user("caseworker", [site["east"], site["far_village"]], password="pw-two")
    two_token = make.token(two_villages)
    post(client, two_token, publicity(site["east"].code), {"notice.jpg": photo})
    theirs = {s["id"] for s in client.get("/api/v1/submissions", headers=basic_auth(two_villages.username, "pw-two")).json}
    [their_record] = theirs - {summary["id"]}
    for caller, status in (("auth", 200), ("supervisor", 200), ("far_supervisor", 404), ("neighbour", 404)):
        assert client.get(f"/api/v1/submissions/{their_record}", headers=site[caller]).status_code == status, caller
    assert session.get(Submission, their_record).village_id == site["east"].id

    # A village outside the sender's areas is refused, and nothing of it is stored.
    refused = client.post(f"/key/{site['token']}/submission", data={
        "xml_submission_file": (io.BytesIO(publicity(site["west"].code)), "submission.xml", "text/xml"),
        "notice.jpg": (io.BytesIO(photo + b"x"), "notice.jpg")}, headers=OPENROSA, content_type="multipart/form-data")
    assert refused.status_code == 403 and b"not in your areas" in refused.data
    assert len(client.get("/api/v1/submissions", headers=site["supervisor"]).json) == 2
    assert not app.extensions["storage"].exists(hashlib.sha256(photo + b"x").hexdigest())


def test_the_same_photo_in_two_households_is_served_to_whoever_sees_either(client, make, site):
    """Files are stored once by content: access follows any submission the caller may see."""
    west_worker = make.user("caseworker", [site["west"]], password="pw-w2")
    west_token = make.token(west_worker)
    theirs = make.household(site["west"])
    xml, files, _ = visit(client, site)
    photo_name = next(n for n in files if n.endswith(".jpg"))
    photo_sha = hashlib.sha256(files[photo_name]).hexdigest()
    assert client.get(f"/api/v1/media/{photo_sha}", headers=site["neighbour"]).status_code == 404
    reused, reused_files = household_visit(theirs.case_number, when=WHEN)
    assert files[photo_name] in reused_files.values()
    post(client, west_token, reused, reused_files)
    assert client.get(f"/api/v1/media/{photo_sha}", headers=site["neighbour"]).status_code == 200


def test_openapi_documents_the_new_paths(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/submissions", "/api/v1/submissions/{submission_id}", "/api/v1/media/{sha256}",
                 "/api/v1/media/{sha256}/thumbnail", "/api/v1/cases/{case_number}"):
        assert path in spec["paths"], path
    listing = spec["paths"]["/api/v1/submissions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"case", "form", "flagged", "page", "page_size"}
    assert "404" in spec["paths"]["/api/v1/media/{sha256}"]["get"]["responses"]
    schemas = spec["components"]["schemas"]
    assert {"answers", "attachments", "flags", "versions", "geopoint"} <= set(schemas["Submission"]["properties"])
    assert "submissions" in schemas["Case"]["properties"]


def test_phone_numbers_in_answers_are_masked(client, site):
    xml, files = household_visit(None, when=WHEN, visit_type="application", is_new_applicant="yes", applicant=None, **{
        "applicant/applicant_name": "赵新户", "applicant/applicant_id_number": "11010519491231002X",
        "applicant/applicant_residence": "rural", "applicant/applicant_phone": "13800138000",
        "applicant/applicant_village": site["east"].code}, investigator_opinion="approve_applicant")
    post(client, site["token"], xml, files)
    [row] = client.get("/api/v1/submissions?form=household_visit", headers=site["auth"]).json
    body = client.get(f"/api/v1/submissions/{row['id']}", headers=site["auth"])
    applicant = body.json["answers"]["applicant"]
    assert applicant["applicant_phone"] == "138****8000"
    assert applicant["applicant_id_number"] == "110105********002X"
    assert "13800138000" not in body.text
