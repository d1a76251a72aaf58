"""The error catalogue: domain exceptions with an HTTP status and a stable code, and their handlers.

Phones get <OpenRosaResponse> XML (handlers registered by server.openrosa); people and scripts get
JSON. No handler ever shows the text of an unexpected exception.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .openrosa import xml as render

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict | list | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    status, code = 400, "invalid_input"


class Unauthenticated(DomainError):
    status, code = 401, "unauthenticated"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class PasswordRequired(DomainError):
    """A credential (a token, an account) is made only by a person who signed in with a password."""

    status, code = 403, "password_required"


class ForeignOrigin(DomainError):
    """A state-changing request sent by another site's page (see server/origin.py)."""

    status, code = 403, "foreign_origin"


class HttpsRequired(DomainError):
    status, code = 403, "https_required"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class TooLarge(DomainError):
    status, code = 413, "too_large"


class TooManySignIns(DomainError):
    """Sign-in throttled (server/services/throttle.py): the answer says how long to wait."""

    status, code = 429, "too_many_sign_ins"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class FormInvalid(DomainError):
    """pyxform or ODK Validate refused an XLSForm; the message is the validator's."""

    status, code = 422, "form_invalid"


def is_phone_request() -> bool:
    """Phones speak OpenRosa: their errors are <OpenRosaResponse> XML, everyone else's JSON."""
    return (
        request.blueprint in ("openrosa", "openrosa_key")
        or request.path.startswith("/key/")
        or "X-OpenRosa-Version" in request.headers
    )


def _error(status: int, code: str, message: str, details=None):
    if is_phone_request():
        return Response(render.response(message, nature="error"), status=status, content_type=render.XML_CONTENT_TYPE)
    body = {"code": code, "message": message}  # the OpenAPI document's Error (server/api/openapi.py)
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        response = _error(error.status, error.code, error.message, error.details)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="dibao", charset="UTF-8"'
        if isinstance(error, TooManySignIns):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/") and error.code == 422 and hasattr(error, "data"):
            # flask-smorest validation errors: keep the field messages.
            messages = error.data.get("messages") if isinstance(error.data, dict) else None
            return _error(422, "validation_failed", "The request has invalid fields.", messages)
        return _error(error.code or 500, error.name.lower().replace(" ", "_"), error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "The server failed; the error is logged. Nothing was saved.")
