"""Real server processes, for the tests where the protocol, timing or concurrency is the point: a
migrated database of their own (a server process cannot join a test's rolled-back transaction) and
gunicorn started from the project folder, as `make serve` starts it (gunicorn.conf.py)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from server.cli import upgrade_database
from server.config import PROJECT_ROOT
from server.models import Household, Member
from server.services import forms
from server.services.areas import create_area
from server.services.users import create_user, issue_phone_token

from .conftest import FORMS_DIR

ONE_CASE = "623001100001001"  # the household seed_one_household makes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_database(tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """A migrated database of its own, and how to drop it: SQLite in tmp_path, or, when
    TEST_DATABASE_URL is set, a new PostgreSQL database beside the suite's."""
    main = os.environ.get("TEST_DATABASE_URL")
    if not main:
        url, drop = f"sqlite:///{tmp_path / 'live.sqlite3'}", lambda: None
    else:
        name = f"live_{uuid.uuid4().hex[:8]}"
        admin = create_engine(main, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(main).set(database=name).render_as_string(hide_password=False)

        def drop():
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    upgrade_database(url)
    return url, drop


def seed_one_household(session: Session) -> str:
    """The published forms, a county with one village, a caseworker there and the household
    ONE_CASE in it; committed. Returns the caseworker's phone token."""
    forms.publish_directory(session, FORMS_DIR, validate=False)  # validated by the main suite
    create_area(session, code="623001", name="县", level="county")
    create_area(session, code="623001100", name="镇", level="township", parent_code="623001")
    village = create_area(session, code="623001100001", name="村", level="village", parent_code="623001100")
    user = create_user(session, username="live-worker", password="live-pass", role="caseworker",
                       area_codes=[village.code])
    session.add(Household(case_number=ONE_CASE, village_id=village.id, head_name="王五", residence="rural",
                          status="active", members=[Member(name="王五", relation="head", sex="male")]))
    token = issue_phone_token(session, user)
    session.commit()
    return token


@contextlib.contextmanager
def gunicorn(folder: Path, env: dict, *options: str, port: int | None = None, stop_seconds: float = 30,
             log: Path | None = None) -> Iterator[str]:
    """gunicorn serving wsgi:app on 127.0.0.1 (port: a free one unless given) with these options, in
    the environment `env` over this process's, its log in folder/server-PORT.log unless `log` is
    named; yields its base URL once it answers HTTP, and stops it afterwards."""
    port = port or free_port()
    log = log or folder / f"server-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *options, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log_file, stderr=log_file)
    try:
        for _ in range(150):  # any answer: a worker is serving
            if process.poll() is not None:
                raise RuntimeError(log.read_text())
            try:
                requests.head(f"{base}/submission", headers={"X-OpenRosa-Version": "1.0"}, timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError(log.read_text())
        yield base
    finally:
        process.terminate()
        process.wait(timeout=stop_seconds)
