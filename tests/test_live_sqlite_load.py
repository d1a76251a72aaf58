"""A county's day on the embedded SQLite default, against a real gunicorn server: supervisors write
(comments, reviews, status changes, approvals, users, areas, tokens, county rules) and read, while
two check workers work through a backlog and a phone keeps uploading visits; an administrator runs
`flask areas create` and `flask users create` meanwhile. No request answers 500, nothing says
"database is locked" (before the transaction boundary, 141 of 231 such writes did), and the CLI
commands succeed. Runs on PostgreSQL too when TEST_DATABASE_URL is set."""
from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from server.config import PROJECT_ROOT as ROOT
from server.models import Household, Member, Submission, SubmissionVersion, User
from server.services import forms
from server.services.areas import create_area
from server.services.users import create_user, issue_api_token, issue_phone_token

from .builders import household_visit
from .conftest import FORMS_DIR, basic_auth
from .live import gunicorn, own_database

LOAD_SECONDS = 20
MIN_ROUNDS = 3  # each supervisor's round of writes, however slow the machine
BACKLOG = 24  # visits waiting for their checks when the load starts
HOUSEHOLDS = 12
OPENROSA = {"X-OpenRosa-Version": "1.0"}


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("load")
    url, drop = own_database(tmp_path)
    engine = create_engine(url)
    with Session(engine) as session:
        forms.publish_directory(session, FORMS_DIR, validate=False)  # validated by the main suite
        county = create_area(session, code="623001", name="县", level="county")
        township = create_area(session, code="623001100", name="镇", level="township", parent_code=county.code)
        village = create_area(session, code="623001100001", name="村", level="village", parent_code=township.code)
        worker = create_user(session, username="load-worker", password="pw-worker", role="caseworker",
                             area_codes=[village.code])
        create_user(session, username="load-admin", password="pw-admin", role="admin", area_codes=[])
        people = {"admin": "load-admin"}
        for role, area in (("supervisor", township), ("county", county)):
            for n in range(2):
                people[f"{role}{n}"] = create_user(session, username=f"load-{role}{n}", password=f"pw-{role}{n}",
                                                   role=role, area_codes=[area.code]).username
        cases = [f"{village.code}{n:03d}" for n in range(1, HOUSEHOLDS + 1)]
        for number in cases:
            session.add(Household(case_number=number, village_id=village.id, head_name=f"户主{number[-3:]}",
                                  residence="rural", status="active", category="B",
                                  members=[Member(name=f"户主{number[-3:]}", relation="head", sex="male")]))
        token = issue_phone_token(session, worker)
        # Scripts sign in with API tokens; making accounts and tokens below signs in with a password.
        bearer = {}
        for who, name in people.items():
            secret = issue_api_token(session, session.scalar(select(User).where(User.username == name)), "load")[1]
            bearer[who] = {"Authorization": f"Bearer {secret}"}
        session.commit()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "load", "DEVELOPMENT": "1", "CHECK_WORKERS": "0",
           "INSTANCE_DIR": str(tmp_path), "MEDIA_DIR": str(tmp_path / "media")}
    log = tmp_path / "server.log"
    try:
        with gunicorn(tmp_path, env, "--workers", "4", log=log) as base:
            yield {"base": base, "phone": f"{base}/key/{token}", "engine": engine, "env": env, "log": log, "cases": cases,
                   "bearer": bearer, "basic": {who: basic_auth(name, f"pw-{who}") for who, name in people.items()},
                   "tmp": tmp_path}
    finally:
        engine.dispose()
        drop()


def upload(day, number: str, *, seed: int) -> int:
    xml, files = household_visit(number, instance_id=f"uuid:{uuid.uuid4()}", photo_seed=seed)
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))] + [(n, (n, b)) for n, b in files.items()]
    return requests.post(f"{day['phone']}/submission", files=parts, headers=OPENROSA, timeout=60).status_code


def test_supervisors_writes_phones_and_the_cli_while_the_check_workers_have_a_backlog(day):
    cases, bearer, basic, base = day["cases"], day["bearer"], day["basic"], day["base"]
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda n: upload(day, cases[n % len(cases)], seed=n), range(BACKLOG)))
    assert statuses == [201] * BACKLOG
    with Session(day["engine"]) as session:
        filed = session.execute(select(Submission.id, Household.case_number)
                                .join(Household, Household.id == Submission.household_id).order_by(Submission.id)).all()
        submissions = [submission for submission, _ in filed]
        of_case = {number: [s for s, n in filed if n == number] for number in cases}
        waiting = session.scalar(select(func.count()).where(SubmissionVersion.checked_at.is_(None)))
    assert waiting == BACKLOG  # nobody checks them yet: the workers start with the load

    workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "checks", "work", "--pause", "0"],
                                cwd=ROOT, env=day["env"], stdout=subprocess.DEVNULL,
                                stderr=open(day["tmp"] / f"worker{n}.log", "wb")) for n in range(2)]
    answers: Counter = Counter()
    failures: list[str] = []
    stop = time.monotonic() + LOAD_SECONDS
    lock = threading.Lock()

    def call(method, path, who, *, auth=bearer, **kwargs):
        response = requests.request(method, f"{base}/api/v1{path}", headers=auth[who], timeout=60, **kwargs)
        with lock:
            answers[(method, re.sub(r"/[0-9]+", "/{}", re.sub(r"/load-[a-z0-9]+", "/{}", path)), response.status_code)] += 1
            if response.status_code >= 500 or "locked" in response.text:
                failures.append(f"{method} {path} {response.status_code} {response.text[:200]}")
        return response

    def supervisor(n: int) -> None:
        rng = random.Random(n)
        sup, county = f"supervisor{n % 2}", f"county{n % 2}"
        i = 0
        while time.monotonic() < stop or i < MIN_ROUNDS:
            i += 1
            number = rng.choice(cases)
            submission = rng.choice(of_case[number] or submissions)
            call("POST", f"/submissions/{submission}/comments", sup, json={"text": f"看一下 {n}-{i}"})
            current = call("GET", f"/submissions/{submission}", sup)
            if current.status_code == 200:
                call("POST", f"/submissions/{submission}/review", sup,
                     json={"decision": "return", "reason": "照片模糊，请重拍", "version": current.json()["version"]})
            call("POST", f"/cases/{number}/status", county, json={"status": "suspended", "reason": "circumstances_under_review"})
            call("POST", f"/cases/{number}/status", county, json={"status": "active", "reason": "resumed"})
            call("POST", f"/cases/{number}/approvals", sup, json={"basis_submission_id": submission})
            call("PUT", "/county-rules/623001", county, json={"not_home_limit": rng.randint(2, 5)})
            call("POST", "/areas", "admin", json={"code": f"623001100{next(village_codes):03d}", "name": f"新村{n}-{i}",
                                                  "level": "village", "parent_code": "623001100"})
            call("POST", "/users", "admin", auth=basic, json={"username": f"load-new-{n}-{i}", "password": "pw-new-user",
                                                              "role": "caseworker", "area_codes": ["623001100001"]})
            minted = call("POST", f"/users/load-{sup}/api-tokens", sup, auth=basic, json={"name": f"script-{n}-{i}"})
            if minted.status_code == 201:
                call("DELETE", f"/users/load-{sup}/api-tokens/{minted.json()['id']}", sup, auth=basic)
            call("GET", f"/cases/{number}", sup)
            call("GET", "/due", sup)

    def phone() -> None:
        n = BACKLOG
        while time.monotonic() < stop:
            status = upload(day, cases[n % len(cases)], seed=n)
            with lock:
                answers[("POST", "/submission", status)] += 1
                if status != 201:
                    failures.append(f"upload {status}")
            n += 1

    cli_results = []
    village_codes = itertools.count(100)  # 623001100900 is the CLI's

    def cli() -> None:
        time.sleep(LOAD_SECONDS / 3)
        for args in (["areas", "create", "623001100900", "命令行村", "--level", "village", "--parent", "623001100"],
                     ["users", "create", "load-cli-user", "--role", "caseworker", "--area", "623001100900",
                      "--password", "pw-cli-user"]):
            cli_results.append(subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                                              env=day["env"], capture_output=True, text=True, timeout=120))

    threads = [threading.Thread(target=supervisor, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=phone), threading.Thread(target=cli)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    elapsed = time.monotonic() - started

    with Session(day["engine"]) as session:
        checked = session.scalar(select(func.count()).where(SubmissionVersion.checked_at.is_not(None)))
    writes = sum(count for (method, _, _), count in answers.items() if method != "GET")
    print(f"\n{elapsed:.1f} s: {writes} writes and {sum(answers.values()) - writes} reads; {checked} versions checked;",
          dict(sorted(answers.items())))
    logs = [day["log"].read_text(), *((day["tmp"] / f"worker{n}.log").read_text() for n in range(2))]
    assert failures == []
    assert not any("database is locked" in text for text in logs), [t for t in logs if "database is locked" in t][0][-3000:]
    assert not any("Traceback" in text for text in logs), [t for t in logs if "Traceback" in t][0][-3000:]
    assert [(r.returncode, r.stderr[-500:]) for r in cli_results] == [(0, ""), (0, "")]
    assert "created village 623001100900" in cli_results[0].stdout and "created caseworker" in cli_results[1].stdout
    # The load was a load: every kind of write went through, and the workers were at work all along.
    assert checked > 0
    for kind in ("/submissions/{}/comments", "/submissions/{}/review", "/cases/{}/status", "/cases/{}/approvals",
                 "/county-rules/{}", "/areas", "/users", "/users/{}/api-tokens"):
        assert any(path == kind and status < 300 for (method, path, status) in answers if method != "GET"), kind
