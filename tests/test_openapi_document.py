"""The OpenAPI document says what the server answers: each real answer below is held to it with
schemathesis's own checks (declared status, content type, headers, body schema), and a request's
shape is judged by the document's request schema. The whole API is fuzzed against the document in
tests/test_openapi_conformance.py; these are the cases it found, each on its own."""
from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest
import schemathesis
from schemathesis.specs.openapi import checks

from .builders import household_visit
from .conftest import basic_auth
from .test_submission import post

CHECKS = [checks.status_code_conformance, checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def assert_declared(document: dict, method: str, path: str, response) -> None:
    """The answer is one the document declares for that operation (else schemathesis raises, saying how)."""
    operation = schemathesis.openapi.from_dict(document)[path][method]
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
    sent = re.fullmatch(pattern, response.request.path)
    operation.Case(path_parameters=sent.groupdict()).validate_response(response, checks=CHECKS)


def valid_by_document(document: dict, method: str, path: str, body) -> bool:
    schema = document["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": [schema],
            "components": document["components"]}
    return jsonschema_rs.validator_for(root).is_valid(body)


@pytest.fixture
def site(make):
    county = make.county()
    township = make.township(county)
    village = make.village(township)
    household = make.household(village, status="applicant", category=None)
    users = {role: make.user(role, areas, password=f"pw-{role}") for role, areas in
             [("admin", []), ("county", [county]), ("supervisor", [township]), ("caseworker", [village])]}
    return {"county": county, "village": village, "household": household, "users": users,
            "auth": {role: basic_auth(user.username, f"pw-{role}") for role, user in users.items()}}


def test_error_bodies_are_the_declared_error_schema(client, document, site):
    # The document declared flask-smorest's error schema (an integer `code`, no `details`) under a
    # catch-all "default"; every error the server sends has a string code, and some a `details`.
    auth = site["auth"]
    answers = [
        ("GET", "/api/v1/areas", client.get("/api/v1/areas"), 401),
        ("GET", "/api/v1/areas", client.get("/api/v1/areas", headers=basic_auth("nobody", "x")), 401),
        ("POST", "/api/v1/areas", client.post("/api/v1/areas", json={"code": "623009", "name": "x", "level": "county"},
                                               headers=auth["caseworker"]), 403),
        ("GET", "/api/v1/cases/{case_number}", client.get("/api/v1/cases/623001100001999", headers=auth["supervisor"]), 404),
        ("POST", "/api/v1/users", client.post("/api/v1/users", json={"username": site["users"]["county"].username,
                                                                      "password": "pass-word", "role": "admin"},
                                               headers=auth["admin"]), 409),
        ("POST", "/api/v1/areas", client.post("/api/v1/areas", json={"name": "x"}, headers=auth["admin"]), 422),
        ("GET", "/api/v1/cases", client.get("/api/v1/cases?village=a%00b", headers=auth["supervisor"]), 400),
        ("POST", "/api/v1/standards", client.post("/api/v1/standards", headers=auth["admin"], json={
            "area_code": "629999", "residence": "rural", "monthly_fen": 60000, "effective_from": "2026-01-01"}), 404),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.status_code, response.get_json())
        assert isinstance(response.get_json()["code"], str)
        assert_declared(document, method, path, response)
    validation = answers[5][2].get_json()
    assert validation["code"] == "validation_failed" and "code" in validation["details"]["json"]
    assert "WWW-Authenticate" in document["components"]["responses"]["UNAUTHORIZED"]["headers"]


def test_no_operation_has_a_catch_all_default_response(document):
    # A "default" response declares every status at once: an undeclared 500 or 404 would conform.
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"], (method, path)
            assert {"400", "401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_x_pagination_is_declared_as_the_json_string_it_is(client, document, site):
    response = client.get("/api/v1/cases?page_size=1", headers=site["auth"]["supervisor"])
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 1
    assert document["components"]["headers"]["PAGINATION"]["schema"]["type"] == "string"
    assert_declared(document, "GET", "/api/v1/cases", response)


@pytest.mark.parametrize("path, body, expected", [
    ("/api/v1/areas", {"code": "", "name": "空", "level": "county"}, 422),
    ("/api/v1/areas", {"code": "623009", "name": "  ", "level": "county"}, 422),
    ("/api/v1/areas", {"code": "623009", "name": "新县", "level": "county"}, 201),
    ("/api/v1/users", {"username": "名字", "password": "pass-word", "role": "admin"}, 422),
    ("/api/v1/users", {"username": "taken", "password": "pass-word", "role": "admin"}, 409),
    ("/api/v1/users/{username}/api-tokens", {"name": "月度导出"}, 422),
    ("/api/v1/users/{username}/api-tokens", {"name": "monthly-export"}, 201),
    ("/api/v1/submissions/{submission_id}/comments", {"text": ""}, 422),
    ("/api/v1/submissions/{submission_id}/comments", {"text": " \n "}, 422),
    ("/api/v1/submissions/{submission_id}/comments", {"text": "收入有证明吗？"}, 201),
])
def test_a_request_valid_by_the_document_is_not_refused_for_its_shape(client, document, site, make, path, body,
                                                                      expected):
    # Each of these used to pass the document and be refused with a 400 by the service: the document
    # now says what the service takes (422 when it does not), and a taken username is a conflict.
    make.user("admin", username="taken")
    submission_id = None
    if "comments" in path:  # a comment is on a visit as received
        xml, files = household_visit(site["household"].case_number)
        assert post(client, make.token(site["users"]["caseworker"]), xml, files).status_code == 201
        [submission_id] = [row["id"] for row in client.get("/api/v1/submissions", headers=site["auth"]["supervisor"]).json]
    url = path.format(username=site["users"]["supervisor"].username, submission_id=submission_id)
    who = "supervisor" if "{" in path else "admin"
    response = client.post(url, json=body, headers=site["auth"][who])
    assert response.status_code == expected, response.get_json()
    assert valid_by_document(document, "POST", path, body) == (expected != 422)
    assert_declared(document, "POST", path, response)


def test_an_approval_needs_the_visit_it_rests_on(client, document, site, make):
    # With no body an approval was opened with no basis (201), and it blocked the household's next one.
    path = f"/api/v1/cases/{site['household'].case_number}/approvals"
    auth = site["auth"]["caseworker"]
    for sent in ({}, {"json": {}}, {"json": {"basis_submission_id": None}}):
        response = client.post(path, headers=auth, **sent)
        assert response.status_code == 422, (sent, response.get_json())
        assert_declared(document, "POST", "/api/v1/cases/{case_number}/approvals", response)
    assert client.get(path, headers=auth).get_json() == []
    assert document["paths"]["/api/v1/cases/{case_number}/approvals"]["post"]["requestBody"]["required"] is True
    visit = make.visit(site["household"], site["users"]["caseworker"])
    opened = client.post(path, json={"basis_submission_id": visit.id}, headers=auth)
    assert opened.status_code == 201 and opened.get_json()["basis_submission_id"] == visit.id


def test_a_campaign_answer_fits_the_document_with_its_large_seed(client, document, site):
    # The range every request integer is held to (PostgreSQL's integer) was also declared on fields
    # only ever sent out: a campaign's seed is a 63-bit number, so its answers broke the document.
    response = client.post("/api/v1/campaigns", headers=site["auth"]["county"], json={
        "county_code": site["county"].code, "period_start": "2026-01-01", "period_end": "2026-06-30",
        "population": "active_households"})
    assert response.status_code == 201, response.get_json()
    assert_declared(document, "POST", "/api/v1/campaigns", response)


def test_a_member_with_no_birth_date_fits_the_document(client, document, site):
    # A member's birth date is optional (a household registered from table 1 may lack it): the answer
    # carried null where the document declared a date.
    case = site["household"].case_number
    response = client.get(f"/api/v1/cases/{case}", headers=site["auth"]["supervisor"])
    assert response.status_code == 200 and response.get_json()["members"][0]["birth_date"] is None
    assert_declared(document, "GET", "/api/v1/cases/{case_number}", response)
