"""Benchmark: submissions per second into a real server, against a bare streaming floor.

For each database (SQLite in a temporary folder; PostgreSQL too when BENCH_DATABASE_URL is set),
gunicorn serves the app; clients post (a) XML plus one ~200 KB JPEG and (b) a full household visit
(five ~250 KB photos, three signature PNGs, audit.csv), sequentially and with 8 concurrent
clients. Every submission is unique (its own instanceID and photo bytes), so nothing is skipped as
a duplicate. The same payloads go to bench/floor_app.py, in turn with ours: each figure is the median
of --rounds runs, and the share of the floor is the median of each run's ratio to the floor run just
before it, so the machine's drifting speed falls on both alike. Prints submissions/s, p50/p95
latency, the largest worker RSS, and our throughput as a percentage of the floor. The check worker
that gunicorn.conf.py starts decodes pictures and runs the checks after each answer, on the same
2 cores at a lower priority; after each run the bench waits for it to catch up and prints how long
that took, and the rate of the whole job (answers and checks) end to end.

    .venv/bin/python bench/ingest.py [--count-a 400] [--count-b 120] [--rounds 5] [--workers 4]
    CHECK_WORKERS=0 .venv/bin/python bench/ingest.py    # the answers alone, no check worker
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import empty_database, free_port  # noqa: E402
from server.cli import upgrade_database  # noqa: E402
from server.models import Household, Member  # noqa: E402
from server.services import checking, forms  # noqa: E402
from server.services.areas import create_area  # noqa: E402
from server.services.users import create_user, issue_phone_token  # noqa: E402
from tests.builders import household_visit, instance_xml, jpeg_with_exif  # noqa: E402

OPENROSA = {"X-OpenRosa-Version": "1.0"}
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


def start(command: list[str], env: dict, port: int) -> subprocess.Popen:
    log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    for _ in range(200):
        try:
            requests.head(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def worker_rss_mb(master: subprocess.Popen) -> float:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    rss = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return max(rss) if rss else 0.0


def run(url: str, payloads: list, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(payloads)
    lock = threading.Lock()

    def client():
        http = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                xml, files = queue.pop()
            parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
            began = time.perf_counter()
            response = http.post(url, files=parts, headers=OPENROSA, timeout=120)
            latencies.append(time.perf_counter() - began)
            assert response.status_code == 201, (response.status_code, response.text[:300])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(payloads) / (time.perf_counter() - began), latencies


def wait_for_checks(url: str) -> float:
    """Seconds until the check worker has nothing left waiting."""
    engine = create_engine(url)
    began = time.perf_counter()
    try:
        while True:
            with Session(engine) as session:
                if checking.pending(session)[0] == 0:
                    return time.perf_counter() - began
            time.sleep(0.05)
    finally:
        engine.dispose()


def figures(rate: float, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    return f"{rate:7.1f}/s   p50 {statistics.median(ms):6.1f} ms   p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count-a", type=int, default=400)
    parser.add_argument("--count-b", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5, help="alternating floor/ours runs per figure (median)")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    databases = [("sqlite", None)] + ([("postgresql", os.environ["BENCH_DATABASE_URL"])] if os.environ.get("BENCH_DATABASE_URL") else [])
    workloads = [("(a) XML + one 200 KB JPEG", workload_a, args.count_a), ("(b) full visit, 5 photos + 3 signatures", workload_b, args.count_b)]
    print("building payloads ...", flush=True)
    floor_payloads = {name: list(make(count)) for name, make, count in workloads}
    sizes = {name: len(xml) + sum(map(len, files.values())) for name, [(xml, files), *_] in floor_payloads.items()}
    with tempfile.TemporaryDirectory() as floor_folder:
        floor_port = free_port()
        # --config /dev/null: not the project's gunicorn.conf.py, whose check workers are no part of a bare app
        floor = start([sys.executable, "-m", "gunicorn", "--config", os.devnull, "--workers", str(args.workers),
                       "--bind", f"127.0.0.1:{floor_port}", "bench.floor_app:app"], {**os.environ, "FLOOR_DIR": floor_folder},
                      floor_port)
        try:
            print(f"floor: bare WSGI, multipart streamed to disk with fsync, {args.workers} workers; each figure is the median"
                  f" of {args.rounds} runs, floor and ours in turn (this machine's speed drifts)")
            for database, configured in databases:
                _bench_database(database, configured, workloads, floor_payloads, sizes, f"http://127.0.0.1:{floor_port}/", args)
        finally:
            floor.terminate()
            floor.wait()


def _bench_database(database, configured, workloads, floor_payloads, sizes, floor_url, args) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = configured or f"sqlite:///{folder}/bench.sqlite3"
        empty_database(url)
        token = prepare(url)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "DEVELOPMENT": "1", "INSTANCE_DIR": folder,
               "MEDIA_DIR": f"{folder}/media"}
        server = start([sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--bind",
                        f"127.0.0.1:{port}", "wsgi:app"], env, port)
        ours_url = f"http://127.0.0.1:{port}/key/{token}/submission"
        checking_after = os.environ.get("CHECK_WORKERS") != "0"
        try:
            print(f"\nours on {database}, gunicorn {args.workers} workers as gunicorn.conf.py sets them (gthread)"
                  + ("" if checking_after else ", no check worker (CHECK_WORKERS=0)"))
            for name, make, count in workloads:
                for clients in (1, 8):
                    floor_rates, rates, latencies, lags = [], [], [], []
                    for _ in range(args.rounds):
                        floor_rates.append(run(floor_url, floor_payloads[name], clients)[0])
                        fresh = list(make(count))
                        rate, times = run(ours_url, fresh, clients)
                        rates.append(rate)
                        latencies += times
                        if checking_after:
                            lags.append(wait_for_checks(url))
                    rate, floor_rate = statistics.median(rates), statistics.median(floor_rates)
                    shares = [100 * r / f for r, f in zip(rates, floor_rates)]
                    print(f"  {name:<42} {clients} client(s)  {figures(rate, latencies)}   floor {floor_rate:6.1f}/s"
                          f"   {statistics.median(shares):5.1f} % of floor   ({sizes[name] // 1024} KB each)", flush=True)
                    print(f"  {'':<42} each run's share of the floor: {' '.join(f'{x:.0f}' for x in shares)} %", flush=True)
                    if checking_after:
                        lag = statistics.median(lags)
                        overall = count / (count / rate + lag)
                        print(f"  {'':<42} checks caught up {lag:5.1f} s after the last answer:"
                              f" {overall:.1f}/s end to end", flush=True)
            print(f"  largest worker RSS after the runs: {worker_rss_mb(server):.0f} MB")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
