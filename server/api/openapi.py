"""What the OpenAPI document says about errors: our error body and the statuses every operation can answer.

The body is the one server/errors.py sends, {"code": "<stable string>", "message": ..., "details"?: ...},
its `code` one of the catalogue's (an enum, each code described; flask-smorest's own error schema has
an integer `code`, and no `details`). The statuses are declared by rule rather than by hand on each
view, so an operation's list stays true as views change: what any request can meet (sign-in, HTTPS,
throttling, a malformed request) is declared on every operation, what a path, a body or a write can
meet on those that have one (a body names areas and people as a path does: 404 for one outside the
caller's reach). There is no `default` response: a status the document does not name is a bug that
the conformance run (tests/test_openapi_conformance.py) reports.
"""
from __future__ import annotations

import http

import flask_smorest
from apispec import BasePlugin
from marshmallow import Schema, fields, validate

from ..errors import catalogue
from .pagination import PAGINATION_HEADER

# The statuses of server/errors.py's catalogue, with what each means on this API.
ERROR_STATUSES = {
    400: "The request is malformed (a body that is not JSON, the NUL character in any text, JSON nested too "
         "deep, an upload cut off) or refused for what it says (e.g. an area code that names no area).",
    401: "Not signed in, wrong username or password, or an unknown or revoked token.",
    403: "Not allowed: the caller's role or areas do not cover it, or the request was not made over HTTPS.",
    404: "Nothing of that name (in the path, or named by the body: an area, a user) in the caller's reach; the "
         "same answer as for something that does not exist.",
    409: "Conflicts with what is stored: a duplicate, something already decided or done, or a change made "
         "meanwhile by someone else.",
    413: "The body is larger than the server accepts.",
    422: "The request has invalid fields; `details` names each field with its messages.",
    429: "Too many failed sign-ins from this address for this account; `Retry-After` says when to try again.",
}
EVERY_OPERATION = (400, 401, 403, 429)
WRITE_METHODS = ("post", "put", "patch", "delete")

HEADERS = {
    401: {"WWW-Authenticate": {"description": "The sign-in scheme: HTTP Basic.", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before signing in again.",
                          "schema": {"type": "integer", "minimum": 0}}},
}


def _codes() -> str:
    """The catalogue as a list for people: each code with its status and meaning."""
    situations = sorted(catalogue().items(), key=lambda item: (item[1].status, item[0]))
    return "\n".join(f"- `{code}` ({cls.status}): {cls.__doc__.strip()}" for code, cls in situations)


class ErrorSchema(Schema):
    """Every error of the JSON API (built by server/errors.py)."""

    code = fields.String(required=True, validate=validate.OneOf(sorted(catalogue())), metadata={
        "description": "A stable code to act on, one per situation (server/errors.py's catalogue; codes marked "
                       "phones only reach phones, in the message of an <OpenRosaResponse>, without the code):\n"
                       + _codes(),
        "example": "not_found"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person to read"})
    details = fields.Raw(metadata={"description": "Present on some errors: e.g. for validation_failed, each "
                                                  "field's messages"})


ERROR_REF = {"$ref": "#/components/schemas/Error"}  # added after the marshmallow plugin has run: a plain reference


def response_name(status: int) -> str:
    return http.HTTPStatus(status).name  # the names flask-smorest refers to (UNPROCESSABLE_ENTITY for 422)


def statuses_for(path: str, method: str, operation: dict) -> list[int]:
    """The error statuses an operation can answer, by what it has (see the module's docstring)."""
    statuses = list(EVERY_OPERATION)
    if "{" in path or "requestBody" in operation:
        statuses.append(404)
    if method in WRITE_METHODS:
        statuses.append(409)
    if "requestBody" in operation:
        statuses.append(413)
    if "requestBody" in operation or any(p.get("in") != "path" for p in operation.get("parameters", [])
                                         if isinstance(p, dict)):
        statuses.append(422)
    return sorted(statuses)


class ErrorResponses(BasePlugin):
    """Adds the error statuses to every operation; a status a view documented itself
    (`@blp.alt_response(404, description=...)`) keeps its description and gets the error body."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for status in statuses_for(path, method, operation):
                key = status if status in responses else str(status)
                declared = responses.get(key)
                if declared is None:
                    responses[status] = response_name(status)
                elif isinstance(declared, dict) and "content" not in declared:
                    declared["content"] = {"application/json": {"schema": ERROR_REF}}
                    if status in EVERY_OPERATION:  # the view named one reason; the general ones hold too
                        declared["description"] = f"{declared['description']}; or: {ERROR_STATUSES[status]}"
                    if status in HEADERS:
                        declared.setdefault("headers", {}).update(HEADERS[status])


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting our error body, our statuses and X-Pagination as sent."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # no catch-all "default": every status is named

    def _init_spec(self, *, extra_plugins=None, **options):
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ErrorResponses()], **options)

    def _register_responses(self):
        self.spec.components.schema("Error", schema=ErrorSchema)
        for status, description in ERROR_STATUSES.items():
            response = {"description": description, "content": {"application/json": {"schema": ErrorSchema}}}
            if status in HEADERS:
                response["headers"] = HEADERS[status]
            self.spec.components.response(response_name(status), response, lazy=True)

    def _register_pagination_header(self):
        self.spec.components.header("PAGINATION", PAGINATION_HEADER, lazy=True)
