"""The error catalogue (server/errors.py) is one list: what the server raises is in it, and
docs/api.md and the OpenAPI document list every code in it with its status, so none can drift."""
from __future__ import annotations

import ast
import logging
import re

from werkzeug.exceptions import UnsupportedMediaType

from server import errors
from server.config import PROJECT_ROOT

from .conftest import basic_auth

SITUATIONS = errors.catalogue()


def _classes(root=errors.DomainError):
    for cls in root.__subclasses__():
        yield cls
        yield from _classes(cls)


def test_every_situation_has_a_code_of_its_own_a_status_and_a_one_line_meaning():
    owning = [cls for cls in _classes() if "code" in cls.__dict__]
    assert len(owning) == len(SITUATIONS), "two situations share a code"
    for code, cls in SITUATIONS.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
        assert 400 <= cls.status < 600, code
        assert cls.__doc__ and "\n" not in cls.__doc__.strip(), code
    # A class without a code of its own only groups situations (and would answer its parent's code).
    groupings = [cls for cls in _classes() if "code" not in cls.__dict__]
    assert groupings == [errors.Conflict]
    assert all(issubclass(cls, errors.Conflict) for cls in _classes(errors.Conflict))


def _raised_names(path) -> list[tuple[int, str]]:
    """The name of each class raised by `raise Name(...)` in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            found.append((node.lineno, node.exc.func.id))
    return found


def test_every_error_raised_in_server_is_a_situation_of_the_catalogue():
    ours = {cls.__name__: cls for cls in [errors.DomainError, *_classes()]}
    raised, outside = set(), []
    for path in sorted((PROJECT_ROOT / "server").rglob("*.py")):
        for line, name in _raised_names(path):
            if name in ours:
                raised.add(name)
                if "code" not in ours[name].__dict__:
                    outside.append(f"{path.relative_to(PROJECT_ROOT)}:{line} raises {name}")
    assert outside == []
    # Each situation is met somewhere: raised by the server, or Werkzeug's or flask-smorest's as mapped.
    answered = {cls.__name__ for cls in errors.WERKZEUG.values()} | {"ValidationFailed", "InternalError"}
    assert {cls.__name__ for cls in SITUATIONS.values()} - raised - answered == set()


def test_docs_api_has_the_table_of_every_code_with_its_status():
    text = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text[text.index("## Error codes"):]
    table = table[:table.index("\n## ")]
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d{3}) \|", table, re.M))
    assert rows == {code: str(cls.status) for code, cls in SITUATIONS.items()}


def test_the_openapi_document_lists_every_code_with_its_meaning(client):
    document = client.get("/api/v1/openapi.json").get_json()
    code = document["components"]["schemas"]["Error"]["properties"]["code"]
    assert code["enum"] == sorted(SITUATIONS)
    for name, cls in SITUATIONS.items():
        assert f"`{name}` ({cls.status}): {cls.__doc__.strip()}" in code["description"]


def test_werkzeugs_refusals_answer_as_the_catalogues_situations(client, make):
    admin = make.user("admin", password="admin-pw")
    auth = basic_auth(admin.username, "admin-pw")
    for response, status, code in (
        (client.get("/api/v1/nothing-here", headers=auth), 404, "not_found"),
        (client.put("/api/v1/areas", headers=auth), 405, "method_not_allowed"),
        (client.post("/api/v1/areas", data="{", content_type="application/json", headers=auth), 400, "bad_request"),
        (client.post("/api/v1/areas", json={"name": "x"}, headers=auth), 422, "validation_failed"),
    ):
        assert (response.status_code, response.json["code"]) == (status, code), response.json


def test_a_status_outside_the_catalogue_is_said_as_the_nearest_and_logged(app, caplog):
    with app.test_request_context("/api/v1/areas", method="POST"), caplog.at_level(logging.ERROR, "server.errors"):
        found = errors.situation_of(UnsupportedMediaType())
    assert (found.status, found.code) == (400, "bad_request") and "outside the catalogue" in caplog.text


def test_a_grouping_is_never_answered_as_a_situation():
    assert not hasattr(errors.Conflict("x"), "code")
