"""Pictures and checks after the answer to the phone: the queue of unchecked versions and its worker."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update

from server.extensions import db
from server.models import Household, SubmissionVersion, utcnow
from server.services import checking

from .builders import household_visit
from .conftest import OPENROSA, basic_auth


@pytest.fixture
def queued(app, monkeypatch):
    """As in production: the request stores the visit and answers; a worker does the rest."""
    monkeypatch.setitem(app.config, "CHECKS_INLINE", False)


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    worker = make.user("caseworker", [village], password="pw-worker")
    make.user("supervisor", [township], username="sup-check", password="pw-sup")
    # Registered ~10 km from where the builders' visits are recorded: the distance check flags it.
    household = make.household(village, latitude=35.0, longitude=104.6)
    return {"token": make.token(worker), "household": household, "worker": basic_auth(worker.username, "pw-worker"),
            "supervisor": basic_auth("sup-check", "pw-sup")}


def post(client, token, xml, files):
    data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    data.update({name: (io.BytesIO(body), name) for name, body in files.items()})
    return client.post(f"/key/{token}/submission", data=data, headers=OPENROSA, content_type="multipart/form-data")


def as_worker(app, function, *args, **kwargs):
    """Run a service as the worker process does: in its own app context, with its own session."""
    with app.app_context():
        return function(db.session, *args, **kwargs)


def run_worker(session, app) -> int:
    storage, max_pixels = app.extensions["storage"], app.config["MAX_IMAGE_PIXELS"]
    count = 0
    while as_worker(app, checking.work_once, storage, max_pixels=max_pixels):
        count += 1
    return count


def version_of(session, xml: bytes) -> SubmissionVersion:
    session.expire_all()
    instance_id = xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    return session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))


def pictures(version):
    return [a for a in version.attachments if a.content_type.startswith("image/")]


def test_the_phone_is_answered_before_pictures_are_decoded_and_checks_run(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    assert post(client, site["token"], xml, files).status_code == 201

    version = version_of(session, xml)
    assert version.checked_at is None and version.flags == []
    # What the header said is known at once; what decoding finds is not.
    assert all(a.width and a.height and a.inspected_at is None and a.phash is None for a in pictures(version))
    [listed] = client.get(f"/api/v1/submissions?case={site['household'].case_number}", headers=site["worker"]).json
    assert listed["checks_done"] is False
    assert session.get(Household, site["household"].id).next_visit_due is None  # moved by the worker too

    assert run_worker(session, app) == 1
    version = version_of(session, xml)
    assert version.checked_at is not None and version.check_lease_until is None
    assert all(a.inspected_at and a.phash and a.thumbnail_sha256 and not a.picture_problem for a in pictures(version))
    assert any(a.exif_latitude for a in pictures(version))
    assert "far_from_home" in {f.code for f in version.flags}
    assert session.get(Household, site["household"].id).next_visit_due is not None
    assert run_worker(session, app) == 0  # nothing left waiting


def test_a_picture_that_cannot_be_decoded_is_kept_as_received_and_flagged(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    name = next(n for n in files if n.endswith(".jpg"))
    files[name] = files[name][: len(files[name]) // 2]  # a sound header, half the picture
    assert post(client, site["token"], xml, files).status_code == 201  # the rest of the visit is not stuck
    run_worker(session, app)

    version = version_of(session, xml)
    [broken] = [a for a in version.attachments if a.filename == name]
    assert broken.inspected_at and broken.picture_problem and broken.phash is None
    assert app.extensions["storage"].path_of(broken.sha256).read_bytes() == files[name]
    [flag] = [f for f in version.flags if f.code == "picture_damaged"]
    assert flag.severity == "error" and flag.figures["filename"] == name
    assert client.get(f"/api/v1/media/{broken.sha256}/thumbnail", headers=site["worker"]).status_code == 404
    assert client.get(f"/api/v1/media/{broken.sha256}/thumbnail", headers=site["worker"]).json["code"] == "no_thumbnail"
    assert client.get(f"/api/v1/media/{broken.sha256}", headers=site["worker"]).data == files[name]



def test_a_signature_with_a_bad_checksum_is_kept_and_flagged_not_refused(client, session, app, queued, site):
    # A PNG's chunk checksums were checked at receipt: one damaged signature was a 400 for the whole
    # visit, and sending again sends the same bytes, so the visit stayed on the phone for good.
    xml, files = household_visit(site["household"].case_number)
    name = next(n for n in files if n.endswith(".png"))
    damaged = bytearray(files[name])
    damaged[damaged.index(b"IDAT") + 40] ^= 0xFF
    files[name] = bytes(damaged)
    assert post(client, site["token"], xml, files).status_code == 201
    run_worker(session, app)
    version = version_of(session, xml)
    [flag] = [f for f in version.flags if f.code == "picture_damaged"]
    assert flag.figures["filename"] == name and "checksums" in flag.message

def test_a_resend_that_completes_the_files_is_decoded_and_checked_again(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    late = next(n for n in files if n.endswith(".jpg"))
    assert post(client, site["token"], xml, {n: b for n, b in files.items() if n != late}).status_code == 201
    run_worker(session, app)
    assert version_of(session, xml).checked_at is not None

    assert post(client, site["token"], xml, files).status_code == 201
    version = version_of(session, xml)
    assert version.is_complete and version.checked_at is None  # back in the queue
    run_worker(session, app)
    version = version_of(session, xml)
    [arrived] = [a for a in version.attachments if a.filename == late]
    assert version.checked_at is not None and arrived.phash and arrived.thumbnail_sha256


def test_a_visit_is_approved_only_once_its_checks_have_run(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    post(client, site["token"], xml, files)
    [listed] = client.get(f"/api/v1/submissions?case={site['household'].case_number}", headers=site["supervisor"]).json
    decision = {"decision": "approve", "version": listed["version"]}
    url = f"/api/v1/submissions/{listed['id']}/review"
    refused = client.post(url, json=decision, headers=site["supervisor"])
    assert refused.status_code == 409 and "checks" in refused.json["message"]
    assert refused.json["code"] == "checks_pending"
    # Returning it does not need the checks: the supervisor saw enough.
    run_worker(session, app)
    assert client.post(url, json=decision, headers=site["supervisor"]).status_code == 200


def test_a_thumbnail_is_made_on_demand_before_the_worker_and_after_it_is_lost(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    post(client, site["token"], xml, files)
    photo = next(a for a in pictures(version_of(session, xml)) if a.filename.endswith(".jpg"))
    url = f"/api/v1/media/{photo.sha256}/thumbnail"

    early = client.get(url, headers=site["worker"])
    assert early.status_code == 200 and max(Image.open(io.BytesIO(early.data)).size) == 320

    run_worker(session, app)
    photo = next(a for a in pictures(version_of(session, xml)) if a.filename == photo.filename)
    storage = app.extensions["storage"]
    storage.delete(photo.thumbnail_sha256)  # thumbnails are not fsynced: a crash may lose one
    again = client.get(url, headers=site["worker"])
    assert again.status_code == 200 and again.data == early.data
    assert storage.exists(photo.thumbnail_sha256)  # the same bytes, stored again


def test_workers_hold_a_version_until_their_lease_runs_out(client, session, app, queued, site):
    sent = []
    for _ in range(2):
        xml, files = household_visit(site["household"].case_number, instance_id=f"uuid:{uuid.uuid4()}")
        post(client, site["token"], xml, files)
        sent.append(version_of(session, xml).id)

    assert as_worker(app, checking.claim) == sent[0]
    assert as_worker(app, checking.claim) == sent[1]  # the first is held by its worker
    assert as_worker(app, checking.claim) is None
    # The first worker died: once its lease runs out, another takes the version over.
    session.execute(update(SubmissionVersion).where(SubmissionVersion.id == sent[0])
                    .values(check_lease_until=utcnow() - timedelta(seconds=1)))
    assert as_worker(app, checking.claim) == sent[0]
    assert session.get(SubmissionVersion, sent[0]).check_attempts == 2
    assert checking.pending(session)[0] == 2


def test_a_worker_leaves_the_machine_to_uploads_while_they_arrive_but_not_past_the_longest_wait(
        client, session, app, queued, site):
    def sending() -> bool:
        return as_worker(app, checking.phones_sending, pause=timedelta(seconds=5), longest=timedelta(seconds=30))

    def received_ago(xml: bytes, seconds: int) -> None:
        session.execute(update(SubmissionVersion).where(SubmissionVersion.id == version_of(session, xml).id)
                        .values(received_at=utcnow() - timedelta(seconds=seconds)))

    assert not sending()  # nothing waits
    first, files = household_visit(site["household"].case_number, instance_id=f"uuid:{uuid.uuid4()}")
    post(client, site["token"], first, files)
    assert sending()  # it came in a moment ago: more may be on their way

    received_ago(first, 6)
    assert not sending()  # a pause: the worker goes on

    second, files = household_visit(site["household"].case_number, instance_id=f"uuid:{uuid.uuid4()}")
    post(client, site["token"], second, files)
    assert sending()
    received_ago(first, 31)
    assert not sending()  # uploads still arrive, but the first has waited long enough

    assert run_worker(session, app) == 2
    assert not sending()


def test_a_version_that_keeps_failing_is_closed_with_a_flag_after_the_last_attempt(client, session, app, queued, site,
                                                                                    monkeypatch):
    xml, files = household_visit(site["household"].case_number)
    post(client, site["token"], xml, files)

    def disk_error(*args, **kwargs):
        raise OSError("input/output error")

    monkeypatch.setattr(checking.media, "inspect_image", disk_error)
    for attempt in range(1, checking.MAX_ATTEMPTS + 1):
        assert as_worker(app, checking.work_once, app.extensions["storage"], max_pixels=10**8)
        version = version_of(session, xml)
        assert version.check_attempts == attempt
        assert (version.checked_at is None) == (attempt < checking.MAX_ATTEMPTS)
        session.execute(update(SubmissionVersion).where(SubmissionVersion.id == version.id)
                        .values(check_lease_until=utcnow() - timedelta(seconds=1)))  # time passes
    version = version_of(session, xml)
    assert [f.code for f in version.flags] == ["checks_failed"]
    assert all(app.extensions["storage"].exists(a.sha256) for a in version.attachments)  # the evidence stays


def test_the_cli_reports_the_queue_and_works_through_it(client, session, app, queued, site):
    xml, files = household_visit(site["household"].case_number)
    post(client, site["token"], xml, files)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["checks", "status"]).output.startswith("1 waiting, the oldest received ")
    result = runner.invoke(args=["checks", "work", "--once", "--nice", "0"])
    assert result.exit_code == 0 and "checked 1 submission version(s)" in result.output
    assert runner.invoke(args=["checks", "status"]).output.strip() == "0 waiting"
    assert version_of(session, xml).checked_at is not None
