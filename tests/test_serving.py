"""How the real server (gunicorn with gunicorn.conf.py, as `make serve` and production run it)
faces slow phones and forwarded headers. A short --timeout stands for gunicorn's 60 s."""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from server.models import Attachment, SubmissionVersion

from .builders import household_visit
from .slow_client import post_slowly, read_status, request_head, submission_body, trickle_headers
from .live import ONE_CASE, free_port, gunicorn, own_database, seed_one_household

TIMEOUT = 3  # seconds: gunicorn's --timeout in these tests (above a worker's ~2 s boot, which it also bounds)
THREADS = 4
CASE = ONE_CASE


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("serving")
    url, drop = own_database(tmp_path)
    engine = create_engine(url)
    with Session(engine) as session:
        token = seed_one_household(session)
    try:
        yield {"url": url, "engine": engine, "token": token, "folder": tmp_path}
    finally:
        engine.dispose()
        drop()


@contextlib.contextmanager
def server(database, **settings):
    """gunicorn as `make serve` starts it (the project's gunicorn.conf.py), one worker of THREADS
    threads, on a TCP port and on a UNIX socket (`folder/server-PORT.sock`), as a proxy may reach it."""
    port = free_port()
    folder = database["folder"]
    env = {"DATABASE_URL": database["url"], "SECRET_KEY": "serving", "INSTANCE_DIR": str(folder),
           "MEDIA_DIR": str(folder / "media"), "CHECK_WORKERS": "0", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           **settings}
    with gunicorn(folder, env, "--workers", "1", "--threads", str(THREADS), "--timeout", str(TIMEOUT),
                  "--bind", f"unix:{folder / f'server-{port}.sock'}", port=port, stop_seconds=15):
        yield port


@pytest.fixture(scope="module")
def development(database):
    with server(database, DEVELOPMENT="1") as port:
        yield port


def _transactions_held(engine) -> int | None:
    """PostgreSQL: the server's connections idle inside a transaction (None on SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state IN ('idle in transaction', 'idle in transaction (aborted)')").scalar()


def _head(port: int, token: str) -> int:
    return requests.head(f"http://127.0.0.1:{port}/key/{token}/submission", headers={"X-OpenRosa-Version": "1.0"},
                         timeout=10).status_code


def test_an_upload_sent_for_longer_than_the_timeout_arrives_whole(database, development):
    # A sync worker was killed by the arbiter TIMEOUT s into it: a 500 and nothing stored.
    instance_id = f"uuid:{uuid.uuid4()}"
    xml, files = household_visit(CASE, instance_id=instance_id)
    body, content_type = submission_body(xml, files)
    answers = []
    upload = threading.Thread(target=lambda: answers.append(post_slowly(
        "127.0.0.1", development, f"/key/{database['token']}/submission", body, content_type,
        rate=len(body) / (2.5 * TIMEOUT), chunk=16 * 1024)))
    upload.start()
    time.sleep(TIMEOUT)
    held = _transactions_held(database["engine"])  # while the body arrives
    upload.join()
    [(status, answer)] = answers
    assert status == 201, answer
    assert held in (0, None)  # the sign-in's transaction was over before the body was read
    with Session(database["engine"]) as session:
        version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
        assert version.is_complete
        assert session.scalar(select(func.count()).select_from(Attachment)
                              .where(Attachment.version_id == version.id, Attachment.sha256.is_not(None))) == len(files)


def test_connections_trickling_their_headers_do_not_stall_the_others(database, development):
    # Two such connections stalled both sync workers; here each holds one thread, not a process.
    stop = threading.Event()
    tricklers = [threading.Thread(target=trickle_headers, args=("127.0.0.1", development),
                                  kwargs={"every": TIMEOUT / 8, "stop": stop}) for _ in range(THREADS - 1)]
    for thread in tricklers:
        thread.start()
    try:
        time.sleep(TIMEOUT)  # they are well into their headers, each in a thread
        assert all(thread.is_alive() for thread in tricklers)
        assert [_head(development, database["token"]) for _ in range(5)] == [204] * 5
    finally:
        stop.set()
        for thread in tricklers:
            thread.join()


def test_a_client_gone_silent_mid_upload_is_dropped_and_frees_its_thread(database, development):
    # A link that died sends no FIN: without a limit on each receive, its thread waited for good.
    xml, files = household_visit(CASE, instance_id=f"uuid:{uuid.uuid4()}")
    body, content_type = submission_body(xml, files)
    silent = []
    for _ in range(THREADS):  # every thread of the worker
        sock = socket.create_connection(("127.0.0.1", development), timeout=5 * TIMEOUT)
        sock.sendall(request_head("127.0.0.1", development, f"/key/{database['token']}/submission", content_type, len(body)))
        sock.sendall(body[:20_000])
        silent.append(sock)
    try:
        assert _head(development, database["token"]) == 204  # served once the silent ones are dropped
        for sock in silent:
            sock.recv(65536)  # the server has answered or closed: no socket.timeout here
    finally:
        for sock in silent:
            sock.close()


def _get_over_unix_socket(path, url_path: str, headers: dict) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"GET {url_path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{lines}\r\n".encode())
        return read_status(sock)[0]


def test_gunicorn_believes_no_forwarded_header_itself(database):
    # Its defaults trusted X-Forwarded-Proto from 127.0.0.1, and from anyone on a UNIX socket:
    # plain HTTP passed for HTTPS, where passwords and phone tokens are accepted.
    headers = {"X-OpenRosa-Version": "1.0", "X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}
    token = database["token"]
    with server(database, TRUSTED_PROXIES="0") as port:
        response = requests.get(f"http://127.0.0.1:{port}/key/{token}/formList", headers=headers, timeout=10)
        assert response.status_code == 403 and b"HTTPS" in response.content
        unix = database["folder"] / f"server-{port}.sock"
        assert _get_over_unix_socket(unix, f"/key/{token}/formList", headers) == 403
    with server(database, TRUSTED_PROXIES="1") as port:  # one proxy in front, as configured: believed
        response = requests.get(f"http://127.0.0.1:{port}/key/{token}/formList", headers=headers, timeout=10)
        assert response.status_code == 200


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()]


def _shared_dirty_mb(pid: int) -> float:
    """Pages written before the fork and still shared with the parent (and siblings)."""
    line = next(line for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                if line.startswith("Shared_Dirty:"))
    return int(line.split()[1]) / 1024


def test_workers_share_what_the_server_loaded_and_the_check_workers_check(database):
    # Loaded once and forked: a worker that loaded the app itself shares ~3 MB with anything.
    with server(database, CHECK_WORKERS="2", DEVELOPMENT="1") as port:
        master = next(child for child in _children(os.getpid())
                      if f"127.0.0.1:{port}" in Path(f"/proc/{child}/cmdline").read_text())
        web, checks = [], []
        for child in _children(master):
            (checks if "checks" in Path(f"/proc/{child}/cmdline").read_text() else web).append(child)
        assert len(web) == 1 and len(checks) == 1
        deadline = time.monotonic() + 30  # the check process loads the app, then forks
        while len(check_workers := _children(checks[0])) < 2:
            assert time.monotonic() < deadline, "the check process forked no workers"
            time.sleep(0.1)
        assert len(check_workers) == 2
        assert _shared_dirty_mb(web[0]) > 20
        assert all(_shared_dirty_mb(worker) > 20 for worker in check_workers)

        instance_id = f"uuid:{uuid.uuid4()}"
        xml, files = household_visit(CASE, instance_id=instance_id)
        response = requests.post(f"http://127.0.0.1:{port}/key/{database['token']}/submission",
                                 files=[("xml_submission_file", ("submission.xml", xml))] + list(files.items()),
                                 headers={"X-OpenRosa-Version": "1.0"}, timeout=30)
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + 60
        with Session(database["engine"]) as session:
            while session.scalar(select(func.count()).select_from(SubmissionVersion)
                                 .where(SubmissionVersion.instance_id == instance_id,
                                        SubmissionVersion.checked_at.is_not(None))) == 0:
                assert time.monotonic() < deadline, "the check workers did not check the visit"
                session.rollback()
                time.sleep(0.2)

