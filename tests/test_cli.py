"""The administrators' `flask` commands: areas, users, phone tokens, forms (households: test_roster.py)."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
from sqlalchemy import select

from server.config import PROJECT_ROOT
from server.models import Area, User
from server.services.phone import collect_settings, qr_terminal, settings_qr_payload
from server.services.users import authenticate, issue_phone_token, user_for_token


@pytest.fixture
def flask(app, session):
    """Run `flask ARGS...`; the commands commit (a savepoint in tests) inside the test's transaction."""
    runner = app.test_cli_runner()

    def run(*args, **kwargs):
        return runner.invoke(args=list(args), **kwargs)

    return run


@pytest.fixture
def village(make):
    county = make.county("623001")
    return make.village(make.township(county, "100"), "001", "东村")


def assert_one_line_error(result, message):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == f"Error: {message}"


def area(session, code):
    return session.scalar(select(Area).where(Area.code == code))


# --- areas -----------------------------------------------------------------------------------


def test_areas_create_builds_the_tree(session, flask):
    result = flask("areas", "create", "623001", "测试县", "--level", "county")
    assert result.exit_code == 0, result.output
    assert result.stdout == "created county 623001 测试县\n"
    assert flask("areas", "create", "623001100", "测试镇", "--level", "township", "--parent", "623001").exit_code == 0
    result = flask("areas", "create", "623001100001", "东村", "--level", "village", "--parent", "623001100")
    assert result.stdout == "created village 623001100001 东村\n"
    village = area(session, "623001100001")
    assert village.parent.code == "623001100" and village.parent.parent.code == "623001"


def test_areas_create_errors_are_one_line(session, flask, village):
    assert_one_line_error(flask("areas", "create", "623001", "重复县", "--level", "county"),
                          "An area with the code 623001 already exists.")
    assert_one_line_error(flask("areas", "create", "623001100002", "西村", "--level", "village", "--parent", "623001"),
                          "A village belongs to a township, not to a county.")
    assert_one_line_error(flask("areas", "create", "623001100002", "西村", "--level", "village"),
                          "A village needs its township (parent code).")
    assert_one_line_error(flask("areas", "create", "6230011", "县", "--level", "county"),
                          "A county code has 6 digits; got '6230011'.")
    assert area(session, "623001100002") is None


def test_areas_create_refuses_an_unknown_level_through_click(flask):
    result = flask("areas", "create", "623001", "测试县", "--level", "province")
    assert result.exit_code == 2
    assert "Invalid value for '--level'" in result.stderr


# --- users -----------------------------------------------------------------------------------


def test_users_create_prompts_for_the_password_twice(session, flask, village):
    result = flask("users", "create", "wang", "--role", "caseworker", "--area", village.code, "--full-name", "王五",
                   input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Password") == 1 and "Repeat for confirmation" in result.stdout
    assert result.stdout.rstrip().endswith("created caseworker wang")
    assert "s3cret-pass" not in result.output  # the prompt hides what is typed
    user = authenticate(session, "wang", "s3cret-pass")
    assert user is not None and user.full_name == "王五" and [a.code for a in user.areas] == [village.code]
    assert user.password_hash.startswith("scrypt:")


def test_users_create_asks_again_when_the_two_passwords_differ(session, flask, village):
    result = flask("users", "create", "li", "--role", "caseworker", "--area", village.code,
                   input="first-try\nsecond-try\nthird-try\nthird-try\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert authenticate(session, "li", "third-try") is not None
    assert authenticate(session, "li", "first-try") is None


def test_users_create_with_the_password_option_and_several_areas(session, make, flask, village):
    other = make.village(village.parent, "002", "西村")
    result = flask("users", "create", "zhao", "--role", "supervisor", "--area", village.code, "--area", other.code,
                   "--password", "pass-word")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "zhao"))
    assert [a.code for a in user.areas] == [village.code, other.code]


def test_users_create_errors_are_one_line(session, flask, village):
    assert_one_line_error(flask("users", "create", "wu", "--role", "caseworker", "--area", "623001100099",
                                "--password", "pass-word"), "No area has the code '623001100099'.")
    assert_one_line_error(flask("users", "create", "wu", "--role", "caseworker", "--password", "pass-word"),
                          "A caseworker needs at least one area.")
    assert_one_line_error(flask("users", "create", "wu", "--role", "caseworker", "--area", village.code,
                                "--password", "abc"), "A password has at least 4 characters.")
    assert flask("users", "create", "wu", "--role", "admin", "--password", "pass-word").exit_code == 0
    assert_one_line_error(flask("users", "create", "wu", "--role", "admin", "--password", "pass-word"),
                          "The username 'wu' is taken.")


def token_in(output: str) -> str:
    match = re.search(r"/key/([A-Za-z0-9_-]+)\s", output)
    assert match, output
    return match.group(1)


@pytest.fixture
def caseworker(make, village):
    return make.user("caseworker", [village], username="zhang")


def test_users_phone_token_prints_the_url_and_a_terminal_qr(session, app, flask, caseworker, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://dibao.example.gov.cn")
    result = flask("users", "phone-token", "zhang")
    assert result.exit_code == 0, result.output
    token = token_in(result.stdout)
    url = f"https://dibao.example.gov.cn/key/{token}"
    assert f"\n  {url}\n" in result.stdout
    assert user_for_token(session, token) is caseworker
    # The QR in the terminal is Collect's settings with exactly this URL.
    payload = settings_qr_payload(collect_settings(url, app.config["PROJECT_NAME"], "zhang"))
    assert qr_terminal(payload) in result.stdout
    assert "█" in result.stdout
    assert result.stderr == ""


def test_a_new_phone_token_revokes_the_old_one(session, flask, caseworker):
    first = token_in(flask("users", "phone-token", "zhang").stdout)
    second = token_in(flask("users", "phone-token", "zhang").stdout)
    assert first != second
    assert user_for_token(session, first) is None
    assert user_for_token(session, second) is caseworker


def _flask_process(instance, *args, **env):
    """`flask --app wsgi ARGS` as an administrator types it, in a fresh process on its own instance
    folder and SQLite file; only the settings given here (none of the test run's own)."""
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PUBLIC_BASE_URL", "DEVELOPMENT", "HOST", "PORT"}}
    base.update(INSTANCE_DIR=str(instance), DATABASE_URL=f"sqlite:///{instance / 'dibao.sqlite3'}",
                MEDIA_DIR=str(instance / "media"), ODK_VALIDATE="0", **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=PROJECT_ROOT, env=base,
                          capture_output=True, text=True, timeout=120)


def test_after_make_serve_the_commands_need_no_development_flag(tmp_path):
    # What `make serve` runs first; then commands as the README shows them, without DEVELOPMENT=1.
    setup = _flask_process(tmp_path, "dev-setup", DEVELOPMENT="1", PUBLIC_BASE_URL="http://127.0.0.1:5123")
    assert setup.returncode == 0, setup.stderr
    assert "http://127.0.0.1:5123/key/" in setup.stdout
    assert stat.S_IMODE(os.stat(tmp_path / "secret-key").st_mode) == 0o600
    created = _flask_process(tmp_path, "users", "create", "li", "--role", "admin", "--password", "pass-word-1")
    assert created.returncode == 0, created.stderr
    assert "created admin li" in created.stdout
    token = _flask_process(tmp_path, "users", "phone-token", "demo-caseworker")
    assert token.returncode == 0, token.stderr
    assert "http://127.0.0.1:5123/key/" in token.stdout  # the address make serve was given
    secret = (tmp_path / "secret-key").read_text()
    again = _flask_process(tmp_path, "dev-setup", DEVELOPMENT="1", PUBLIC_BASE_URL="http://192.168.1.20:5000")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "secret-key").read_text() == secret  # made once, kept by every later start
    token = _flask_process(tmp_path, "users", "phone-token", "demo-caseworker")
    assert "http://192.168.1.20:5000/key/" in token.stdout  # the address of the latest `make serve`


def test_a_production_install_refuses_to_start_without_its_secret_and_address(tmp_path):
    no_secret = _flask_process(tmp_path, "forms", "list", PUBLIC_BASE_URL="https://dibao.example.gov.cn")
    assert no_secret.returncode != 0
    assert "SECRET_KEY must be set" in no_secret.stderr
    no_address = _flask_process(tmp_path, "forms", "list", SECRET_KEY="s")
    assert no_address.returncode != 0
    assert "PUBLIC_BASE_URL must be set" in no_address.stderr
    host_only = _flask_process(tmp_path, "forms", "list", SECRET_KEY="s", PUBLIC_BASE_URL="dibao.example.gov.cn")
    assert "PUBLIC_BASE_URL must be set" in host_only.stderr
    assert not (tmp_path / "secret-key").exists()


def test_users_phone_token_saves_a_png_only_its_owner_can_read(tmp_path, flask, caseworker):
    png = tmp_path / "zhang.png"
    png.write_bytes(b"old")
    os.chmod(png, 0o644)
    result = flask("users", "phone-token", "zhang", "--png", str(png))
    assert result.exit_code == 0, result.output
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    assert f"QR code saved to {png}" in result.stdout


def test_a_png_that_cannot_be_written_leaves_the_old_token_working(session, tmp_path, flask, caseworker):
    old = issue_phone_token(session, caseworker)
    session.commit()  # a savepoint: the rollback below must leave the user and the old token
    result = flask("users", "phone-token", "zhang", "--png", str(tmp_path / "missing-folder" / "zhang.png"))
    assert result.exit_code == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.output
    session.rollback()  # what the end of the command's app context does in production
    assert user_for_token(session, old) is caseworker


def test_users_revoke_token(session, flask, caseworker):
    token = issue_phone_token(session, caseworker)
    result = flask("users", "revoke-token", "zhang")
    assert (result.exit_code, result.stdout) == (0, "token revoked\n")
    assert user_for_token(session, token) is None
    result = flask("users", "revoke-token", "zhang")
    assert (result.exit_code, result.stdout) == (0, "no live token to revoke\n")


@pytest.mark.parametrize("command", ["phone-token", "revoke-token"])
def test_token_commands_for_an_unknown_user_are_one_line_errors(flask, command):
    assert_one_line_error(flask("users", command, "nobody"), "No user is called 'nobody'.")


# --- forms -----------------------------------------------------------------------------------


def test_forms_list_shows_each_published_form_once(flask):
    result = flask("forms", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    form_ids = [line.split()[0] for line in lines]
    assert "household_visit" in form_ids and "spot_check" in form_ids
    assert len(form_ids) == len(set(form_ids))
    visit = next(line for line in lines if line.startswith("household_visit "))
    assert re.search(r"md5:[0-9a-f]{32}", visit)
    assert "caseworker" in visit


def test_every_command_has_help(flask):
    for group, commands in {"areas": ["create"], "users": ["create", "phone-token", "revoke-token"],
                            "households": ["import"], "forms": ["list", "publish", "publish-all"]}.items():
        for command in commands:
            result = flask(group, command, "--help")
            assert result.exit_code == 0, (group, command, result.output)
            assert "Usage:" in result.stdout
