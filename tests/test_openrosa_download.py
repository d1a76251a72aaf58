"""The download half of OpenRosa as ODK Collect and KoboCollect use it."""
from __future__ import annotations

import csv
import hashlib
import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from pyxform.validators.odk_validate import check_xform

from server.openrosa.xml import RESPONSE_NS
from server.services.users import revoke_phone_token

from .conftest import OPENROSA, basic_auth, site_client
from .openrosa_client import parse_form_list, parse_manifest, parse_openrosa_response

HOUSEHOLD_FORMS = {"household_visit", "application", "declaration", "authorization", "relative_registration", "review_approval"}


@pytest.fixture
def county(make):
    county = make.county()
    township = make.township(county)
    east = make.village(township, "001", "东村")
    west = make.village(township, "002", "西村")
    return {"county": county, "township": township, "east": east, "west": west}


@pytest.fixture
def caseworker(make, county):
    user = make.user("caseworker", [county["east"]])
    return user, make.token(user)


def get(client, url, **headers):
    return client.get(url, headers={**OPENROSA, **headers})


def form_list(client, token):
    response = get(client, f"/key/{token}/formList")
    assert response.status_code == 200, response.data
    forms = parse_form_list(response.data)
    assert forms is not None, response.data
    return forms


def test_formlist_lists_every_caseworker_form_with_absolute_urls(client, caseworker):
    _, token = caseworker
    forms = {f["formID"]: f for f in form_list(client, token)}
    assert set(forms) == HOUSEHOLD_FORMS | {"democratic_appraisal", "publicity_record"}
    for form in forms.values():
        assert form["downloadUrl"].startswith(f"https://dibao.test/key/{token}/")
        assert form["version"] and form["hash"] and len(form["hash"]) == 32
    for form_id in HOUSEHOLD_FORMS:
        assert forms[form_id]["manifestUrl"].startswith(f"https://dibao.test/key/{token}/")


def test_spot_check_goes_only_to_checkers(client, make, county):
    supervisor = make.user("supervisor", [county["township"]])
    caseworker = make.user("caseworker", [county["east"]])
    assert "spot_check" in {f["formID"] for f in form_list(client, make.token(supervisor))}
    assert "spot_check" not in {f["formID"] for f in form_list(client, make.token(caseworker))}
    response = get(client, f"/key/{make.token(caseworker)}/forms/spot_check/manifest")
    assert response.status_code == 404


def test_formlist_filter_by_form_id(client, caseworker):
    _, token = caseworker
    forms = parse_form_list(get(client, f"/key/{token}/formList?formID=household_visit").data)
    assert [f["formID"] for f in forms] == ["household_visit"]


def test_every_hash_matches_the_bytes_downloaded(client, caseworker):
    _, token = caseworker
    for form in form_list(client, token):
        body = get(client, form["downloadUrl"]).data
        assert hashlib.md5(body).hexdigest() == form["hash"], form["formID"]
        if form.get("manifestUrl"):
            files = parse_manifest(get(client, form["manifestUrl"]).data)
            assert files, form["formID"]
            for media in files:
                media_body = get(client, media["downloadUrl"]).data
                assert hashlib.md5(media_body).hexdigest() == media["hash"], (form["formID"], media["filename"])


def test_every_served_form_passes_odk_validate(client, caseworker, make, county, tmp_path):
    supervisor = make.user("supervisor", [county["township"]])
    served = {}
    for token in (caseworker[1], make.token(supervisor)):
        for form in form_list(client, token):
            served[form["formID"]] = get(client, form["downloadUrl"]).data
    assert "spot_check" in served and "household_visit" in served
    for form_id, body in served.items():
        path = tmp_path / f"{form_id}.xml"
        path.write_bytes(body)
        check_xform(str(path))  # raises ODKValidateError with the validator's message


def test_household_forms_ask_for_case_id_from_cases_csv(client, caseworker):
    _, token = caseworker
    for form in form_list(client, token):
        if form["formID"] in HOUSEHOLD_FORMS:
            body = get(client, form["downloadUrl"]).data.decode()
            assert 'src="jr://file-csv/cases.csv"' in body, form["formID"]
            assert "/case_id" in body


def cases_csv(client, token, form_id="household_visit"):
    manifest = parse_manifest(get(client, f"/key/{token}/forms/{form_id}/manifest").data)
    entry = next(m for m in manifest if m["filename"] == "cases.csv")
    response = get(client, entry["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return entry, response


def test_cases_csv_lists_only_the_callers_households(client, make, county):
    east_worker, west_worker = make.user("caseworker", [county["east"]]), make.user("caseworker", [county["west"]])
    east = {make.household(county["east"]).case_number for _ in range(3)}
    west = {make.household(county["west"]).case_number for _ in range(2)}
    make.household(county["east"], status="removed")
    rows = {}
    for user, expected in ((east_worker, east), (west_worker, west)):
        _, response = cases_csv(client, make.token(user))
        reader = csv.DictReader(io.StringIO(response.data.decode("utf-8")))
        assert reader.fieldnames == ["name", "label", "village", "address", "status", "category", "next_due", "latitude",
                                     "longitude", "return_reason"]
        rows[user.username] = {row["name"]: row for row in reader}
        assert set(rows[user.username]) == expected  # the removed household is not listed
    assert not set(rows[east_worker.username]) & set(rows[west_worker.username])
    row = next(iter(rows[east_worker.username].values()))
    assert row["village"] == "东村" and row["latitude"] == "35.000000"


def test_cases_csv_is_sorted_by_next_visit_due(client, make, county, caseworker):
    from datetime import date

    user, token = caseworker
    later = make.household(county["east"], next_visit_due=date(2027, 3, 1))
    sooner = make.household(county["east"], next_visit_due=date(2026, 12, 1))
    undated = make.household(county["east"], next_visit_due=None)
    _, response = cases_csv(client, token)
    names = [row["name"] for row in csv.DictReader(io.StringIO(response.data.decode()))]
    assert names == [undated.case_number, sooner.case_number, later.case_number]  # never visited: first


def test_cases_csv_hash_changes_exactly_when_its_content_does(client, make, county, caseworker, session):
    _, token = caseworker
    household = make.household(county["east"])
    first, response = cases_csv(client, token)
    again, _ = cases_csv(client, token)
    assert again["hash"] == first["hash"] == response.headers["ETag"].strip('"')

    not_modified = get(client, first["downloadUrl"], **{"If-None-Match": f'"{first["hash"]}"'})
    assert not_modified.status_code == 304 and not_modified.data == b""

    make.household(county["west"])  # another caseworker's village: no change here
    assert cases_csv(client, token)[0]["hash"] == first["hash"]

    household.address = "新地址 8 号"
    session.flush()
    changed, response = cases_csv(client, token)
    assert changed["hash"] != first["hash"]
    assert get(client, first["downloadUrl"], **{"If-None-Match": f'"{first["hash"]}"'}).status_code == 200


def test_form_download_answers_etag_and_304(client, caseworker):
    _, token = caseworker
    form = form_list(client, token)[0]
    response = get(client, form["downloadUrl"])
    assert response.headers["ETag"] == f'"{form["hash"]}"'
    assert get(client, form["downloadUrl"], **{"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_village_forms_get_the_callers_villages(client, make, county, caseworker):
    _, token = caseworker
    manifest = parse_manifest(get(client, f"/key/{token}/forms/publicity_record/manifest").data)
    villages = next(m for m in manifest if m["filename"] == "villages.csv")
    body = get(client, villages["downloadUrl"]).data.decode()
    assert body.splitlines() == ["name,label", f"{county['east'].code},东村"]


def test_protocol_headers_on_every_response(client, caseworker):
    _, token = caseworker
    for url in (f"/key/{token}/formList", f"/key/{token}/forms/nope/manifest", "/key/wrong/formList"):
        response = get(client, url)
        assert response.headers["X-OpenRosa-Version"] == "1.0"
        assert int(response.headers["X-OpenRosa-Accept-Content-Length"]) > 0
        assert response.headers["Date"].endswith("GMT")


def test_request_without_openrosa_version_is_refused(client, caseworker):
    _, token = caseworker
    response = client.get(f"/key/{token}/formList")
    assert response.status_code == 400
    assert "X-OpenRosa-Version" in parse_openrosa_response(response.data)


@pytest.mark.parametrize("url", ["/key/not-a-token/formList", "/key/not-a-token/forms/household_visit/manifest"])
def test_unknown_token_gets_401_in_openrosa_xml(client, url):
    response = get(client, url)
    assert response.status_code == 401
    assert "QR" in parse_openrosa_response(response.data)


def test_revoked_token_gets_401(client, session, caseworker):
    user, token = caseworker
    assert get(client, f"/key/{token}/formList").status_code == 200
    revoke_phone_token(session, user)
    assert get(client, f"/key/{token}/formList").status_code == 401


def test_new_token_replaces_the_old(client, make, caseworker):
    user, old = caseworker
    new = make.token(user)
    assert get(client, f"/key/{old}/formList").status_code == 401
    assert get(client, f"/key/{new}/formList").status_code == 200


def test_http_basic_at_the_root(client, make, county):
    user = make.user("caseworker", [county["east"]], password="correct horse")
    challenge = get(client, "/formList")
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"].startswith("Basic")
    assert get(client, "/formList", **basic_auth(user.username, "wrong")).status_code == 401
    response = get(client, "/formList", **basic_auth(user.username, "correct horse"))
    forms = parse_form_list(response.data)
    assert forms and all(f["downloadUrl"].startswith("https://dibao.test/forms/") for f in forms)
    assert get(client, forms[0]["downloadUrl"], **basic_auth(user.username, "correct horse")).status_code == 200


def test_plain_http_is_refused_outside_development(app, session, make, county):
    user = make.user("caseworker", [county["east"]], password="correct horse")
    token = make.token(user)
    plain = site_client(app, "http://dibao.test")
    for url, headers in (("/formList", basic_auth(user.username, "correct horse")), (f"/key/{token}/formList", {})):
        response = plain.get(url, headers={**OPENROSA, **headers})
        assert response.status_code == 403
        assert "HTTPS" in parse_openrosa_response(response.data)


def test_forwarded_proto_counts_only_from_a_trusted_proxy(app, session, make, county, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    token = make.token(make.user("caseworker", [county["east"]]))
    headers = {**OPENROSA, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "dibao.gov.cn"}
    untrusted = site_client(app, "http://internal:8000").get(f"/key/{token}/formList", headers=headers)
    assert untrusted.status_code == 403

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_proto=1, x_host=1))
    trusted = site_client(app, "http://internal:8000").get(f"/key/{token}/formList", headers=headers)
    assert trusted.status_code == 200
    # The scheme is the proxy's word; the address in the URLs is PUBLIC_BASE_URL's, not a header's.
    assert f"https://dibao.test/key/{token}/forms/".encode() in trusted.data
    assert b"dibao.gov.cn" not in trusted.data


def test_the_urls_given_to_phones_are_at_public_base_url_whatever_the_host_header(app, session, make, county):
    user = make.user("caseworker", [county["east"]], password="correct horse")
    token = make.token(user)
    evil = site_client(app, "https://evil.example")
    listed = parse_form_list(evil.get(f"/key/{token}/formList", headers=OPENROSA).data)
    assert listed and all(f["downloadUrl"].startswith(f"https://dibao.test/key/{token}/forms/") for f in listed)
    manifest_url = next(f["manifestUrl"] for f in listed if f.get("manifestUrl"))
    assert manifest_url.startswith("https://dibao.test/")
    manifest = evil.get(manifest_url.replace("https://dibao.test", ""), headers=OPENROSA)
    assert manifest.status_code == 200 and b"evil.example" not in manifest.data
    assert b"https://dibao.test/key/" in manifest.data
    by_password = evil.get("/formList", headers={**OPENROSA, **basic_auth(user.username, "correct horse")})
    assert b"evil.example" not in by_password.data and b"https://dibao.test/forms/" in by_password.data


def test_a_server_mounted_under_a_path_gives_urls_under_it(app, session, make, county, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://gov.example/dibao")
    token = make.token(make.user("caseworker", [county["east"]]))
    mounted = site_client(app, "https://gov.example/dibao")  # SCRIPT_NAME /dibao, as a proxy's prefix sets it
    listed = parse_form_list(mounted.get(f"/key/{token}/formList", headers=OPENROSA).data)
    assert listed and all(f["downloadUrl"].startswith(f"https://gov.example/dibao/key/{token}/forms/") for f in listed)


def test_unknown_form_and_file_get_404_in_openrosa_xml(client, caseworker):
    _, token = caseworker
    for url in (f"/key/{token}/forms/nope/versions/1/form.xml", f"/key/{token}/forms/household_visit/media/other.csv",
                f"/key/{token}/no-such-page"):
        response = get(client, url)
        assert response.status_code == 404, url
        parse_openrosa_response(response.data)


def test_a_phones_request_that_matches_no_route_is_answered_in_openrosa_xml(client, caseworker):
    # Flask gives the phones' blueprint only the requests routed to it; these reach none of its routes.
    _, token = caseworker
    for response, status in ((client.put(f"/key/{token}/submission", headers=OPENROSA), 405),
                             (client.get(f"/key/{token}/no-such-page"), 404),  # under /key/, even without the header
                             (get(client, "/dibao/formList"), 404)):  # a server address mistyped on the phone
        assert response.status_code == status and response.mimetype == "text/xml", response.data
        assert parse_openrosa_response(response.data)
        assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_a_phones_error_is_the_message_with_nature_error_and_no_code(client):
    response = get(client, "/key/not-a-token/formList")
    root = ET.fromstring(response.data)
    [message] = root
    assert (root.tag, root.attrib, message.tag) == (f"{{{RESPONSE_NS}}}OpenRosaResponse", {"items": "0"},
                                                    f"{{{RESPONSE_NS}}}message")
    assert message.attrib == {"nature": "error"} and "QR" in message.text
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_json_api_answers_json_whatever_the_request_says_it_speaks(client):
    response = get(client, "/api/v1/cases")
    assert response.status_code == 401 and response.json["code"] == "unauthenticated"


def test_old_versions_stay_downloadable(client, caseworker):
    _, token = caseworker
    form = form_list(client, token)[0]
    path = urlsplit(form["downloadUrl"]).path
    assert get(client, path).status_code == 200
