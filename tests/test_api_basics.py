"""The JSON API: phone tokens with Collect's settings QR, areas, cases within reach, masking."""
from __future__ import annotations

import base64
import io
import re

import zxingcpp
from PIL import Image

from server.services.phone import decode_settings_qr_payload

from .conftest import OPENROSA, basic_auth


def test_the_phone_token_url_is_at_public_base_url_whatever_the_host_header(app, session, make):
    from .conftest import site_client

    worker = make.user("caseworker", [make.county()], password="worker-pass")
    response = site_client(app, "https://evil.example").post(f"/api/v1/users/{worker.username}/phone-token",
                                                             headers=basic_auth(worker.username, "worker-pass"))
    assert response.status_code == 201, response.json
    assert response.json["server_url"] == f"https://dibao.test/key/{response.json['token']}"
    assert "evil.example" not in decode_settings_qr_payload(response.json["qr_payload"])["general"]["server_url"]


def test_phone_token_with_qr_png_and_collect_settings(client, make):
    county = make.county()
    admin = make.user("admin", password="admin-pass")
    worker = make.user("caseworker", [county], password="worker-pass")
    response = client.post(f"/api/v1/users/{worker.username}/phone-token", headers=basic_auth(admin.username, "admin-pass"))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["server_url"] == f"https://dibao.test/key/{body['token']}"
    settings = decode_settings_qr_payload(body["qr_payload"])
    assert settings["general"]["server_url"] == body["server_url"]
    assert "password" not in settings["general"]
    png = base64.b64decode(body["qr_png"].removeprefix("data:image/png;base64,"))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    # A real QR decoder reads back exactly the payload Collect's scanner would.
    [decoded] = zxingcpp.read_barcodes(image)
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode and decoded.text == body["qr_payload"]

    # The token works on the phone protocol, and only its hash is stored.
    assert client.get(f"/key/{body['token']}/formList", headers=OPENROSA).status_code == 200
    revoked = client.delete(f"/api/v1/users/{worker.username}/phone-token", headers=basic_auth(admin.username, "admin-pass"))
    assert revoked.status_code == 204
    assert client.get(f"/key/{body['token']}/formList", headers=OPENROSA).status_code == 401


def test_users_manage_only_their_own_phone(client, make):
    county = make.county()
    one = make.user("caseworker", [county], password="pw-one")
    other = make.user("caseworker", [county], password="pw-two")
    assert client.post(f"/api/v1/users/{one.username}/phone-token", headers=basic_auth(one.username, "pw-one")).status_code == 201
    assert client.post(f"/api/v1/users/{other.username}/phone-token", headers=basic_auth(one.username, "pw-one")).status_code == 403


def test_api_needs_credentials_and_https(client, app, make):
    from .conftest import site_client

    county = make.county()
    make.user("caseworker", [county], username="worker-x", password="pw-x")
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", headers=basic_auth("worker-x", "wrong")).status_code == 401
    assert client.get("/api/v1/cases").json["code"] == "unauthenticated"
    assert client.get("/api/v1/cases", headers=basic_auth("worker-x", "wrong")).json["code"] == "wrong_password"
    plain = site_client(app, "http://dibao.test")
    response = plain.get("/api/v1/cases", headers=basic_auth("worker-x", "pw-x"))
    assert response.status_code == 403 and response.json["code"] == "https_required"


def test_cases_within_reach_with_masked_id_numbers(client, make):
    county = make.county()
    township = make.township(county)
    east, west = make.village(township, "001", "东村"), make.village(township, "002", "西村")
    worker = make.user("caseworker", [east], password="pw-1")
    mine, theirs = make.household(east), make.household(west)
    listed = client.get("/api/v1/cases", headers=basic_auth(worker.username, "pw-1"))
    assert [c["case_number"] for c in listed.json] == [mine.case_number]
    assert listed.headers["X-Pagination"]

    one = client.get(f"/api/v1/cases/{mine.case_number}", headers=basic_auth(worker.username, "pw-1")).json
    full = mine.members[0].id_number
    assert one["members"][0]["id_number"] == full[:6] + "********" + full[-4:]
    assert full not in client.get(f"/api/v1/cases/{mine.case_number}", headers=basic_auth(worker.username, "pw-1")).text

    # Outside the caller's reach a case does not exist (404, not 403).
    hidden = client.get(f"/api/v1/cases/{theirs.case_number}", headers=basic_auth(worker.username, "pw-1"))
    missing = client.get("/api/v1/cases/000000000000", headers=basic_auth(worker.username, "pw-1"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["message"].replace(theirs.case_number, "X") == missing.json["message"].replace("000000000000", "X")


def test_areas_api(client, make):
    county = make.county()
    township = make.township(county)
    make.village(township)
    admin = make.user("admin", password="admin-pw")
    worker = make.user("caseworker", [township], password="pw-1")
    assert [a["level"] for a in client.get("/api/v1/areas", headers=basic_auth(worker.username, "pw-1")).json] == ["township", "village"]
    created = client.post("/api/v1/areas", json={"code": township.code + "009", "name": "新村", "level": "village",
                                                  "parent_code": township.code}, headers=basic_auth(admin.username, "admin-pw"))
    assert created.status_code == 201 and created.json["parent_code"] == township.code
    bad = client.post("/api/v1/areas", json={"code": "12", "name": "x", "level": "village", "parent_code": township.code},
                      headers=basic_auth(admin.username, "admin-pw"))
    assert bad.status_code == 422 and "code" in bad.json["details"]["json"]  # no code of any level: the document says so
    bad = client.post("/api/v1/areas", json={"code": township.code, "name": "x", "level": "village",
                                             "parent_code": township.code}, headers=basic_auth(admin.username, "admin-pw"))
    assert bad.status_code == 400 and "12 digits" in bad.json["message"]
    refused = client.post("/api/v1/areas", json={"code": township.code + "010", "name": "y", "level": "village",
                                                 "parent_code": township.code}, headers=basic_auth(worker.username, "pw-1"))
    assert refused.status_code == 403


def test_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/forms" in spec["paths"] and "/api/v1/users/{username}/phone-token" in spec["paths"]
    assert spec["security"] == [{"basic": []}, {"bearer": []}]
    assert spec["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}


def test_ids_beyond_the_integer_columns_name_no_row(client, app, make):
    # Every path id is a PostgreSQL integer: one past its largest used to reach the query, which
    # PostgreSQL refuses (a 500); now it matches no route, as an id with no row gets a 404.
    county = make.county()
    household = make.household(make.village(make.township(county)))
    admin = make.user("admin", password="admin-pw")
    rules = [rule for rule in app.url_map.iter_rules() if re.search(r"<(id|int):", rule.rule)]
    assert len(rules) >= 10
    for rule in rules:
        path = re.sub(r"<(id|int):\w+>", str(2**31), rule.rule)
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: household.case_number if "case" in m[1] else "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={}, headers=basic_auth(admin.username, "admin-pw"))
            assert response.status_code == 404, (method, path, response.status_code)


def test_every_integer_a_request_takes_fits_the_integer_columns(client):
    # An integer past PostgreSQL's integer reached the database (a review's `version`: a 500). Each
    # integer of a request body or query now has a range (the API's Schema gives one where a field
    # has none), and the OpenAPI document shows it.
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    def integers(schema, where):
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
        if schema.get("readOnly"):  # in answers only, never taken from a request
            return
        if schema.get("type") == "integer":
            yield where, schema
        for name, inner in schema.get("properties", {}).items():
            yield from integers(inner, f"{where}.{name}")
        if "items" in schema:
            yield from integers(schema["items"], f"{where}[]")

    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                found += integers(body, f"{method} {path} body")
            for parameter in operation.get("parameters", []):
                found += integers(parameter.get("schema", {}), f"{method} {path} {parameter['name']}")
    assert len(found) >= 20
    unbounded = [where for where, schema in found if not where.endswith(" page")  # a page past the end is empty
                 and not (-2**31 <= schema.get("minimum", -2**63) and schema.get("maximum", 2**63) <= 2**31 - 1)]
    assert unbounded == []


def test_an_integer_past_the_columns_is_422_naming_the_field(client, make, session):
    county = make.county()
    admin = make.user("admin", password="admin-pw")
    response = client.post("/api/v1/campaigns", json={"county_code": county.code, "population": "all",
                                                     "rate_permille": 300, "error_threshold_permille": 2**40},
                           headers=basic_auth(admin.username, "admin-pw"))
    assert response.status_code == 422 and "error_threshold_permille" in response.get_json()["details"]["json"]
    response = client.post("/api/v1/campaigns", json={"county_code": county.code, "population": "all", "name": "名" * 201},
                           headers=basic_auth(admin.username, "admin-pw"))
    assert response.status_code == 422 and "name" in response.get_json()["details"]["json"]


def test_a_page_far_past_the_end_is_empty(client, make):
    county = make.county()
    make.household(make.village(make.township(county)))
    admin = make.user("admin", password="admin-pw")
    for path in ("/api/v1/cases", "/api/v1/submissions", "/api/v1/audit"):
        response = client.get(f"{path}?page={10**25}", headers=basic_auth(admin.username, "admin-pw"))
        assert response.status_code == 200 and response.get_json() == [], path
        assert client.get(f"{path}?page=0", headers=basic_auth(admin.username, "admin-pw")).status_code == 422


def test_the_nul_character_is_refused_wherever_text_comes_in(client, make):
    # PostgreSQL can neither store nor compare a text with NUL in it: each of these was a 500 there.
    county = make.county()
    household = make.household(make.village(make.township(county)))
    staff = make.user("county", [county], password="county-pw")
    auth = basic_auth(staff.username, "county-pw")
    for response in (
        client.get("/api/v1/submissions?case=a%00b", headers=auth),
        client.get("/api/v1/submissions?a%00b=1", headers=auth),
        client.get("/api/v1/cases/a%00b", headers=auth),
        client.post("/api/v1/areas", json={"code": "623002", "name": "县", "level": "county", "parent_code": "a\x00"},
                    headers=auth),
        client.post("/api/v1/areas", json={"code": "623002", "name": "县", "level": "county", "x\x00": [[{"y": 1}]]},
                    headers=auth),
        client.get("/api/v1/cases", headers=basic_auth(staff.username + "\x00", "county-pw")),
    ):
        assert response.status_code in (400, 401), response.status_code
        if response.status_code == 400:
            assert "NUL" in response.get_json()["message"] and response.get_json()["code"] == "bad_request"
    assert client.get(f"/api/v1/cases/{household.case_number}", headers=auth).status_code == 200
    deep = {"code": "623002", "name": "县", "level": "county", "x": [[[[[[[[[[["a\x00"]]]]]]]]]]]}
    assert client.post("/api/v1/areas", json=deep, headers=auth).status_code == 400


def test_json_nested_past_the_parser_is_400(client, make):
    # Python's JSON parser gives up with a RecursionError, which is no ValueError: it was a 500.
    admin = make.user("admin", password="admin-pw")
    response = client.post("/api/v1/areas", data="[" * 100_000 + "]" * 100_000, content_type="application/json",
                           headers=basic_auth(admin.username, "admin-pw"))
    assert response.status_code == 400 and "nests too deep" in response.get_json()["message"]
    assert response.get_json()["code"] == "bad_request"
