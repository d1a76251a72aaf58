"""The error catalogue: every situation a client can meet, each a class with its HTTP status, its
stable code and (as its docstring) a one-line meaning; and the handlers that answer them.

Code raises the situation by its class (`raise StaleVersion("…")`); a class without a code of its
own (DomainError, Conflict) only groups situations and is never raised. Werkzeug's own refusals
(no route, a method the route lacks, a body it cannot read or over its limits, a range beyond the
file) and flask-smorest's validation errors are answered as the situations they are
(`situation_of`); a status the catalogue lacks is logged and said as the nearest (bad_request,
internal_error); anything unexpected is logged and answered as InternalError, never showing the
exception's text.

The app answers in JSON, {"code", "message", "details"?} (the OpenAPI document's Error, whose
`code` lists the catalogue: server/api/openapi.py); the phones' blueprint registers the same
handlers with its own rendering, <OpenRosaResponse> XML without the code (server/openrosa/views.py).
The command line shows the message (server/cli.py). docs/api.md has the table of every code;
tests/test_errors.py holds the table, the document and the raises in server/ to the catalogue.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A situation of the catalogue; its subclasses with a `code` of their own are the situations."""

    status: int
    code: str  # each situation's own, never inherited: a grouping (DomainError, Conflict) has none

    def __init__(self, message: str, *, details: dict | list | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str]:
        return {}


# 400: the request cannot be taken as it is.

class BadRequest(DomainError):
    """The request cannot be read: its body cut off or not what its Content-Type says, or a NUL in any text."""

    status, code = 400, "bad_request"


class InvalidInput(DomainError):
    """A value the request gives is refused for what it says; the message says which."""

    status, code = 400, "invalid_input"


class OpenRosaVersionRequired(DomainError):
    """A phone's address called without the header X-OpenRosa-Version: 1.0 (phones only)."""

    status, code = 400, "openrosa_version_required"


class SubmissionMalformed(DomainError):
    """An upload not as Collect sends one: not multipart, not one form data, two files of one name (phones only)."""

    status, code = 400, "submission_malformed"


class FormDataInvalid(InvalidInput):
    """The form data is refused: not well-formed, no instanceID, a file name not allowed … (phones only)."""

    code = "form_data_invalid"


class AttachmentRefused(InvalidInput):
    """A file that is not the picture its name says, where the form expects a photo (phones only)."""

    code = "attachment_refused"


class SampleNotDrawn(InvalidInput):
    """Checkers are assigned to a campaign's sample once it is drawn."""

    code = "sample_not_drawn"


# 401: who is calling is not known.

class Unauthenticated(DomainError):
    """No credentials: sign in with HTTP Basic, an API token or a phone's key."""

    status, code = 401, "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="dibao", charset="UTF-8"'}


class WrongPassword(Unauthenticated):
    """The username and password do not match (which of the two is wrong is not said)."""

    code = "wrong_password"


class UnknownToken(Unauthenticated):
    """An API token or a phone's key that is unknown or revoked."""

    code = "unknown_token"


# 403: known, but not allowed.

class Forbidden(DomainError):
    """The caller's role (for county staff: their county) does not do this; the message says who does."""

    status, code = 403, "forbidden"


class OutsideReach(Forbidden):
    """A submission or a standard names a household, village or area outside the caller's areas."""

    code = "outside_reach"


class OwnVisit(Forbidden):
    """A reviewer's own visit: someone else reviews it (谁调查谁签字)."""

    code = "own_visit"


class PasswordRequired(Forbidden):
    """A credential (a token, an account) is made only by a person who signed in with a password."""

    code = "password_required"


class ForeignOrigin(Forbidden):
    """A POST, PUT, PATCH or DELETE sent by another site's page (cross-site request forgery: server/origin.py)."""

    code = "foreign_origin"


class HttpsRequired(Forbidden):
    """A password or a token sent over plain HTTP outside development."""

    code = "https_required"


# 404: nothing of that name.

class NotFound(DomainError):
    """Nothing of that name (a path, an id, a code) in the caller's reach: the same answer as for none at all."""

    status, code = 404, "not_found"


class UnknownFormVersion(NotFound):
    """The form data names a version of its form never published on this server (phones only)."""

    code = "unknown_form_version"


class UnknownDeprecatedId(NotFound):
    """A correction whose deprecatedID names no submission on the server: send that one first (phones only)."""

    code = "unknown_deprecated_id"


class FileMissing(NotFound):
    """A file recorded with a submission is missing from storage: tell the administrator."""

    code = "file_missing"


class NoThumbnail(NotFound):
    """The picture cannot be opened, so it has no thumbnail: download the file itself."""

    code = "no_thumbnail"


class MethodNotAllowed(DomainError):
    """The path has no such method (Werkzeug's answer before any view)."""

    status, code = 405, "method_not_allowed"


# 409: the request conflicts with what is stored.

class Conflict(DomainError):
    """What is stored does not allow the request (a grouping: its subclasses are the situations)."""

    status = 409


class Duplicate(Conflict):
    """Something of that name exists: an area code, a username, a live token's name, a standard, a form version."""

    code = "duplicate"


class AlreadyDecided(Conflict):
    """The visit or the approval is already decided; a decision is not made twice."""

    code = "already_decided"


class StaleVersion(Conflict):
    """Someone else changed it since the caller read it (the version sent is not the current one): reload it."""

    code = "stale_version"


class LostRace(Conflict):
    """Someone else did the same at the same moment and the database kept theirs: reload, nothing was saved."""

    code = "lost_race"


class AlreadyDone(Conflict):
    """Done already and not done twice: a campaign's sample drawn, a redo order withdrawn."""

    code = "already_done"


class ApprovalUnderWay(Conflict):
    """The household already has an approval under way: one at a time."""

    code = "approval_under_way"


class OutOfOrder(Conflict):
    """An approval's levels are recorded in order, none skipped: another level comes next."""

    code = "out_of_order"


class TransitionRefused(Conflict):
    """A case cannot go from its status to that one by hand."""

    code = "transition_refused"


class ChecksPending(Conflict):
    """The visit's pictures and checks are still being processed: approve it in a minute."""

    code = "checks_pending"


class InstanceIdTaken(Conflict):
    """A different submission with this instanceID is on the server: edit it, to send a new version (phones only)."""

    code = "instance_id_taken"


class AlreadyCorrected(Conflict):
    """The submission a correction names (its deprecatedID) was corrected by another version already (phones only)."""

    code = "already_corrected"


class FileDiffers(Conflict):
    """A file the server has came with other bytes: the first is kept, evidence is never replaced (phones only)."""

    code = "file_differs"


class NotEmpty(Conflict):
    """The demo county goes only into an empty database (met by no client: dev-setup seeds only an empty one)."""

    code = "not_empty"


# 413, 416, 422, 429, 500.

class TooLarge(DomainError):
    """The body, or a part of it, is larger than the server takes."""

    status, code = 413, "too_large"


class RangeNotSatisfiable(DomainError):
    """The byte range asked (Range) is not within the file (Werkzeug's answer)."""

    status, code = 416, "range_not_satisfiable"


class ValidationFailed(DomainError):
    """Fields the OpenAPI document refuses; `details` names each with its messages."""

    status, code = 422, "validation_failed"


class FormInvalid(DomainError):
    """pyxform or ODK Validate refused an XLSForm; the message is the validator's."""

    status, code = 422, "form_invalid"


class TooManySignIns(DomainError):
    """Too many wrong passwords for this account from this address: Retry-After says how long to wait."""

    status, code = 429, "too_many_sign_ins"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InternalError(DomainError):
    """The server failed; the error is logged (never shown) and nothing was saved."""

    status, code = 500, "internal_error"


def catalogue() -> dict[str, type[DomainError]]:
    """Every situation by its code."""
    found, pending = {}, [DomainError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            found[cls.code] = cls
    return found


# Werkzeug's own refusals, by status, as the situations they are.
WERKZEUG = {400: BadRequest, 404: NotFound, 405: MethodNotAllowed, 413: TooLarge, 416: RangeNotSatisfiable}
FAILED = "The server failed; the error is logged. Nothing was saved."


def situation_of(error: Exception) -> DomainError:
    """The catalogue's situation of any error a request met."""
    if isinstance(error, DomainError):
        return error
    if isinstance(error, HTTPException):
        data = getattr(error, "data", None)
        if error.code == 422 and isinstance(data, dict):  # flask-smorest's validation: keep the field messages
            return ValidationFailed("The request has invalid fields.", details=data.get("messages"))
        found = WERKZEUG.get(error.code)
        if found is None:  # a status none of ours is known to meet: said as the nearest, and logged to be added
            log.error("HTTP error %s outside the catalogue on %s %s", error.code, request.method, request.path)
            found = BadRequest if error.code < 500 else InternalError
        return found(error.description or error.name)
    log.exception("unexpected error on %s %s", request.method, request.path)
    return InternalError(FAILED)


def as_json(error: DomainError) -> Response:
    body = {"code": error.code, "message": error.message}  # the OpenAPI document's Error (server/api/openapi.py)
    if error.details:
        body["details"] = error.details
    return jsonify(body)


def answer(error: Exception, render: Callable[[DomainError], Response] = as_json) -> Response:
    """The response to any error: its situation's status and headers, the body `render` makes."""
    found = situation_of(error)
    response = render(found)
    response.status_code = found.status
    response.headers.update(found.headers())
    return response


def register_error_handlers(where: Flask | Blueprint, render: Callable[[DomainError], Response] = as_json) -> None:
    """Answer every error of what `where` serves (the app: every request; a blueprint: the requests
    routed to it, whose errors Flask gives its handlers first) with the body `render` makes."""
    handler = functools.partial(answer, render=render)
    where.register_error_handler(HTTPException, handler)  # on the app, in place of flask-smorest's (registered first)
    where.register_error_handler(Exception, handler)
