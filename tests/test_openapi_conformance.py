"""The OpenAPI document is the truth: schemathesis generates requests from /api/v1/openapi.json and
sends them to a real server (gunicorn, its own database, a county with areas, staff, households and
visits), as an administrator and as a township supervisor, and checks that every answer is one the
document declares: no 5xx, a declared status, content type and headers, a body that fits its schema.

Deterministic: a fixed seed and no example database, so CI sends the same requests every run; no
health checks (a slow machine must not fail the run). About two minutes and 2,100 requests each,
most of them schemathesis's coverage phase (each operation's boundaries and invalid values); the
fuzzing examples per operation are CONFORMANCE_EXAMPLES (5), a count rather than a clock.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from server.models import Household, Member
from server.services import forms
from server.services.areas import create_area
from server.services.users import create_user, issue_phone_token

from .builders import household_visit, multipart_files
from .conftest import FORMS_DIR
from .live import gunicorn, own_database

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "5"))
SEED = 15
PASSWORDS = {"admin": "conformance-admin", "supervisor": "conformance-sup"}
VILLAGES = ["623001100001", "623001100002", "623001200001", "623001200002"]


def _seed(url: str) -> str:
    """A county with two townships, villages, staff of every role and households; returns the
    caseworker's phone token (visits are sent through the server, as a phone sends them)."""
    engine = create_engine(url)
    with Session(engine) as session:
        forms.publish_directory(session, FORMS_DIR, validate=False)  # validated by the main suite
        create_area(session, code="623001", name="石门县", level="county")
        townships = [create_area(session, code=f"623001{n}00", name=f"{n}镇", level="township", parent_code="623001")
                     for n in (1, 2)]
        villages = [create_area(session, code=code, name=f"{code[-4]}镇{code[-1]}村", level="village",
                                parent_code=code[:9]) for code in VILLAGES]
        create_user(session, username="admin", password=PASSWORDS["admin"], role="admin", area_codes=[])
        create_user(session, username="supervisor", password=PASSWORDS["supervisor"], role="supervisor",
                    area_codes=[townships[0].code])
        create_user(session, username="county", password="conformance-county", role="county", area_codes=["623001"])
        worker = create_user(session, username="caseworker", password="conformance-cw", role="caseworker",
                             area_codes=[villages[0].code])
        for number, village in enumerate(villages * 2, start=1):
            session.add(Household(case_number=f"{village.code}{number:03d}", village_id=village.id, head_name=f"户主{number}",
                                  address=f"{village.name}{number}号", residence="rural", status="active",
                                  category="B", latitude=35.0, longitude=104.6,
                                  members=[Member(name=f"户主{number}", relation="head", sex="male")]))
        token = issue_phone_token(session, worker)
        session.commit()
    engine.dispose()
    return token


def _through_the_api(base: str, token: str) -> dict[str, list]:
    """Visits sent by the caseworker's phone, an approval, a drawn spot-check campaign: made as the
    users make them. Returns the identifiers that exist, for schemathesis to use in paths beside
    the ones it makes up (which mostly name nothing: 404)."""
    cases = [f"623001100001{number:03d}" for number in (1, 5)]
    for case in cases:  # two visits with their photos, filed under the caseworker's village
        xml, files = household_visit(case)
        answer = requests.post(f"{base}/key/{token}/submission", files=multipart_files(xml, files),
                               headers={"X-OpenRosa-Version": "1.0"}, timeout=60)
        assert answer.status_code == 201, answer.text

    def api(method, path, who, **kwargs):
        answer = requests.request(method, f"{base}/api/v1{path}", auth=who, timeout=60, **kwargs)
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
        return answer.json()

    county, worker = ("county", "conformance-county"), ("caseworker", "conformance-cw")
    visits = {row["case_number"]: row["id"] for row in api("GET", "/submissions", worker)}
    submissions = sorted(visits.values())
    files = [a["sha256"] for sid in submissions for a in api("GET", f"/submissions/{sid}", worker)["attachments"]
             if a["sha256"]]
    approval = api("POST", f"/cases/{cases[0]}/approvals", worker, json={"basis_submission_id": visits[cases[0]]})
    campaign = api("POST", "/campaigns", county, json={"name": "2026 抽查", "county_code": "623001",
                                                        "period_start": "2026-01-01", "period_end": "2026-12-31",
                                                        "population": "active_households", "rate_permille": 500})
    api("POST", f"/campaigns/{campaign['id']}/draw", county)
    items = [item["id"] for item in api("GET", f"/campaigns/{campaign['id']}/items", county)]
    return {"case_number": [f"{v}{n:03d}" for n, v in enumerate(VILLAGES * 2, start=1)],
            "county_code": ["623001"], "username": ["admin", "supervisor", "county", "caseworker"],
            "submission_id": submissions, "sha256": files, "round_id": [approval["id"]],
            "campaign_id": [campaign["id"]], "item_id": items, "form_id": ["household_visit"]}


def _config(known: dict[str, list]) -> str:
    """schemathesis.toml: each path parameter takes a known identifier half the time."""
    lines = []
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}", ""]
    lines.append("[parameters]")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in known]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("conformance")
    url, drop = own_database(tmp_path)
    token = _seed(url)
    env = {"DATABASE_URL": url, "SECRET_KEY": "conformance", "DEVELOPMENT": "1",
           "INSTANCE_DIR": str(tmp_path), "MEDIA_DIR": str(tmp_path / "media"),
           # The checks run inside the visit's request: the visits have their flags and thumbnails
           # before the run, and no background writer makes the run depend on timing.
           "CHECK_WORKERS": "0", "CHECKS_INLINE": "1"}
    log = tmp_path / "server.log"
    try:
        with gunicorn(tmp_path, env, "--workers", "2", log=log) as base:
            yield {"base": base, "log": log, "known": _through_the_api(base, token)}
    finally:
        drop()


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_every_answer_is_one_the_openapi_document_declares(server, role, tmp_path):
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{server['base']}/api/v1/openapi.json",
        "--checks", ",".join(CHECKS), "--auth", f"{role}:{PASSWORDS[role]}",
        "--seed", str(SEED), "--max-examples", str(EXAMPLES), "--generation-database", "none",
        "--suppress-health-check", "all", "--workers", "1", "--request-timeout", "60", "--no-color",
    ]
    (tmp_path / "schemathesis.toml").write_text(_config(server["known"]), encoding="utf-8")
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr, encoding="utf-8")
    server_log = server["log"].read_text(errors="replace")  # a 500's traceback is there
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:] + "\nserver log:\n" + server_log[-10000:]
