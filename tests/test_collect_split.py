"""A visit split into POSTs as ODK Collect splits it at the size the server announces."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import SubmissionVersion

from .builders import household_visit
from .conftest import OPENROSA
from .openrosa_client import collect_posts, parse_openrosa_response
from .test_submission import instance_id_of


@pytest.fixture
def household_factory(make):
    def made():
        village = make.village(make.township(make.county()))
        user = make.user("caseworker", [village])
        return make.household(village), make.token(user)

    return made


def _send_as_collect(client, token, xml, files):
    announced = int(client.head(f"/key/{token}/submission", headers=OPENROSA).headers["X-OpenRosa-Accept-Content-Length"])
    answers = []
    for body, content_type in collect_posts(xml, list(files.items()), announced):
        response = client.post(f"/key/{token}/submission", data=body, content_type=content_type, headers=OPENROSA)
        answers.append((response.status_code, parse_openrosa_response(response.data), len(body)))
    return announced, answers


def test_the_default_split_stores_a_full_visit_in_short_posts(client, session, household_factory):
    household, token = household_factory()
    xml, files = household_visit(household.case_number)
    announced, answers = _send_as_collect(client, token, xml, files)
    assert announced == 256 * 1024
    assert len(answers) >= 5 and all(status == 201 for status, _, _ in answers), answers
    assert "still waiting" in answers[0][1] and "thank you" in answers[-1][1]
    version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id_of(xml)))
    assert version.is_complete and all(a.sha256 for a in version.attachments)


def test_a_file_larger_than_the_announced_size_goes_alone_and_is_accepted(client, session, app, household_factory,
                                                                          monkeypatch):
    monkeypatch.setitem(app.config, "OPENROSA_ACCEPT_CONTENT_LENGTH", 100_000)  # every photo is larger
    household, token = household_factory()
    xml, files = household_visit(household.case_number)
    announced, answers = _send_as_collect(client, token, xml, files)
    assert any(size > announced for _, _, size in answers)  # XML + one photo, as Collect sends it
    assert all(status == 201 for status, _, _ in answers), answers
    version = session.scalar(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id_of(xml)))
    assert version.is_complete
