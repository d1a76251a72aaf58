"""State-changing requests from another site's page are refused (finding 5: a bodiless POST with a
foreign Origin replaced a user's phone token)."""
from __future__ import annotations

import io

import pytest

from server.origin import origin_of

from .builders import household_visit
from .conftest import OPENROSA, basic_auth


@pytest.fixture
def worker(make):
    return make.user("caseworker", [make.county()], password="pw-worker")


def _phone_token(client, worker, **headers):
    return client.post(f"/api/v1/users/{worker.username}/phone-token",
                       headers={**basic_auth(worker.username, "pw-worker"), **headers})


def test_a_foreign_origin_cannot_replace_the_phone_token(client, worker):
    first = _phone_token(client, worker)
    assert first.status_code == 201
    refused = _phone_token(client, worker, Origin="https://evil.example")
    assert refused.status_code == 403 and refused.json["code"] == "foreign_origin", refused.json
    assert "evil.example" in refused.json["message"]
    # The phone keeps working: nothing was replaced.
    assert client.get(f"/key/{first.json['token']}/formList", headers=OPENROSA).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},                                   # a sandboxed frame or a file: page
    {"Origin": "http://dibao.test"},                      # our host, another scheme
    {"Origin": "https://dibao.test:8443"},                # our host, another port
    {"Origin": "https://dibao.test.evil.example"},
    {"Sec-Fetch-Site": "cross-site"},                     # a browser that sent no Origin
    {"Sec-Fetch-Site": "same-site"},                      # a sibling subdomain is another origin too
])
def test_every_other_origin_is_refused(client, worker, headers):
    response = _phone_token(client, worker, **headers)
    assert response.status_code == 403 and response.json["code"] == "foreign_origin"


@pytest.mark.parametrize("headers", [
    {},                                                   # scripts and curl send no Origin
    {"Origin": "https://dibao.test"},                     # our own pages
    {"Origin": "HTTPS://Dibao.Test:443"},                 # the same origin, spelt otherwise
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},                           # typed into the address bar
])
def test_our_own_origin_and_no_origin_pass(client, worker, headers):
    assert _phone_token(client, worker, **headers).status_code == 201


def test_reads_are_not_held_to_the_origin(client, worker):
    response = client.get("/api/v1/areas", headers={**basic_auth(worker.username, "pw-worker"),
                                                    "Origin": "https://evil.example"})
    assert response.status_code == 200


def test_the_configured_public_address_is_the_origin(app, client, worker, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://dibao.example.gov.cn")
    assert _phone_token(client, worker, Origin="https://dibao.example.gov.cn").status_code == 201
    # The request's own Host no longer counts once the address is configured.
    refused = _phone_token(client, worker, Origin="https://dibao.test")
    assert refused.status_code == 403 and refused.json["code"] == "foreign_origin"


def test_phones_send_no_origin_and_their_refusals_are_openrosa_xml(client, make, session):
    county = make.county()
    village = make.village(make.township(county))
    worker = make.user("caseworker", [village], password="pw-phone")
    household = make.household(village)
    xml, _files = household_visit(household.case_number, with_photos=False)
    sign_in = {**OPENROSA, **basic_auth(worker.username, "pw-phone")}
    forged = client.post("/submission", data={"xml_submission_file": (io.BytesIO(xml), "submission.xml")},
                         headers={**sign_in, "Origin": "https://evil.example"})
    assert forged.status_code == 403 and b"<OpenRosaResponse" in forged.data and b"another site" in forged.data
    stored = client.post("/submission", data={"xml_submission_file": (io.BytesIO(xml), "submission.xml")},
                         headers=sign_in)
    assert stored.status_code == 201, stored.data


def test_origin_of():
    assert origin_of("https://Dibao.Example.gov.cn:443/path?q") == "https://dibao.example.gov.cn"
    assert origin_of("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    assert origin_of("http://[::1]:80") == "http://[::1]"
    assert origin_of("null") == "" and origin_of("https://host:port") == ""
