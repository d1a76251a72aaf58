"""Publishing questionnaires: pyxform, ODK Validate, versions never reused, old versions readable."""
from __future__ import annotations

import hashlib
import io

import pytest

from server.errors import Conflict, FormInvalid, InvalidInput
from server.models import Form
from server.services import forms as form_service

from .conftest import FORMS_DIR, basic_auth


def xlsform(form_id="test_form", version="1", constraint=".>0", extra=""):
    return f"""
| survey |
|        | type    | name    | label | constraint   |
|        | integer | age     | Age   | {constraint} |
{extra}
| settings |
|          | form_id   | version   | form_title |
|          | {form_id} | {version} | Test form  |
""".encode()


def test_every_form_in_forms_is_published_with_xml_version_and_md5(session):
    published = {form.form_id: form for form, _ in form_service.current_versions(session)}
    sources = [p for p in FORMS_DIR.glob("*.md") if p.name != "README.md"]
    assert len(published) == len(sources) == 9
    for form, version in form_service.current_versions(session):
        assert version.md5 == hashlib.md5(version.xml).hexdigest()
        assert f'version="{version.version}"'.encode() in version.xml
        assert version.source.startswith(b"#") or version.source


def test_household_bound_forms_read_cases_csv(session):
    media = {form.form_id: version.media_files for form, version in form_service.current_versions(session)}
    assert media["household_visit"] == ["cases.csv", "villages.csv"]  # villages: for a new applicant
    for form_id in ("application", "declaration", "authorization", "relative_registration",
                    "review_approval", "spot_check"):
        assert media[form_id] == ["cases.csv"], form_id
    assert media["democratic_appraisal"] == media["publicity_record"] == ["villages.csv"]


def test_publish_new_version_keeps_the_old_one(session):
    first = form_service.publish(session, xlsform(version="2026010101"), "t.md")
    second = form_service.publish(session, xlsform(version="2026010102", constraint=".>=0"), "t.md")
    assert first.form is second.form
    assert [v.version for v in second.form.versions] == ["2026010101", "2026010102"]
    assert form_service.get_version(session, "test_form").version == "2026010102"
    assert form_service.get_version(session, "test_form", "2026010101").xml == first.xml


def test_a_version_string_is_never_reused(session):
    form_service.publish(session, xlsform(version="7"), "t.md")
    with pytest.raises(Conflict, match="already published"):
        form_service.publish(session, xlsform(version="7", constraint=".>=0"), "t.md")


def test_odk_validate_refusal_carries_the_validators_message(session):
    # pyxform passes XPath through; JavaRosa (ODK Validate) refuses unbalanced brackets.
    with pytest.raises(FormInvalid, match=r"(?s)ODK Validate.*Unbalanced brackets"):
        form_service.publish(session, xlsform(constraint=". > )"), "t.md")
    assert session.query(Form).filter_by(form_id="test_form").count() == 0


def test_pyxform_refusal_is_reported(session):
    broken = b"| survey |\n| | type | name | label |\n| | not_a_type | q | Q |\n| settings |\n| | form_id | version |\n| | x | 1 |\n"
    with pytest.raises(FormInvalid, match="not_a_type"):
        form_service.publish(session, broken, "broken.md")


def test_a_form_needs_a_version(session):
    source = b"| survey |\n| | type | name | label |\n| | text | q | Q |\n| settings |\n| | form_id |\n| | noversion |\n"
    with pytest.raises(FormInvalid, match="version"):
        form_service.publish(session, source, "f.md")


def test_media_the_server_cannot_supply_is_refused(session):
    extra = "|        | select_one_from_file other.csv | pick | Pick |  |"
    with pytest.raises(FormInvalid, match="other.csv"):
        form_service.publish(session, xlsform(extra=extra), "t.md")


def test_names_longer_than_their_columns_are_refused(session):
    # PostgreSQL refused them with a 500 (SQLite stored them).
    for source, field in ((xlsform(form_id="f" * 101), "form_id"), (xlsform(version="9" * 101), "version"),
                          (xlsform().replace(b"Test form ", "表".encode() * 256), "form_title")):
        with pytest.raises(FormInvalid, match=f"settings.{field} is longer than"):
            form_service.publish(session, source, "t.md", validate=False)
    with pytest.raises(InvalidInput, match="file name is longer"):
        form_service.publish(session, xlsform(), "f" * 253 + ".md", validate=False)
    assert session.query(Form).filter_by(form_id="test_form").count() == 0


def test_only_xlsform_files(session):
    with pytest.raises(InvalidInput):
        form_service.publish(session, b"<xml/>", "form.xml")


def test_publish_directory_skips_unchanged_and_refuses_silent_changes(session, tmp_path):
    (tmp_path / "t.md").write_bytes(xlsform(version="1"))
    assert [what for _, _, what in form_service.publish_directory(session, tmp_path)] == ["published"]
    assert [what for _, _, what in form_service.publish_directory(session, tmp_path)] == ["unchanged"]
    (tmp_path / "t.md").write_bytes(xlsform(version="1", constraint=".>=0"))
    with pytest.raises(Conflict, match="bump settings.version"):
        form_service.publish_directory(session, tmp_path)


def test_publish_through_the_api(client, make):
    admin = make.user("admin", username="admin-1", password="admin-pass")
    county = make.county()
    supervisor = make.user("supervisor", [county], password="sup-pass")
    upload = {"xlsform": (io.BytesIO(xlsform(version="42")), "t.md")}
    refused = client.post("/api/v1/forms", data=upload, headers=basic_auth(supervisor.username, "sup-pass"))
    assert refused.status_code == 403

    response = client.post("/api/v1/forms", data={"xlsform": (io.BytesIO(xlsform(version="42")), "t.md")},
                           headers=basic_auth(admin.username, "admin-pass"))
    assert response.status_code == 201, response.json
    assert response.json["version"] == "42" and response.json["published_by"] == "admin-1"

    again = client.post("/api/v1/forms", data={"xlsform": (io.BytesIO(xlsform(version="42")), "t.md")},
                        headers=basic_auth(admin.username, "admin-pass"))
    assert again.status_code == 409 and "already published" in again.json["message"]
    assert again.json["code"] == "duplicate"

    invalid = client.post("/api/v1/forms", data={"xlsform": (io.BytesIO(xlsform(version="43", constraint=". > )")), "t.md")},
                          headers=basic_auth(admin.username, "admin-pass"))
    assert invalid.status_code == 422 and "ODK Validate" in invalid.json["message"]

    xml = client.get("/api/v1/forms/test_form/versions/42/xform", headers=basic_auth(admin.username, "admin-pass"))
    assert xml.status_code == 200 and b'version="42"' in xml.data
    listed = client.get("/api/v1/forms/test_form", headers=basic_auth(admin.username, "admin-pass")).json
    assert [v["version"] for v in listed["versions"]] == ["42"]


def test_oversized_upload_is_refused(client, make, app, monkeypatch):
    make.user("admin", username="admin-2", password="admin-pass")
    monkeypatch.setitem(app.config, "MAX_XLSFORM_BYTES", 100)
    response = client.post("/api/v1/forms", data={"xlsform": (io.BytesIO(b"x" * 5000), "t.md")},
                           headers=basic_auth("admin-2", "admin-pass"))
    assert response.status_code == 413
