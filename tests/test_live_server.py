"""Against a real server process (gunicorn, several workers): concurrent identical submissions."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from server.models import Attachment, Submission, SubmissionVersion

from .builders import household_visit, jpeg_with_exif
from .live import ONE_CASE, gunicorn, own_database, seed_one_household


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("live")
    url, drop = own_database(tmp_path)
    engine = create_engine(url)
    with Session(engine) as session:
        token = seed_one_household(session)
    env = {"DATABASE_URL": url, "SECRET_KEY": "live", "DEVELOPMENT": "1",
           "INSTANCE_DIR": str(tmp_path), "MEDIA_DIR": str(tmp_path / "media")}
    try:
        with gunicorn(tmp_path, env, "--workers", "4") as base:
            yield {"base": f"{base}/key/{token}", "engine": engine, "case": ONE_CASE}
    finally:
        engine.dispose()
        drop()


def test_eight_identical_submissions_at_once_leave_exactly_one(live):
    xml, files = household_visit(live["case"])
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [
        (name, (name, body)) for name, body in files.items()
    ]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def send():
        barrier.wait()
        response = requests.post(f"{live['base']}/submission", files=parts,
                                 headers={"X-OpenRosa-Version": "1.0"}, timeout=60)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [202] * 7, statuses
    with Session(live["engine"]) as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
        [version] = session.scalars(select(SubmissionVersion)).all()
        assert version.is_complete
        assert session.scalar(select(func.count()).select_from(Attachment)) == len(files)


def test_phones_racing_to_complete_a_missing_photo_with_different_bytes_one_is_told_received(live):
    """A visit arrives without one photo; then eight phones send that photo at once, each with other
    bytes. One is told "received" and its bytes are the ones kept; the others hear 409. Unguarded,
    PostgreSQL told two of them "received" and kept one (7 trials in 40)."""
    import hashlib

    for trial in range(5):
        xml, files = household_visit(live["case"], instance_id=f"uuid:{uuid.uuid4()}")
        photo = next(name for name in files if name.endswith(".jpg"))
        parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
        first = requests.post(f"{live['base']}/submission", headers={"X-OpenRosa-Version": "1.0"}, timeout=60,
                              files=parts + [(n, (n, b)) for n, b in files.items() if n != photo])
        assert first.status_code == 201 and photo in first.text
        candidates = [jpeg_with_exif(width=320, height=240, seed=100 * trial + n) for n in range(8)]
        barrier = threading.Barrier(len(candidates))
        answers: list[tuple[int, str]] = []

        def send(body: bytes):
            barrier.wait()
            response = requests.post(f"{live['base']}/submission", files=parts + [(photo, (photo, body))],
                                     headers={"X-OpenRosa-Version": "1.0"}, timeout=60)
            answers.append((response.status_code, hashlib.sha256(body).hexdigest()))

        threads = [threading.Thread(target=send, args=(body,)) for body in candidates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(status for status, _ in answers) == [201] + [409] * 7, answers
        [winner] = [sha256 for status, sha256 in answers if status == 201]
        instance_id = xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
        with Session(live["engine"]) as session:
            version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
            kept = {a.filename: a.sha256 for a in version.attachments}
            assert kept[photo] == winner and version.is_complete


def test_the_server_starts_a_check_worker_that_decodes_pictures_and_runs_checks(live):
    """gunicorn.conf.py starts `flask checks work` beside the server: the phone's answer comes first,
    the pictures' facts and the flags follow within seconds."""
    xml, files = household_visit(live["case"], instance_id=f"uuid:{uuid.uuid4()}")
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
    response = requests.post(f"{live['base']}/submission", files=parts, headers={"X-OpenRosa-Version": "1.0"}, timeout=60)
    assert response.status_code == 201
    instance_id = xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
    for _ in range(300):
        with Session(live["engine"]) as session:
            version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
            if version.checked_at is not None:
                pictures = [a for a in version.attachments if a.content_type.startswith("image/")]
                assert pictures and all(a.phash and a.thumbnail_sha256 for a in pictures)
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the check worker did not check the visit within 30 s")
