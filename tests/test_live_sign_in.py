"""Sign-in throttling against a real server: several gunicorn workers share one count per pair
(it lives in the database), and failures arriving at once are all counted, none a 500 (SQLite:
no "database is locked")."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from server.models import SignInFailures
from server.services.areas import create_area
from server.services.users import create_user

from .live import gunicorn, own_database


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("live_sign_in")
    url, drop = own_database(tmp_path)
    engine = create_engine(url)
    with Session(engine) as session:
        create_area(session, code="623001", name="县", level="county")
        create_user(session, username="live-worker", password="live-pass", role="caseworker", area_codes=["623001"])
        session.commit()
    # TRUSTED_PROXIES=1: X-Forwarded-For names the caller's address, so one test client can be many.
    env = {"DATABASE_URL": url, "SECRET_KEY": "live", "DEVELOPMENT": "1", "TRUSTED_PROXIES": "1",
           "CHECK_WORKERS": "0", "INSTANCE_DIR": str(tmp_path), "MEDIA_DIR": str(tmp_path / "media")}
    log = tmp_path / "server.log"
    try:
        with gunicorn(tmp_path, env, "--workers", "4", log=log) as base:
            yield {"base": base, "engine": engine, "log": log}
    finally:
        engine.dispose()
        drop()


def _sign_in(server, username, password, address):
    return requests.get(f"{server['base']}/api/v1/areas", auth=(username, password),
                        headers={"X-Forwarded-For": address}, timeout=60)


def _at_once(count, send):
    barrier = threading.Barrier(count)
    statuses = []

    def run(n):
        barrier.wait()
        statuses.extend(send(n))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


def test_failures_at_once_are_all_counted_and_shared_by_every_worker(server):
    address = "10.9.9.9"
    statuses = _at_once(6, lambda n: [_sign_in(server, "live-worker", f"guess-{n}-{i}", address).status_code
                                      for i in range(6)])
    assert set(statuses) <= {401, 429}, (statuses, server["log"].read_text()[-3000:])
    assert statuses[401] >= 6 and statuses[429] > 0
    with Session(server["engine"]) as session:
        row = session.scalar(select(SignInFailures).where(SignInFailures.address == address))
    assert row.failures == statuses[401]  # every wrong password checked was counted, none lost

    # Whichever worker answers, the pair waits, and the right password does not help.
    assert {_sign_in(server, "live-worker", "live-pass", address).status_code for _ in range(8)} == {429}
    assert _sign_in(server, "live-worker", "live-pass", "10.8.8.8").status_code == 200


def test_many_pairs_failing_at_once_never_answer_500(server):
    statuses = _at_once(8, lambda n: [_sign_in(server, f"nobody-{n}-{i}", "guess", f"10.7.{n}.{i}").status_code
                                      for i in range(5)])
    assert statuses == Counter({401: 40}), server["log"].read_text()[-3000:]
