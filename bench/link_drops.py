"""Benchmark: what a dropping 2G link costs a full visit, for several X-OpenRosa-Accept-Content-Length.

ODK Collect (and KoboCollect, its fork) reads the limit from HEAD /submission (10,000,000 bytes
when the header is absent) and splits an upload as tests/openrosa_client.collect_posts
reproduces: every POST carries the XML and the files that fit, a file larger than the limit alone.
A POST that fails (the link dropped) fails the attempt, and the next attempt sends everything
again from the first POST.

The phone is modelled on a virtual clock: --rate bytes a second, --rtt per POST, the link down for
--outage seconds --first-drop seconds into the upload and every K seconds after (taking the POST in flight with it; the bytes sent until then are
sent to the server and the connection cut), the phone trying again as soon as it is back. The
POSTs go for real, at full speed, to the server as `make serve` runs it with the limit announced;
the server's own time per answer is added to the clock. For each limit and K it prints the POSTs
per attempt, the time until the XML was stored, until the visit was stored whole, the bytes sent
(and the share of the visit's size), and what was stored after the first drop.

    .venv/bin/python bench/link_drops.py [--rate 8192] [--rtt 0.6] [--outage 10] [--first-drop 60]
                                         [--drops-every 0 300 180 120] [--limits 52428800 1048576 ...]
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import empty_database, free_port  # noqa: E402
from bench.ingest import CASES, prepare, start  # noqa: E402
from server.models import SubmissionVersion  # noqa: E402
from tests.builders import household_visit  # noqa: E402
from tests.openrosa_client import COLLECT_DEFAULT_LIMIT, collect_posts  # noqa: E402
from tests.slow_client import request_head  # noqa: E402

OPENROSA = {"X-OpenRosa-Version": "1.0"}
GIVE_UP_AFTER = 3600  # virtual seconds


def announced_limit(base: str) -> int:
    response = requests.head(f"{base}/submission", headers=OPENROSA, timeout=30)
    return int(response.headers.get("X-OpenRosa-Accept-Content-Length") or COLLECT_DEFAULT_LIMIT)


def cut_post(port: int, path: str, body: bytes, content_type: str, sent: int) -> None:
    """The first `sent` bytes of a POST, then the connection gone (as a dropped link leaves it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_head("127.0.0.1", port, path, content_type, len(body)) + body[:sent])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST, no FIN


def stored(url: str, instance_id: str) -> tuple[bool, int, bool]:
    """(XML stored, files stored, complete)."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
            if version is None:
                return False, 0, False
            return True, sum(a.sha256 is not None for a in version.attachments), version.is_complete
    finally:
        engine.dispose()


def send_visit(url: str, port: int, token: str, args, drops_every: float) -> dict:
    instance_id = f"uuid:{uuid.uuid4()}"
    xml, files = household_visit(CASES[hash(instance_id) % len(CASES)], instance_id=instance_id)
    path = f"/key/{token}/submission"
    base = f"http://127.0.0.1:{port}/key/{token}"
    clock, sent_bytes, attempts, xml_at, after_first_drop = 0.0, 0, 0, None, None
    next_drop = args.first_drop if drops_every else float("inf")
    while clock < GIVE_UP_AFTER:
        attempts += 1
        limit = announced_limit(base)
        clock += args.rtt
        posts = collect_posts(xml, list(files.items()), limit)
        for body, content_type in posts:
            duration = len(body) / args.rate + args.rtt
            if clock + duration > next_drop:  # the link goes down during this POST
                cut = max(0, int((next_drop - clock) * args.rate))
                cut_post(port, path, body, content_type, min(cut, len(body) - 1))
                sent_bytes += cut
                clock = next_drop + args.outage
                next_drop += drops_every
                if after_first_drop is None:
                    time.sleep(0.2)  # the server's thread notices the reset
                    after_first_drop = stored(url, instance_id)
                break
            began = time.perf_counter()
            response = requests.post(base + "/submission", data=body, headers={**OPENROSA, "Content-Type": content_type},
                                     timeout=120)
            clock += duration + (time.perf_counter() - began)
            sent_bytes += len(body)
            if response.status_code not in (201, 202):
                return {"posts": len(posts), "refused": f"{response.status_code} {response.text[:160]}"}
            if xml_at is None:
                xml_at = clock
        else:
            whole = stored(url, instance_id)
            assert whole[2], whole
            return {"posts": len(posts), "xml_at": xml_at, "whole_at": clock, "bytes": sent_bytes, "attempts": attempts,
                    "size": sum(len(b) for b, _ in posts), "visit": len(xml) + sum(map(len, files.values())),
                    "after_first_drop": after_first_drop}
    return {"posts": len(posts), "xml_at": xml_at, "whole_at": None, "bytes": sent_bytes, "attempts": attempts,
            "visit": len(xml) + sum(map(len, files.values())), "after_first_drop": after_first_drop}


def line(limit: int, drops_every: float, result: dict) -> str:
    head = f"  {limit / 1024:>8.0f} KB  {'never' if not drops_every else f'{drops_every:.0f} s':>6}  {result['posts']:>2} POST(s)"
    if "refused" in result:
        return f"{head}  REFUSED: {result['refused']}"
    xml_at = f"{result['xml_at']:6.0f} s" if result["xml_at"] is not None else "  never"
    whole = f"{result['whole_at']:6.0f} s" if result["whole_at"] is not None else f"never ({GIVE_UP_AFTER} s)"
    share = 100 * result["bytes"] / result["visit"]
    first = result["after_first_drop"]
    after = ("-" if first is None else "nothing" if not first[0] else f"XML + {first[1]} file(s)")
    return (f"{head}  XML stored at {xml_at}   whole at {whole:>8}   {result['attempts']:>2} attempt(s)"
            f"   {result['bytes'] / 1024:6.0f} KB sent ({share:4.0f} %)   stored at the first drop: {after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=8192, help="bytes a second")
    parser.add_argument("--rtt", type=float, default=0.6, help="seconds a POST waits for its answer on 2G")
    parser.add_argument("--outage", type=float, default=10, help="seconds the link stays down")
    parser.add_argument("--first-drop", type=float, default=60, help="seconds into the first attempt the link first drops")
    parser.add_argument("--drops-every", type=float, nargs="+", default=[0, 300, 180, 120], help="0: no drop")
    parser.add_argument("--limits", type=int, nargs="+", default=[50 * 1024 * 1024, 1024 * 1024, 512 * 1024, 256 * 1024])
    args = parser.parse_args()
    print(f"a full visit at {args.rate / 1024:.0f} KB/s, {args.rtt} s per POST's answer, the link down {args.outage:.0f} s "
          f"{args.first_drop:.0f} s into the upload and every K s after; Collect's splitting at each announced limit")
    print(f"  {'limit':>11}  {'K':>6}")
    for limit in args.limits:
        with tempfile.TemporaryDirectory() as folder:
            url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3"
            empty_database(url)
            token = prepare(url)
            port = free_port()
            env = {**os.environ, "DATABASE_URL": url, "DEVELOPMENT": "1", "INSTANCE_DIR": folder, "MEDIA_DIR": f"{folder}/media",
                   "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "OPENROSA_ACCEPT_CONTENT_LENGTH": str(limit), "CHECK_WORKERS": "0"}
            server = start([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                           env, port)
            try:
                for drops_every in args.drops_every:
                    print(line(limit, drops_every, send_visit(url, port, token, args, drops_every)), flush=True)
            finally:
                server.terminate()
                server.wait()


if __name__ == "__main__":
    main()
