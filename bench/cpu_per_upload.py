"""Benchmark: CPU time per upload in one process, ours against the floor, with no HTTP server.

bench/ingest.py measures throughput over HTTP; on a 2-core machine whose speed drifts within
minutes, and with the load generator on the same cores, its share of the floor moves by a tenth
between runs. This one calls both WSGI apps directly in this process, one upload at a time, with the
same pre-encoded bodies ((a) XML and one photo, (b) a full visit), and prints the CPU time and wall time
each takes per upload: the figures docs/performance.md works from. Ours answers without its checks,
as in production (the check workers decode the pictures after the answer). Creating a file costs
more on a filesystem where many were just deleted (a test run, say), so ours, which creates more,
reads higher then; compare figures taken in one run.

    .venv/bin/python bench/cpu_per_upload.py [--count 300] [--rounds 5]
    BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/cpu_per_upload.py
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from urllib3.filepost import encode_multipart_formdata
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import floor_app  # noqa: E402
from bench.common import empty_database  # noqa: E402
from server import create_app  # noqa: E402
from server.cli import upgrade_database  # noqa: E402
from server.models import Household, Member  # noqa: E402
from server.services import forms  # noqa: E402
from server.services.areas import create_area  # noqa: E402
from server.services.users import create_user, issue_phone_token  # noqa: E402
from tests.builders import household_visit, instance_xml, jpeg_with_exif  # noqa: E402

# Visits go to a village's households in turn, as a day's uploads do: the receipt's work that grows
# with a household's own history (its due date reads all its visits) stays at a real size.
HOUSEHOLDS = 200
CASES = [f"623001100001{n:03d}" for n in range(1, HOUSEHOLDS + 1)]


def prepare(url: str) -> str:
    upgrade_database(url)
    engine = create_engine(url)
    with Session(engine) as session:
        forms.publish_directory(session, ROOT / "forms", validate=False)
        create_area(session, code="623001", name="基准县", level="county")
        create_area(session, code="623001100", name="基准镇", level="township", parent_code="623001")
        village = create_area(session, code="623001100001", name="基准村", level="village", parent_code="623001100")
        user = create_user(session, username="bench", password="bench-pass", role="caseworker", area_codes=[village.code])
        session.add_all(Household(case_number=case, village_id=village.id, head_name="王五", residence="rural",
                                  status="active", latitude=35.0312, longitude=104.7104,
                                  members=[Member(name="王五", relation="head", sex="male")]) for case in CASES)
        token = issue_phone_token(session, user)
        session.commit()
    engine.dispose()
    return token


def _unique(body: bytes) -> bytes:
    # Bytes after a JPEG's or PNG's end marker are ignored by decoders: each file is new content.
    return body + secrets.token_bytes(16)


def workload_a(count: int):
    photo = jpeg_with_exif(None, seed=3, lat=35.0312, lon=104.7104, quality=88)
    template_id = f"uuid:{uuid.uuid4()}"
    xml = instance_xml("relative_registration", {"case_id": CASES[0], "member_name": "王五", "official_name": "王大",
                                                  "official_type": "village_cadre", "relationship": "sibling",
                                                  "paper_photo": "paper.jpg"}, instance_id=template_id)
    for n in range(count):
        yield _for_case(xml, template_id, n), {"paper.jpg": _unique(photo)}


def workload_b(count: int):
    template_id = f"uuid:{uuid.uuid4()}"
    xml, files = household_visit(CASES[0], instance_id=template_id)
    for n in range(count):
        yield (_for_case(xml, template_id, n),
               {name: _unique(body) if not name.endswith(".csv") else body for name, body in files.items()})


def _for_case(xml: bytes, template_id: str, n: int) -> bytes:
    xml = xml.replace(template_id.encode(), f"uuid:{uuid.uuid4()}".encode())
    return xml.replace(f"<case_id>{CASES[0]}</case_id>".encode(), f"<case_id>{CASES[n % HOUSEHOLDS]}</case_id>".encode())


WORKLOADS = {"(a) XML + one 200 KB JPEG": workload_a, "(b) full visit, 5 photos + 3 signatures": workload_b}


def environs(path: str, make, count: int) -> list[dict]:
    """WSGI environs of `count` uploads, built before the clock starts."""
    built = []
    for xml, files in make(count):
        fields = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
        body, content_type = encode_multipart_formdata(fields)
        built.append(EnvironBuilder(path=path, method="POST", data=body, headers={
            "Content-Type": content_type, "X-OpenRosa-Version": "1.0"}).get_environ())
    return built


def per_upload(app, batch: list[dict]) -> tuple[float, float]:
    """Milliseconds of CPU and of wall time per upload through `app` (each must answer 201)."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    cpu, wall = time.process_time(), time.perf_counter()
    for environ in batch:
        for _ in app(environ, start_response):
            pass
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert all(status.startswith("201") for status in statuses), statuses[:3]
    return 1000 * cpu / len(batch), 1000 * wall / len(batch)


def bench_database(name: str, url: str | None, folder: str, args) -> None:
    url = url or f"sqlite:///{folder}/bench.sqlite3"
    empty_database(url)
    token = prepare(url)
    ours = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_DIR": folder, "DEVELOPMENT": True,
                       "MEDIA_DIR": f"{folder}/media", "CHECKS_INLINE": False})
    logging.getLogger().setLevel(logging.WARNING)  # create_app logs at INFO; the figures are the output
    floor_app.FOLDER = tempfile.mkdtemp(dir=folder)
    submission = f"/key/{token}/submission"
    print(f"\n{name}: CPU / wall per upload, one at a time, median of {args.rounds} rounds")
    for label, make in WORKLOADS.items():
        count = args.count if make is workload_a else max(1, args.count // 4)
        per_upload(ours, environs(submission, make, 20))  # warm: forms parsed, pool open
        floor, mine = [], []
        for _ in range(args.rounds):
            floor.append(per_upload(floor_app.app, environs("/", make, count)))
            mine.append(per_upload(ours, environs(submission, make, count)))
        floor_cpu, ours_cpu = (statistics.median(cpu for cpu, _ in runs) for runs in (floor, mine))
        floor_wall, ours_wall = (statistics.median(wall for _, wall in runs) for runs in (floor, mine))
        print(f"  {label:<42} {count} a round: floor {floor_cpu:5.2f} ms CPU ({floor_wall:5.2f} wall)   ours {ours_cpu:5.2f} ms CPU"
              f" ({ours_wall:5.2f} wall)   floor / ours: {100 * floor_cpu / ours_cpu:4.1f} % of the CPU", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="(a) uploads per round; (b) gets a quarter")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    databases = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        databases.append(("PostgreSQL", os.environ["BENCH_DATABASE_URL"]))
    for name, url in databases:
        with tempfile.TemporaryDirectory() as folder:
            bench_database(name, url, folder, args)


if __name__ == "__main__":
    main()
