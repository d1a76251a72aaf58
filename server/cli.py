"""`flask` commands for administrators: thin wrappers around the services."""
from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

from .config import PROJECT_ROOT, save_public_base_url
from .errors import DomainError
from .extensions import db, write_in_batches, write_transaction
from .forked import run_forked
from .models import Household
from .services import audit, checking, demo, forms, ingest, roster, schedule, throttle
from .services.areas import area_by_code, create_area
from .services.phone import collect_settings, phone_server_url, qr_png, qr_terminal, settings_qr_payload
from .storage import get_storage
from .services.users import create_user, issue_api_token, issue_phone_token, revoke_phone_token, user_by_username


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    command.upgrade(alembic_config(url), "head")  # one line of revisions (tests/test_migrations.py)


def _fail_on_domain_errors(function):
    """Show a domain error as a one-line message and a non-zero exit, not a traceback."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DomainError as error:
            raise click.ClickException(error.message) from None

    return functools.wraps(function)(wrapper)


def _phone_setup(username: str, token: str) -> tuple[str, str]:
    """The phone's server URL and Collect's settings QR payload."""
    url = phone_server_url(current_app.config["PUBLIC_BASE_URL"], token)
    return url, settings_qr_payload(collect_settings(url, current_app.config["PROJECT_NAME"], username))


def _save_qr_png(png: Path, payload: str) -> None:
    """The PNG holds the token: readable by its owner only."""
    try:
        descriptor = os.open(png, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # the file may have existed with a wider mode
        with os.fdopen(descriptor, "wb") as file:
            file.write(qr_png(payload))
    except OSError as error:
        raise click.ClickException(f"cannot write {png}: {error.strerror}") from None


def _show_phone_setup(username: str, url: str, payload: str, png: Path | None = None) -> None:
    click.echo(f"Server URL for {username}'s phone (shown once, keep it secret):\n  {url}")
    click.echo("Scan this with ODK Collect or KoboCollect (Project → Add project → Scan QR code):")
    click.echo(qr_terminal(payload))
    if png:
        click.echo(f"QR code saved to {png}")


db_cli = AppGroup("db", help="The database schema (Alembic migrations).")
areas_cli = AppGroup("areas", help="Counties, townships, villages and communities.")
users_cli = AppGroup("users", help="Staff accounts and phone tokens.")
households_cli = AppGroup("households", help="Household cases.")
forms_cli = AppGroup("forms", help="Questionnaires (XLSForm) published to phones.")
media_cli = AppGroup("media", help="Stored photos, signatures and audit logs.")
checks_cli = AppGroup("checks", help="Pictures decoded and checks run after receipt (the queue).")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every migration not yet applied."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("database is at the newest schema")


@areas_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--level", type=click.Choice(["county", "township", "village"]), required=True)
@click.option("--parent", "parent_code", help="Code of the county or township above it.")
@_fail_on_domain_errors
def areas_create(code, name, level, parent_code):
    """Add an area (codes: county 6 digits, township 9, village/community 12)."""
    with write_transaction():
        area = create_area(db.session, code=code, name=name, level=level, parent_code=parent_code)
    click.echo(f"created {area.level} {area.code} {area.name}")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "county", "supervisor", "caseworker"]), required=True)
@click.option("--area", "area_codes", multiple=True, help="Area code; repeat for several areas.")
@click.option("--full-name", default="")
@click.password_option()
@_fail_on_domain_errors
def users_create(username, role, area_codes, full_name, password):
    """Create a staff account."""
    with write_transaction():
        user = create_user(db.session, username=username, password=password, role=role, area_codes=list(area_codes),
                           full_name=full_name)
    click.echo(f"created {user.role} {user.username}")


@users_cli.command("phone-token")
@click.argument("username")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Also save the QR code as a PNG.")
@_fail_on_domain_errors
def users_phone_token(username, png):
    """Issue a new phone token (revoking the old one) and show the phone's URL and QR code."""
    with write_transaction():
        user = user_by_username(db.session, username)
        token = issue_phone_token(db.session, user)
        audit.record(db.session, None, "token.issued", "user", user.username, kind="phone", via="cli")
        url, payload = _phone_setup(user.username, token)
        if png:
            # Before the commit: if the file cannot be written, the old token stays the live one.
            _save_qr_png(png, payload)
    _show_phone_setup(user.username, url, payload, png)


@users_cli.command("api-token")
@click.argument("username")
@click.argument("name")
@_fail_on_domain_errors
def users_api_token(username, name):
    """Issue a named token for a script (Authorization: Bearer …); shown once."""
    with write_transaction():
        api_token, secret = issue_api_token(db.session, user_by_username(db.session, username), name)
        audit.record(db.session, None, "token.issued", "user", username, kind="api", token_id=api_token.id, via="cli")
    click.echo(f"API token {api_token.id} {api_token.name!r} for {username} (shown once, keep it secret):\n  {secret}")


@users_cli.command("revoke-token")
@click.argument("username")
@_fail_on_domain_errors
def users_revoke_token(username):
    """Revoke a user's phone token (a lost phone): the phone gets 401 from then on."""
    with write_transaction():
        revoked = revoke_phone_token(db.session, user_by_username(db.session, username))
        audit.record(db.session, None, "token.revoked", "user", username, kind="phone", was_live=revoked, via="cli")
    click.echo("token revoked" if revoked else "no live token to revoke")


@users_cli.command("unthrottle")
@click.argument("username")
@click.option("--address", help="Only the failures from this address (the server's log names it).")
def users_unthrottle(username, address):
    """Clear a username's recent wrong passwords, so it may sign in again at once (docs/deployment.md)."""
    with write_transaction():
        cleared = throttle.forget(db.session, username, address)
    click.echo(f"cleared {cleared} throttled address(es) of {username}")


@households_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good households even if some rows are bad.")
@_fail_on_domain_errors
def households_import(path, skip_bad):
    """Import a household roster (CSV or XLSX, one row per member); see docs/import.md."""
    data = roster.read_roster(path)
    if data.ignored_columns:
        click.echo(f"ignoring columns that are not part of a roster: {', '.join(data.ignored_columns)}", err=True)
    # All or nothing: one write transaction (other writers wait for it, up to SQLite's busy timeout).
    with write_transaction():
        with click.progressbar(length=len(data.rows), label="checking and importing", file=sys.stderr) as bar:
            report = roster.import_roster(db.session, data.rows, skip_bad=skip_bad, progress=bar.update)
        for line, message in report.errors:
            click.echo(f"line {line}: {message}", err=True)
        if not report.imported:
            raise click.ClickException(
                f"{len(report.errors)} error(s) in {report.skipped_households} household(s); nothing was imported. "
                "Fix the file, or use --skip-bad to import the good households."
            )
    click.echo(f"imported {report.households} households with {report.members} members"
               + (f"; skipped {report.skipped_households} households with errors (listed above)" if report.skipped_households else ""))


@households_cli.command("recompute-due")
@click.option("--county", "county_code", help="Only this county's households (its code).")
@_fail_on_domain_errors
def households_recompute_due(county_code):
    """Set every household's next visit due date again from its visits, e.g. after a rule change."""
    if county_code:
        area_by_code(db.session, county_code)  # an unknown code is an error, not "0 households"
    ids = schedule.households_to_recompute(db.session, county_code)
    changed, on, facts = [], schedule.today(), {}
    # In short write transactions: a county's households take minutes, and the server and the check
    # workers write meanwhile. Stopped midway, it is run again: it sets every date again, idempotently.
    with click.progressbar(length=len(ids), label="recomputing due dates", file=sys.stderr) as bar:
        def recompute(household_id):
            household = db.session.get(Household, household_id)
            before = household.next_visit_due
            if household.village_id not in facts:  # read once per village
                facts[household.village_id] = schedule.village_facts(db.session, household.village, on)
            if schedule.recompute_due(db.session, household, on=on, facts=facts[household.village_id]) != before:
                changed.append(household_id)
            bar.update(1)

        write_in_batches(ids, recompute)
    click.echo(f"{len(ids)} household(s) recomputed; {len(changed)} due date(s) changed")


@forms_cli.command("publish")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_fail_on_domain_errors
def forms_publish(path):
    """Publish a new version of a form from its XLSForm (pyxform + ODK Validate)."""
    with write_transaction():
        version = forms.publish(db.session, path.read_bytes(), path.name, validate=current_app.config["ODK_VALIDATE"])
    click.echo(f"published {version.form.form_id} version {version.version} (md5 {version.md5})")


@forms_cli.command("publish-all")
@click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_fail_on_domain_errors
def forms_publish_all(folder):
    """Publish every form in forms/ whose version is not yet published."""
    folder = folder or Path(current_app.config["FORMS_DIR"])
    with write_transaction():
        report = forms.publish_directory(db.session, folder, validate=current_app.config["ODK_VALIDATE"])
    for filename, label, what in report:
        click.echo(f"{what:>9}  {label}  ({filename})")


@forms_cli.command("list")
def forms_list():
    """The newest version of each form and who receives it."""
    for form, version in forms.current_versions(db.session):
        click.echo(f"{form.form_id:<24} {version.version:<12} md5:{version.md5}  {','.join(form.roles)}  {version.title}")


@media_cli.command("sweep")
@click.option("--older-than", "older_than", default=3600, show_default=True,
              help="Spare files younger than this many seconds (requests in flight); 0 before serving.")
def media_sweep(older_than):
    """Remove stored files no submission refers to (left by a crash before the commit)."""
    removed = ingest.sweep_orphans(db.session, get_storage(), older_than_seconds=older_than)
    click.echo(f"removed {removed} orphan file(s)")


@checks_cli.command("work")
@click.option("--once", is_flag=True, help="Check what is waiting, then stop.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks when nothing waits.")
@click.option("--nice", "niceness", default=10, show_default=True,
              help="Lower this process's priority so phones' uploads are answered first.")
@click.option("--pause", default=0.5, show_default=True,
              help="While uploads arrive closer together than this (seconds), wait for a pause; 0: never wait.")
@click.option("--longest", default=30.0, show_default=True,
              help="...but no longer than until a version has waited this many seconds.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(min=1),
              help="Workers forked from this process (they share what it loaded); one that ends is started again.")
def checks_work(once, poll, niceness, pause, longest, processes):
    """Decode received pictures and run the checks, version by version (see services/checking.py)."""
    if niceness:
        os.nice(niceness)
    pause, longest = timedelta(seconds=pause), timedelta(seconds=longest)
    if processes == 1 or once:
        _check_versions(once, poll, pause, longest)
        return

    def work():
        db.engine.dispose(close=False)  # a child opens connections of its own
        _check_versions(False, poll, pause, longest)

    run_forked(processes, work, name="check worker")


def _check_versions(once: bool, poll: float, pause: timedelta, longest: timedelta) -> None:
    stopping = []
    for number in (signal.SIGTERM, signal.SIGINT):  # finish the version in hand, then stop
        signal.signal(number, lambda *_: stopping.append(True))
    storage, max_pixels = get_storage(), current_app.config["MAX_IMAGE_PIXELS"]
    gc.freeze()  # what start-up loaded stays: keep it out of the collector's full passes (gunicorn.conf.py)
    done = 0
    while not stopping:
        if not once and pause and checking.phones_sending(db.session, pause=pause, longest=longest):
            time.sleep(pause.total_seconds())
            continue
        worked = checking.work_once(db.session, storage, max_pixels=max_pixels)
        db.session.remove()
        if worked:
            done += 1
        elif once:
            break
        else:
            time.sleep(poll)
    click.echo(f"checked {done} submission version(s)")


@checks_cli.command("status")
def checks_status():
    """How many received versions still wait for their pictures and checks."""
    count, oldest = checking.pending(db.session)
    click.echo(f"{count} waiting" + (f", the oldest received {oldest:%Y-%m-%d %H:%M:%S} UTC" if oldest else ""))


@click.command("dev-setup")
@_fail_on_domain_errors
def dev_setup():
    """Development start-up: migrate, publish forms, seed the demo county, show the demo phone QR."""
    upgrade_database(current_app.config["DATABASE_URL"])
    with write_transaction():
        published = forms.publish_directory(db.session, Path(current_app.config["FORMS_DIR"]))
    for filename, label, what in published:
        click.echo(f"form {what}: {label}")
    ingest.sweep_orphans(db.session, get_storage(), older_than_seconds=0)  # nothing else runs yet
    db.session.commit()  # the end of the sweep's read
    with write_transaction():
        if demo.is_empty(db.session):
            demo.seed_demo(db.session)
            click.echo("seeded the demo county 青山县 (users demo-admin, demo-supervisor, demo-caseworker; password demo)")
    if current_app.config["DEVELOPMENT"]:
        # The `flask` commands run after `make serve` (without DEVELOPMENT=1) give phones this address.
        save_public_base_url(current_app.config["INSTANCE_DIR"], current_app.config["PUBLIC_BASE_URL"])
        with write_transaction():
            user, token = demo.demo_caseworker_token(db.session, Path(current_app.config["INSTANCE_DIR"]))
        _show_phone_setup(user.username, *_phone_setup(user.username, token))


def register_cli(app: Flask) -> None:
    for group in (db_cli, areas_cli, users_cli, households_cli, forms_cli, media_cli, checks_cli):
        app.cli.add_command(group)
    app.cli.add_command(dev_setup)
