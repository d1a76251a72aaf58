"""Benchmark: full home visits as a phone sends them, to our server and to ODK Central side by side.

Ours runs as `make serve` runs it: `flask dev-setup` (the demo county, its caseworker's phone
token), then gunicorn with the project's gunicorn.conf.py, --workers 2 and its two check workers,
on SQLite in a temporary folder or on the PostgreSQL database BENCH_DATABASE_URL names. Central
v2026.2.2 (bench/central.py, docs/performance.md says how to install it) runs when
BENCH_CENTRAL_DIR names its installed folder, on a database of its own in the cluster
BENCH_ADMIN_URL names (by default BENCH_DATABASE_URL's): both on one cluster, with one fsync.

A visit is the household_visit form filled as Collect fills it (tests/builders.py: the five
sights' photos, the two investigators' and the head's signatures, audit.csv; ~1.25 MB), new each
time (its own instanceID and photo bytes), posted with Python `requests` through the phone-token
URL (ours) or the app user's key URL (Central), to the demo caseworker's households in turn. Each
round posts --visits visits to one server and then to the other (which goes first alternates),
with 1 and with 8 clients; before a run starts, both servers' deferred work is done (our check
workers' queue, Central's unprocessed audit events), and after ours, how long the checks took to
finish is printed: the target is the last visit's flags stored within a minute of the burst.
Prints each round's rates, p50 / p95, the ratio ours / Central, their medians, and the peak
proportional set size (PSS: shared pages counted once) of each server's whole process tree.

    .venv/bin/python bench/ingest.py [--visits 300] [--rounds 3] [--clients 1 8]
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55433/bench \\
      BENCH_CENTRAL_DIR=<central folder> .venv/bin/python bench/ingest.py
    CHECK_WORKERS=0 .venv/bin/python bench/ingest.py    # the answers alone, no check workers

Our database (SQLite) and media/ go into a new folder under BENCH_FOLDER (default .bench/ in the
project), deleted at the end: see BENCH_FOLDER below for why not the system's temporary folder.
"""
from __future__ import annotations

import argparse
import contextlib
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

from bench.central import central, installed_dir  # noqa: E402
from bench.common import empty_database, free_port, tree_pss_mb  # noqa: E402
from server.models import Household  # noqa: E402
from server.services import checking, forms  # noqa: E402
from server.services.cases import VISITED_STATUSES, cases_in_reach  # noqa: E402
from server.services.users import user_by_username  # noqa: E402
from tests.builders import household_visit  # noqa: E402

OPENROSA = {"X-OpenRosa-Version": "1.0"}
CASEWORKER = "demo-caseworker"
# Our database and media/ go here, not into the system's temporary folder: on ext4, a new file's
# inode costs ~0.5 ms more in a part of the disk where thousands of files were deleted minutes
# before (a test run's temporary folders), which a server's media/ never sees. 8 clients, media/
# there: 57/s and 15.2-15.5 ms of system time per visit; here: 63-71/s and 9.4-12.8 ms.
BENCH_FOLDER = Path(os.environ.get("BENCH_FOLDER") or ROOT / ".bench")


class Visits:
    """New full visits to the given households in turn: one built visit per household, each copy
    with its own instanceID and its photos' and signatures' bytes made new (bytes after a JPEG's or
    PNG's end marker are ignored by decoders, audit.csv gains a row)."""

    def __init__(self, cases: list[str]):
        self.cases, self.built, self.sent = cases, {}, 0

    def take(self, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
        return [self._next() for _ in range(count)]

    def _next(self):
        case = self.cases[self.sent % len(self.cases)]
        self.sent += 1
        if case not in self.built:
            instance = f"uuid:{uuid.uuid4()}"
            self.built[case] = (instance, *household_visit(case, instance_id=instance))
        instance, xml, files = self.built[case]
        return (xml.replace(instance.encode(), f"uuid:{uuid.uuid4()}".encode()),
                {name: body + (_saved_again() if name.endswith(".csv") else secrets.token_bytes(16))
                 for name, body in files.items()})


def _saved_again() -> bytes:
    """A last row for audit.csv (event, node, start, end and five empty columns), so that each
    visit's form audit log is its own file, as each phone's is."""
    return f"form save,,{int(time.time() * 1000) + secrets.randbelow(10**6)},,,,,,\n".encode()


class Ours:
    name = "ours"

    def __init__(self, folder: str, database_url: str | None):
        self.folder = Path(folder)
        self.database_url = database_url or f"sqlite:///{folder}/bench.sqlite3"
        empty_database(self.database_url)
        self.env = {**os.environ, "DATABASE_URL": self.database_url, "DEVELOPMENT": "1", "INSTANCE_DIR": folder,
                    "MEDIA_DIR": f"{folder}/media"}
        self.process = None
        self.checking = os.environ.get("CHECK_WORKERS") != "0"  # 0: no check workers, nothing to wait for

    @contextlib.contextmanager
    def serving(self):
        port = free_port()
        self.env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "dev-setup"], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)
        token = (self.folder / f"{CASEWORKER}.token").read_text().strip()
        self.url = f"http://127.0.0.1:{port}/key/{token}/submission"
        log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                         "wsgi:app"], cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.engine = create_engine(self.database_url)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/")
            yield self
        finally:
            self.process.terminate()
            self.process.wait()
            self.engine.dispose()

    @property
    def pid(self) -> int:
        return self.process.pid

    def cases(self) -> list[str]:
        with Session(self.engine) as session:
            user = user_by_username(session, CASEWORKER)
            visited = cases_in_reach(session, user).where(Household.status.in_(VISITED_STATUSES))
            return [household.case_number for household in session.scalars(visited)]

    def pending(self) -> int:
        if not self.checking:
            return 0
        with Session(self.engine) as session:
            return checking.pending(session)[0]

    def form_xml(self, form_id: str) -> bytes:
        """The XForm as we publish it (the same bytes the phones download)."""
        with Session(self.engine) as session:
            return forms.get_version(session, form_id).xml


class Theirs:
    """ODK Central (bench/central.py) with our household visit published, and its app user's URL."""

    name = "Central"

    def __init__(self, central, xform: bytes):
        self.central, self.pid = central, central.pid
        self.url = central.submission_url(xform)

    def pending(self) -> int:
        return self.central.pending()


def wait_until_up(url: str) -> None:
    for _ in range(600):
        try:
            requests.head(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def wait_drained(server) -> float:
    """Seconds until the server has no deferred work left."""
    began = time.perf_counter()
    while server.pending():
        time.sleep(0.05)
    return time.perf_counter() - began


class PeakPss:
    """The largest PSS of a process tree, sampled every quarter second while the block runs."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while True:
            self.peak = max(self.peak, tree_pss_mb(self.pid))
            if self._stop.wait(0.25):
                return

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def post_all(url: str, visits: list, clients: int) -> tuple[float, list[float]]:
    """Posts every visit (each must answer 201) from `clients` threads; (visits/s, latencies in s)."""
    latencies: list[float] = []
    queue = list(visits)
    lock = threading.Lock()
    failures: list[str] = []

    def client():
        http = requests.Session()
        while not failures:
            with lock:
                if not queue:
                    return
                xml, files = queue.pop()
            parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
            began = time.perf_counter()
            response = http.post(url, files=parts, headers=OPENROSA, timeout=120)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{url}: {failures[0]}")
    return len(visits) / (time.perf_counter() - began), latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def round_of(server, visits: list, clients: int) -> dict:
    wait_drained(server)
    with PeakPss(server.pid) as pss:
        rate, latencies = post_all(server.url, visits, clients)
        drained = wait_drained(server)
    ms = [1000 * x for x in latencies]
    return {"rate": rate, "p50": statistics.median(ms), "p95": percentile(ms, 0.95), "drained": drained, "pss": pss.peak}


def report(clients: int, rounds: dict[str, list[dict]]) -> None:
    print(f"\n{clients} client(s)")
    for index in range(len(rounds["ours"])):
        line = f"  round {index + 1}:"
        for name, results in rounds.items():
            r = results[index]
            line += f"  {name} {r['rate']:5.1f}/s p50 {r['p50']:5.0f} p95 {r['p95']:5.0f} ms"
        if "Central" in rounds:
            line += f"  ratio {rounds['ours'][index]['rate'] / rounds['Central'][index]['rate']:.2f}"
        print(line + f"  (ours' checks done {rounds['ours'][index]['drained']:.1f} s after)", flush=True)
    line = "  median: "
    for name, results in rounds.items():
        line += (f"  {name} {statistics.median(r['rate'] for r in results):5.1f}/s"
                 f" p50 {statistics.median(r['p50'] for r in results):5.0f} ms, PSS peak {max(r['pss'] for r in results):.0f} MB")
    if "Central" in rounds:
        ratios = [o["rate"] / c["rate"] for o, c in zip(rounds["ours"], rounds["Central"])]
        line += f"  ratio {statistics.median(ratios):.2f}"
        drains = [r["drained"] for r in rounds["Central"]]
        line += f"; Central's events done {max(drains):.1f} s after at most"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300, help="visits per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    central_dir = installed_dir()
    BENCH_FOLDER.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH_FOLDER) as folder, contextlib.ExitStack() as stack:
        ours = stack.enter_context(Ours(folder, os.environ.get("BENCH_DATABASE_URL")).serving())
        servers = [ours]
        if central_dir:
            running = stack.enter_context(central(central_dir, log=os.environ.get("BENCH_SERVER_LOG")))
            servers.append(Theirs(running, ours.form_xml("household_visit")))
        visits = Visits(ours.cases())
        print(f"{len(visits.cases)} households of {CASEWORKER}; {args.visits} visits a run, {args.rounds} rounds,"
              f" {' and '.join(s.name for s in servers)} in turn (who goes first alternates)", flush=True)
        for clients in args.clients:
            rounds: dict[str, list[dict]] = {server.name: [] for server in servers}
            for index in range(args.rounds):
                for server in servers[::-1] if index % 2 else servers:
                    rounds[server.name].append(round_of(server, visits.take(args.visits), clients))
            report(clients, rounds)


if __name__ == "__main__":
    main()
