"""Tokens for scripts: named, shown once, stored hashed, revocable, same reach as their user."""
from __future__ import annotations

from sqlalchemy import select

from server.models import ApiToken

from .conftest import basic_auth


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_script_token_reads_what_its_user_may_read(client, session, make):
    county = make.county()
    township = make.township(county)
    east, west = make.village(township, "001"), make.village(township, "002")
    worker = make.user("caseworker", [east], password="pw-east")
    mine, theirs = make.household(east), make.household(west)

    issued = client.post(f"/api/v1/users/{worker.username}/api-tokens", json={"name": "nightly-export"},
                         headers=basic_auth(worker.username, "pw-east"))
    assert issued.status_code == 201, issued.json
    secret = issued.json["token"]
    stored = session.scalar(select(ApiToken).where(ApiToken.id == issued.json["id"]))
    assert secret not in (stored.token_hash, stored.name) and len(stored.token_hash) == 64

    listed = client.get("/api/v1/cases", headers=bearer(secret))
    assert [c["case_number"] for c in listed.json] == [mine.case_number]
    assert client.get(f"/api/v1/cases/{theirs.case_number}", headers=bearer(secret)).status_code == 404

    tokens = client.get(f"/api/v1/users/{worker.username}/api-tokens", headers=bearer(secret)).json
    assert [t["name"] for t in tokens] == ["nightly-export"] and "token" not in tokens[0]

    revoked = client.delete(f"/api/v1/users/{worker.username}/api-tokens/{issued.json['id']}", headers=bearer(secret))
    assert revoked.status_code == 204
    refused = client.get("/api/v1/cases", headers=bearer(secret))
    assert refused.status_code == 401 and "revoked" in refused.json["message"]
    assert refused.json["code"] == "unknown_token"


def test_names_are_unique_among_live_tokens_and_free_again_after_revoking(client, make):
    user = make.user("admin", password="admin-pw")
    auth = basic_auth(user.username, "admin-pw")
    first = client.post(f"/api/v1/users/{user.username}/api-tokens", json={"name": "sync"}, headers=auth)
    again = client.post(f"/api/v1/users/{user.username}/api-tokens", json={"name": "sync"}, headers=auth)
    assert first.status_code == 201 and again.status_code == 409
    assert again.json["code"] == "duplicate"
    client.delete(f"/api/v1/users/{user.username}/api-tokens/{first.json['id']}", headers=auth)
    assert client.post(f"/api/v1/users/{user.username}/api-tokens", json={"name": "sync"}, headers=auth).status_code == 201
    bad = client.post(f"/api/v1/users/{user.username}/api-tokens", json={"name": "has spaces"}, headers=auth)
    assert bad.status_code == 422  # the document's pattern for a name


def test_tokens_are_managed_by_their_user_or_an_admin(client, make):
    county = make.county()
    one = make.user("caseworker", [county], password="pw-one")
    other = make.user("caseworker", [county], password="pw-two")
    response = client.post(f"/api/v1/users/{other.username}/api-tokens", json={"name": "x"},
                           headers=basic_auth(one.username, "pw-one"))
    assert response.status_code == 403


def test_unknown_bearer_token_is_401(client):
    assert client.get("/api/v1/cases", headers=bearer("nope")).status_code == 401


def test_cli_issues_a_script_token(app, session, make):
    user = make.user("county", [make.county()])
    session.commit()
    result = app.test_cli_runner().invoke(args=["users", "api-token", user.username, "monthly-export"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1].strip()
    client = app.test_client()
    response = client.get("/api/v1/cases", headers=bearer(secret), base_url="https://dibao.test")
    assert response.status_code == 200


def test_a_token_cannot_mint_tokens_so_revoking_it_ends_everything_it_could_do(client, session, make):
    """Finding 5: a leaked token made new API and phone tokens that outlived its revocation."""
    county = make.county()
    worker = make.user("caseworker", [county], password="pw-worker")
    password = basic_auth(worker.username, "pw-worker")
    parent = client.post(f"/api/v1/users/{worker.username}/api-tokens", json={"name": "parent"}, headers=password)
    assert parent.status_code == 201
    phone_before = client.post(f"/api/v1/users/{worker.username}/phone-token", headers=password).json["token"]

    child = client.post(f"/api/v1/users/{worker.username}/api-tokens", json={"name": "child"},
                        headers=bearer(parent.json["token"]))
    assert child.status_code == 403 and child.json["code"] == "password_required", child.json
    phone = client.post(f"/api/v1/users/{worker.username}/phone-token", headers=bearer(parent.json["token"]))
    assert phone.status_code == 403 and phone.json["code"] == "password_required"
    names = [t["name"] for t in client.get(f"/api/v1/users/{worker.username}/api-tokens", headers=password).json]
    assert names == ["parent"]
    # The phone token the refused request would have replaced still works.
    assert client.get(f"/key/{phone_before}/formList", headers={"X-OpenRosa-Version": "1.0"}).status_code == 200

    # Revoking needs no password: a token may end itself (and its user's lost phone).
    assert client.delete(f"/api/v1/users/{worker.username}/phone-token",
                         headers=bearer(parent.json["token"])).status_code == 204
    assert client.delete(f"/api/v1/users/{worker.username}/api-tokens/{parent.json['id']}",
                         headers=bearer(parent.json["token"])).status_code == 204
    assert client.get("/api/v1/cases", headers=bearer(parent.json["token"])).status_code == 401


def test_an_admin_token_cannot_make_accounts(client, make):
    """An account with a password is a credential too: made through a token, it would outlive it."""
    admin = make.user("admin", password="admin-pw")
    issued = client.post(f"/api/v1/users/{admin.username}/api-tokens", json={"name": "sync"},
                         headers=basic_auth(admin.username, "admin-pw"))
    body = {"username": "made-by-token", "password": "known-pw", "role": "admin"}
    refused = client.post("/api/v1/users", json=body, headers=bearer(issued.json["token"]))
    assert refused.status_code == 403 and refused.json["code"] == "password_required"
    assert client.get("/api/v1/users", headers=bearer(issued.json["token"])).status_code == 200  # reading stays open
    made = client.post("/api/v1/users", json=body, headers=basic_auth(admin.username, "admin-pw"))
    assert made.status_code == 201
