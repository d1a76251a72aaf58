"""Sign-in throttling per (username, address) pair (finding 6: 30 wrong passwords in 3.6 s and then
the right one succeeded), and passwords checked once in a while (finding 7)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from server.models import SignInFailures, User, utcnow
from server.services import throttle, users as user_service
from server.services.password_proofs import PasswordProofs

from .conftest import OPENROSA, basic_auth

OFFICE, HOME = "10.1.1.1", "10.2.2.2"
POLICY = throttle.Policy(free_attempts=2, base_delay=1, max_delay=8, remembered=60)


# The policy, on the service directly (times given, none waited for).

def test_each_failure_past_the_free_ones_doubles_the_wait_up_to_the_maximum(session):
    now = utcnow()
    waits = [(throttle.record_failure(session, POLICY, "li", OFFICE, now) - now).total_seconds() for _ in range(7)]
    assert waits == [0, 0, 1, 2, 4, 8, 8]
    assert throttle.blocked_until(session, POLICY, "li", OFFICE, now) == now + timedelta(seconds=8)
    assert throttle.blocked_until(session, POLICY, "li", HOME, now) is None  # another address: its own pair
    assert throttle.blocked_until(session, POLICY, "wang", OFFICE, now) is None  # another name: its own pair


def test_failures_are_forgotten_after_the_remembered_time(session):
    start = utcnow()
    for _ in range(4):
        throttle.record_failure(session, POLICY, "li", OFFICE, start)
    later = start + timedelta(seconds=61)
    assert throttle.blocked_until(session, POLICY, "li", OFFICE, later) is None
    assert throttle.record_failure(session, POLICY, "li", OFFICE, later) == later  # counted afresh: 1, free
    assert session.scalar(select(SignInFailures.failures).where(SignInFailures.username == "li")) == 1


def test_forgotten_pairs_are_deleted_so_an_attack_cannot_grow_the_table_for_good(session):
    start = utcnow()
    for n in range(50):
        throttle.record_failure(session, POLICY, f"guess-{n}", OFFICE, start)
    throttle.record_failure(session, POLICY, "li", HOME, start + timedelta(seconds=61))
    assert session.scalars(select(SignInFailures.username)).all() == ["li"]


def test_forget_clears_a_pair_or_every_pair_of_a_name(session):
    now = utcnow()
    for address in (OFFICE, HOME):
        throttle.record_failure(session, POLICY, "li", address, now)
    throttle.record_failure(session, POLICY, "wang", OFFICE, now)
    assert throttle.forget(session, "li", OFFICE) == 1
    assert throttle.forget(session, "li") == 1
    assert session.scalars(select(SignInFailures.username)).all() == ["wang"]


# Over HTTP: the JSON API and the phones.

@pytest.fixture
def worker(make):
    return make.user("caseworker", [make.county()], password="right-pw")


def _api(client, username, password, address=OFFICE):
    return client.get("/api/v1/areas", headers=basic_auth(username, password), environ_base={"REMOTE_ADDR": address})


def test_thirty_wrong_passwords_then_the_right_one_is_refused_with_its_wait(client, worker):
    statuses = [_api(client, worker.username, f"guess-{n}").status_code for n in range(30)]
    assert statuses == [401] * 6 + [429] * 24  # 5 free, the 6th makes the pair wait
    refused = _api(client, worker.username, "right-pw")
    assert refused.status_code == 429
    assert refused.json["code"] == "too_many_sign_ins" and refused.json["details"]["retry_after"] == 2
    assert refused.headers["Retry-After"] == "2" and "wait 2 seconds" in refused.json["message"]


def test_the_pair_is_throttled_not_the_account_nor_the_address(client, make, worker):
    colleague = make.user("caseworker", [make.county("623002")], password="their-pw")
    for n in range(6):
        _api(client, worker.username, f"old-saved-password-{n}")  # a phone in the office with an old password
    assert _api(client, worker.username, "right-pw").status_code == 429
    assert _api(client, worker.username, "right-pw", address=HOME).status_code == 200  # its owner, elsewhere
    assert _api(client, colleague.username, "their-pw").status_code == 200  # another phone in the office


def test_a_success_clears_the_pair(client, worker):
    for n in range(5):
        assert _api(client, worker.username, f"typo-{n}").status_code == 401
    assert _api(client, worker.username, "right-pw").status_code == 200
    # Counted afresh: five more are free again (without the reset the 6th in a row would block).
    assert [_api(client, worker.username, f"typo-{n}").status_code for n in range(6)] == [401] * 6
    assert _api(client, worker.username, "again").status_code == 429


def test_the_wait_ends(app, client, worker, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_BASE_DELAY_SECONDS", 1)
    for n in range(6):
        _api(client, worker.username, f"typo-{n}")
    assert _api(client, worker.username, "right-pw").status_code == 429
    time.sleep(1.1)
    assert _api(client, worker.username, "right-pw").status_code == 200


def test_unknown_names_are_throttled_alike_so_429_says_nothing_about_accounts(client):
    statuses = [_api(client, "nobody-by-this-name", f"guess-{n}").status_code for n in range(7)]
    assert statuses == [401] * 6 + [429]


def test_phones_signing_in_with_a_password_get_429_as_openrosa_xml(client, worker):
    def form_list(password):
        return client.get("/formList", headers={**OPENROSA, **basic_auth(worker.username, password)},
                          environ_base={"REMOTE_ADDR": OFFICE})

    assert [form_list(f"old-{n}").status_code for n in range(6)] == [401] * 6
    refused = form_list("right-pw")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
    assert b"<OpenRosaResponse" in refused.data and b"wait 2 seconds" in refused.data


def test_wrong_phone_tokens_are_not_throttled(client, make, worker):
    """A phone token is 32 random bytes: guessing one is hopeless, and throttling the address would
    stop every phone behind a township's one address for one phone's revoked token."""
    token = make.token(worker)
    for n in range(20):
        wrong = client.get(f"/key/not-a-token-{n}/formList", headers=OPENROSA, environ_base={"REMOTE_ADDR": OFFICE})
        assert wrong.status_code == 401
    assert client.get(f"/key/{token}/formList", headers=OPENROSA,
                      environ_base={"REMOTE_ADDR": OFFICE}).status_code == 200


def test_a_name_longer_than_any_account_s_is_refused_and_leaves_no_row(client, session):
    assert _api(client, "x" * 65, "pw").status_code == 401
    assert session.scalars(select(SignInFailures)).all() == []


# Passwords checked once in a while (finding 7).

@pytest.fixture
def scrypt_calls(monkeypatch):
    """Counts werkzeug's password checks (the real ones still run)."""
    calls = []
    real = user_service.check_password_hash

    def counting(stored, password):
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(user_service, "check_password_hash", counting)
    return calls


def test_a_right_password_is_checked_once_then_taken_on_trust(client, worker, scrypt_calls):
    for _ in range(5):
        assert _api(client, worker.username, "right-pw").status_code == 200
    assert scrypt_calls == ["right-pw"]


def test_a_wrong_password_after_the_right_one_still_fails_and_is_always_checked(client, worker, scrypt_calls):
    assert _api(client, worker.username, "right-pw").status_code == 200
    assert _api(client, worker.username, "wrong-pw").status_code == 401
    assert _api(client, worker.username, "wrong-pw").status_code == 401
    assert scrypt_calls == ["right-pw", "wrong-pw", "wrong-pw"]


def test_a_password_change_ends_the_trust_at_once(client, session, worker):
    assert _api(client, worker.username, "right-pw").status_code == 200
    session.execute(update(User).where(User.id == worker.id).values(password_hash=generate_password_hash("new-pw")))
    assert _api(client, worker.username, "right-pw").status_code == 401
    assert _api(client, worker.username, "new-pw").status_code == 200


def test_deactivation_ends_the_trust_at_once(client, session, worker):
    assert _api(client, worker.username, "right-pw").status_code == 200
    session.execute(update(User).where(User.id == worker.id).values(is_active=False))
    assert _api(client, worker.username, "right-pw").status_code == 401


def test_proofs_expire_and_stay_bounded():
    proofs = PasswordProofs(seconds=0.05, most=3)
    proofs.add("scrypt:hash-1", "pw")
    assert proofs.holds("scrypt:hash-1", "pw")
    assert not proofs.holds("scrypt:hash-1", "other") and not proofs.holds("scrypt:hash-2", "pw")
    time.sleep(0.06)
    assert not proofs.holds("scrypt:hash-1", "pw")
    for n in range(5):
        proofs.add(f"scrypt:hash-{n}", "pw")
    assert len(proofs) == 3 and not proofs.holds("scrypt:hash-0", "pw") and proofs.holds("scrypt:hash-4", "pw")
    assert not PasswordProofs(seconds=0).holds("h", "pw")


def test_a_proof_is_no_fast_hash_of_the_password_alone():
    """Two processes (two keys) derive different entries: nothing in one is testable without its key."""
    one, two = PasswordProofs(seconds=60), PasswordProofs(seconds=60)
    assert one._proof("scrypt:h", "pw") != two._proof("scrypt:h", "pw")


def test_an_administrator_clears_a_throttled_name_from_the_command_line(app, client, session, worker):
    for n in range(6):
        _api(client, worker.username, f"typo-{n}")
        _api(client, worker.username, f"typo-{n}", address=HOME)
    assert _api(client, worker.username, "right-pw").status_code == 429
    result = app.test_cli_runner().invoke(args=["users", "unthrottle", worker.username, "--address", HOME])
    assert result.exit_code == 0 and "cleared 1" in result.output, result.output
    assert _api(client, worker.username, "right-pw", address=HOME).status_code == 200
    assert _api(client, worker.username, "right-pw").status_code == 429
    result = app.test_cli_runner().invoke(args=["users", "unthrottle", worker.username])
    assert "cleared 1" in result.output
    assert _api(client, worker.username, "right-pw").status_code == 200

