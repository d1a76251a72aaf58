"""Benchmark: a phone on 2G sends a full visit at 8 KB/s (about three minutes) while other phones
upload at full speed, supervisors call the JSON API and a few connections trickle their headers.

Starts the server as `make serve` does (gunicorn with gunicorn.conf.py: its worker class, threads
and timeouts, and its check workers) over a fresh database (SQLite in a temporary folder, or
BENCH_DATABASE_URL). First the same fast load runs alone for --before seconds; then the slow
phone and the tricklers join it. Prints the slow upload's outcome (its answer, how long it took,
whether the database holds every file with the bytes sent) and the others' latency p50/p95/max,
before and during.

    .venv/bin/python bench/slow_upload.py [--rate 8192] [--workers 2] [--fast-phones 2]
                                          [--supervisors 2] [--tricklers 4] [--before 30]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import empty_database, free_port  # noqa: E402
from bench.ingest import CASES, prepare, start, workload_b  # noqa: E402
from server.models import Area, SubmissionVersion  # noqa: E402
from server.services.users import create_user, issue_api_token  # noqa: E402
from tests.builders import household_visit  # noqa: E402
from tests.slow_client import post_slowly, submission_body, trickle_headers  # noqa: E402

OPENROSA = {"X-OpenRosa-Version": "1.0"}


def supervisor_token(url: str) -> str:
    """A supervisor of the bench village, signed in as a script does (Bearer): what the server
    does for them is measured, not a password's scrypt."""
    engine = create_engine(url)
    with Session(engine) as session:
        village = session.scalar(select(Area).where(Area.code == "623001100001"))
        user = create_user(session, username="bench-supervisor", password="bench-pass", role="supervisor",
                           area_codes=[village.code])
        _, secret = issue_api_token(session, user, "bench")
        session.commit()
    engine.dispose()
    return secret


class Load:
    """Fast phones posting full visits back to back, supervisors reading the API in turn."""

    def __init__(self, base: str, token: str, api_token: str, phones: int, supervisors: int):
        self.failures: list[str] = []
        self.phase = "before"
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._phone, args=(f"{base}/key/{token}/submission",)) for _ in range(phones)]
        self.threads += [threading.Thread(target=self._supervisor, args=(base, api_token, n)) for n in range(supervisors)]
        self.by_phase: dict[str, dict[str, list[float]]] = {}

    def _timed(self, kind: str, expected: int, call) -> None:
        began = time.perf_counter()
        try:
            response = call()
        except requests.RequestException as error:
            self.failures.append(f"{kind}: {error}")
            return
        finally:
            self.by_phase.setdefault(self.phase, {}).setdefault(kind, []).append(time.perf_counter() - began)
        if response.status_code != expected:
            self.failures.append(f"{kind}: {response.status_code} {response.text[:120]}")

    def _phone(self, url: str) -> None:
        http = requests.Session()
        while not self.stop.is_set():
            for xml, files in workload_b(20):
                if self.stop.is_set():
                    return
                parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
                self._timed("fast upload", 201, lambda: http.post(url, files=parts, headers=OPENROSA, timeout=120))

    def _supervisor(self, base: str, api_token: str, n: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {api_token}"
        paths = ["/api/v1/cases?page_size=50", "/api/v1/submissions", f"/api/v1/cases/{CASES[n]}", "/api/v1/due"]
        while not self.stop.is_set():
            for path in paths:
                self._timed("supervisor API", 200, lambda: http.get(base + path, timeout=120))
                self.stop.wait(0.2)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


def figures(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return (f"{len(ms):5d} requests   p50 {statistics.median(ms):7.1f} ms   p95 {ms[int(0.95 * (len(ms) - 1))]:7.1f} ms"
            f"   max {ms[-1]:7.1f} ms")


def stored_whole(url: str, instance_id: str, files: dict[str, bytes]) -> str:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
            if version is None:
                return "NOT STORED"
            stored = {a.filename: a.sha256 for a in version.attachments}
            same = sum(stored.get(name) == hashlib.sha256(body).hexdigest() for name, body in files.items())
            return (f"stored, {same} of {len(files)} files with the bytes sent, "
                    f"{'complete' if version.is_complete else 'INCOMPLETE'}")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=8192, help="bytes a second of the slow phone")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make serve's default)")
    parser.add_argument("--fast-phones", type=int, default=2)
    parser.add_argument("--supervisors", type=int, default=2)
    parser.add_argument("--tricklers", type=int, default=4, help="connections sending their headers a byte a second")
    parser.add_argument("--before", type=float, default=30, help="seconds of the fast load alone, first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3"
        empty_database(url)
        token = prepare(url)
        api_token = supervisor_token(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": url, "DEVELOPMENT": "1", "INSTANCE_DIR": folder, "MEDIA_DIR": f"{folder}/media",
               "PUBLIC_BASE_URL": base}
        server = start([sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                        "wsgi:app"], env, port)
        instance_id = f"uuid:{uuid.uuid4()}"
        xml, files = household_visit(CASES[-1], instance_id=instance_id)
        body, content_type = submission_body(xml, files)
        try:
            print(f"gunicorn as make serve runs it ({args.workers} workers, gunicorn.conf.py), "
                  f"{'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; {args.fast_phones} phones uploading "
                  f"full visits back to back, {args.supervisors} supervisors reading the API", flush=True)
            with Load(base, token, api_token, args.fast_phones, args.supervisors) as load:
                time.sleep(args.before)
                load.phase = "during"
                stop = threading.Event()
                tricklers = [threading.Thread(target=trickle_headers, args=("127.0.0.1", port),
                                              kwargs={"every": 1.0, "stop": stop}) for _ in range(args.tricklers)]
                for thread in tricklers:
                    thread.start()
                print(f"slow phone: {len(body) // 1024} KB at {args.rate // 1024} KB/s "
                      f"(about {len(body) / args.rate:.0f} s); {args.tricklers} connections trickling headers", flush=True)
                began = time.monotonic()
                status, answer = post_slowly("127.0.0.1", port, f"/key/{token}/submission", body, content_type, rate=args.rate)
                took = time.monotonic() - began
                stop.set()
                for thread in tricklers:
                    thread.join()
            print(f"slow upload: HTTP {status} after {took:.0f} s; {stored_whole(url, instance_id, files)}")
            for phase in ("before", "during"):
                for kind, times in sorted(load.by_phase.get(phase, {}).items()):
                    print(f"  {phase:<6} the slow upload  {kind:<15} {figures(times)}")
            print(f"  requests that failed or timed out (120 s): {len(load.failures)}"
                  + (f" (first: {load.failures[0]})" if load.failures else ""))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
