"""One app and one schema (built by Alembic) per test session; each test runs in a transaction
that is rolled back, so tests never see each other's data. Runs on SQLite, or on PostgreSQL when
TEST_DATABASE_URL is set."""
from __future__ import annotations

import base64
import itertools
import os

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from server import create_app
from server.cli import upgrade_database
from server.config import PROJECT_ROOT
from server.extensions import db
from server.services import forms as form_service
from server.services import phone_lists
from server.services.areas import create_area
from server.services.users import create_user, issue_phone_token

OPENROSA = {"X-OpenRosa-Version": "1.0"}
FORMS_DIR = PROJECT_ROOT / "forms"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "DEVELOPMENT": False,  # production rules: phones and API over HTTPS only
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
            "MEDIA_DIR": str(tmp_path_factory.mktemp("media")),
            "PUBLIC_BASE_URL": "https://dibao.test",  # the address the test clients use
            # Pictures and checks in the request, so a test reads its flags after the post;
            # tests/test_checking.py covers the worker.
            "CHECKS_INLINE": True,
        }
    )
    with app.app_context():
        # The real questionnaires, published once for the whole session through pyxform and ODK
        # Validate, exactly as `flask forms publish-all` does.
        form_service.publish_directory(db.session, FORMS_DIR)
        db.session.commit()
        db.session.remove()
    yield app
    db.engine.dispose()


@pytest.fixture
def session(app):
    """The test's session, inside a transaction rolled back at the end.

    No app context is pushed for the test itself: each request (and each CLI command) then gets
    its own app context, `g` and session, as in production, and those sessions join the test's
    transaction through savepoints on the same connection."""
    connection = db.engine.connect()
    transaction = connection.begin()
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    # The phones' kept lists too: a rolled-back test's ids and counters come again in the next
    # one (SQLite gives the same ids), which would find the other test's list still valid.
    phone_lists.cache_of(app).clear()
    yield db.session
    db.session.remove()
    transaction.rollback()
    connection.close()
    db.session.configure(bind=db.engine)


class SiteClient(FlaskClient):
    """A test client whose relative URLs go to one base URL (https unless told otherwise)."""

    def __init__(self, *args, base_url: str = "https://dibao.test", **kwargs):
        super().__init__(*args, **kwargs)
        self.base_url = base_url

    def open(self, *args, **kwargs):
        if args and isinstance(args[0], str) and args[0].startswith("/"):
            kwargs.setdefault("base_url", self.base_url)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app, session):
    return SiteClient(app, app.response_class, use_cookies=True)


def site_client(app, base_url: str) -> SiteClient:
    return SiteClient(app, app.response_class, use_cookies=True, base_url=base_url)


_numbers = itertools.count(1)


class Factory:
    """Builds areas, users and households with valid codes and ID numbers."""

    def __init__(self, session):
        self.session = session

    def county(self, code="623001", name="测试县"):
        return create_area(self.session, code=code, name=name, level="county")

    def township(self, county, suffix="100", name="测试镇"):
        return create_area(self.session, code=county.code + suffix, name=name, level="township", parent_code=county.code)

    def village(self, township, suffix="001", name="测试村"):
        return create_area(self.session, code=township.code + suffix, name=name, level="village", parent_code=township.code)

    def user(self, role="caseworker", areas=(), username=None, password="secret-pass"):
        username = username or f"{role}-{next(_numbers)}"
        return create_user(self.session, username=username, password=password, role=role,
                           area_codes=[a.code for a in areas])

    def token(self, user):
        return issue_phone_token(self.session, user)

    def household(self, village, **fields):
        from server.models import Household, Member
        from server.services.idnumbers import check_digit

        number = next(_numbers)
        first17 = f"{village.code[:6]}19600101{number % 1000:03d}"
        values = {
            "case_number": fields.pop("case_number", f"{village.code}{number:04d}"),
            "village_id": village.id,
            "head_name": "户主" + str(number),
            "address": f"{village.name}{number}号",
            "residence": "rural",
            "category": "B",
            "status": "active",
            "latitude": 35.0,
            "longitude": 104.6,
        }
        values.update(fields)
        household = Household(**values, members=[
            Member(name=values["head_name"], relation="head", sex="male" if int(first17[-1]) % 2 else "female",
                   id_number=first17 + check_digit(first17))
        ])
        self.session.add(household)
        self.session.flush()
        return household

    def visit(self, household, by):
        """A household's home visit as its bare submission row: what an approval names as its basis."""
        from sqlalchemy import select

        from server.models import Form, Submission

        form = self.session.scalar(select(Form).where(Form.form_id == "household_visit"))
        submission = Submission(form_pk=form.id, instance_id=f"uuid:visit-{next(_numbers)}", household_id=household.id,
                                village_id=household.village_id, submitted_by_id=by.id)
        self.session.add(submission)
        self.session.flush()
        return submission


@pytest.fixture
def make(session):
    return Factory(session)


def basic_auth(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}
