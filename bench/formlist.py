"""Benchmark: formList and cases.csv for a caseworker with 5,000 households, against a real server.

Starts gunicorn on 127.0.0.1 over a fresh database (SQLite in a temporary folder, or the database
named by BENCH_DATABASE_URL), then prints p50/p95 latencies. Targets: formList p95 ≤ 10 ms (with the phone token, and with HTTP
Basic after its first request), the manifest and cases.csv p95 ≤ 60 ms, and 304 when unchanged; and
cases.csv when a household changed before each request (the list built again).

    .venv/bin/python bench/formlist.py [--households 5000] [--requests 300]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, insert, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import empty_database, free_port  # noqa: E402
from server import create_app  # noqa: E402
from server.cli import upgrade_database  # noqa: E402
from server.extensions import db  # noqa: E402
from server.models import Household  # noqa: E402
from server.services import forms  # noqa: E402
from server.services.areas import create_area  # noqa: E402
from server.services.users import create_user, issue_phone_token  # noqa: E402

OPENROSA = {"X-OpenRosa-Version": "1.0"}


def prepare(url: str, households: int, instance: str) -> str:
    empty_database(url)
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_DIR": instance, "PUBLIC_BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        session = db.session
        forms.publish_directory(session, ROOT / "forms", validate=False)
        create_area(session, code="623001", name="基准县", level="county")
        create_area(session, code="623001100", name="基准镇", level="township", parent_code="623001")
        villages = [create_area(session, code=f"623001100{i:03d}", name=f"第{i}村", level="village", parent_code="623001100")
                    for i in range(1, 21)]
        # Another caseworker's households too, so the query must filter.
        other = create_area(session, code="623001100999", name="别村", level="village", parent_code="623001100")
        user = create_user(session, username="bench-worker", password="bench-pass", role="caseworker",
                           area_codes=[v.code for v in villages])
        rows = []
        for n in range(households + 1000):
            village = villages[n % len(villages)] if n < households else other
            rows.append({
                "case_number": f"{village.code}{n:06d}", "village_id": village.id, "head_name": f"户主{n}",
                "address": f"{village.name}{n}号", "residence": "rural", "category": "ABC"[n % 3], "status": "active",
                "latitude": 35 + n / 1e5, "longitude": 104 + n / 1e5, "next_visit_due": date(2026, 12, 1) + timedelta(days=n % 300),
            })
        session.execute(insert(Household), rows)
        token = issue_phone_token(session, user)
        session.commit()
    db.engine.dispose()
    return token


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def timed(http: requests.Session, url: str, count: int, headers: dict, expect: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        response = http.get(url, headers=headers)
        samples.append(time.perf_counter() - start)
        assert response.status_code == expect, (url, response.status_code, response.text[:200])
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3"
        print(f"database: {url.split('://')[0]}; preparing {args.households} households ...", flush=True)
        token = prepare(url, args.households, folder)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "DEVELOPMENT": "1", "INSTANCE_DIR": folder}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}/key/{token}"
            http = requests.Session()
            for _ in range(100):
                try:
                    if http.get(f"{base}/formList", headers=OPENROSA).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            media_url = f"{base}/forms/household_visit/media/cases.csv"
            first = http.get(media_url, headers=OPENROSA)
            etag = first.headers["ETag"]
            lines = first.text.count("\n") - 1
            timed(http, f"{base}/formList", 20, OPENROSA, 200)  # warm both workers
            print(f"formList (phone token)   {percentiles(timed(http, f'{base}/formList', args.requests, OPENROSA, 200))}")
            # HTTP Basic, as Collect set up with a username and password: the first request in
            # each worker checks the password (scrypt); later ones take it on trust for a while.
            basic = requests.Session()
            basic.auth = ("bench-worker", "bench-pass")
            root = f"http://127.0.0.1:{port}"
            print(f"formList (Basic), first  {percentiles(timed(basic, f'{root}/formList', 1, OPENROSA, 200))}")
            timed(basic, f"{root}/formList", 20, OPENROSA, 200)  # the other worker's first
            print(f"formList (Basic)         {percentiles(timed(basic, f'{root}/formList', args.requests, OPENROSA, 200))}")
            print(f"manifest (hashes csv)    {percentiles(timed(http, f'{base}/forms/household_visit/manifest', args.requests // 3, OPENROSA, 200))}")
            print(f"cases.csv ({lines} rows, {len(first.content) // 1024} KB) "
                  f"{percentiles(timed(http, media_url, args.requests // 3, OPENROSA, 200))}")
            unchanged = timed(http, media_url, args.requests // 3, {**OPENROSA, "If-None-Match": etag}, 304)
            print(f"cases.csv unchanged: 304 {percentiles(unchanged)}")
            basic_media = f"{root}/forms/household_visit/media/cases.csv"
            print(f"manifest (Basic)         {percentiles(timed(basic, f'{root}/forms/household_visit/manifest', args.requests // 3, OPENROSA, 200))}")
            print(f"cases.csv (Basic)        {percentiles(timed(basic, basic_media, args.requests // 3, OPENROSA, 200))}")
            # A worker keeps a list until something it is made of changes: one household renamed
            # before each request (not timed) makes every one of these a rebuild.
            engine = create_engine(url)
            changed = []
            for n in range(args.requests // 6):
                with engine.begin() as connection:
                    connection.execute(update(Household).where(Household.id == 1 + n).values(head_name=f"改{n}"))
                changed += timed(http, media_url, 1, OPENROSA, 200)
            engine.dispose()
            print(f"cases.csv after a change {percentiles(changed)}")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
