"""formList, form download, manifest and media download for phones; and what every phone's
request passes through: the protocol's header, the caller, the protocol's headers on the answer,
and its errors in <OpenRosaResponse> XML."""
from __future__ import annotations

from flask import Response, current_app, g, request, url_for
from werkzeug import exceptions
from werkzeug.http import http_date

from ..errors import DomainError, NotFound, OpenRosaVersionRequired, answer, as_json, register_error_handlers
from ..extensions import begin_read, db, write_transaction
from ..services import audit
from ..services import cases as case_service
from ..services import forms as form_service
from ..services import phone_lists, sampling
from . import bp
from . import xml as render
from .auth import authenticate_phone

OPENROSA_VERSION = "1.0"

# Each generated manifest file, made for the caller; the caseworkers' cases.csv kept while its
# households did not change (services/phone_lists.py).
MEDIA_BUILDERS = {
    "cases.csv": phone_lists.cached("cases.csv", case_service.cases_csv),
    "villages.csv": case_service.villages_csv,
}
# A form may have its own list: the spot check's households are the checker's assignments.
FORM_MEDIA_BUILDERS = {(form_service.SPOT_CHECK, "cases.csv"): sampling.assignments_csv}


def _media_file(form_id: str, filename: str) -> case_service.CsvFile:
    build = FORM_MEDIA_BUILDERS.get((form_id, filename), MEDIA_BUILDERS[filename])
    return build(db.session, g.user)


@bp.url_value_preprocessor
def take_token(endpoint, values) -> None:
    g.phone_token = values.pop("token", None) if values else None


@bp.url_defaults
def keep_token(endpoint, values) -> None:
    if g.get("phone_token") is not None and current_app.url_map.is_endpoint_expecting(endpoint, "token"):
        values.setdefault("token", g.phone_token)


@bp.before_request
def check_protocol_and_caller() -> None:
    if request.headers.get("X-OpenRosa-Version", "").strip() != OPENROSA_VERSION:
        raise OpenRosaVersionRequired("This address is for ODK Collect and KoboCollect: send X-OpenRosa-Version: 1.0.")
    begin_read()  # the phone's downloads only read; an upload commits this before it writes
    g.user = authenticate_phone()


def is_phone_request() -> bool:
    """A request routed to this blueprint (at either registration), or, routed nowhere, one under
    /key/ or carrying X-OpenRosa-Version: a phone's, answered in OpenRosa's way."""
    return (
        request.blueprint in ("openrosa", "openrosa_key")
        or request.path.startswith("/key/")
        or "X-OpenRosa-Version" in request.headers
    )


def xml_error(error: DomainError) -> Response:
    """Collect shows the message to the caseworker; OpenRosa has no place for the code."""
    return _xml(render.response(error.message, nature="error"))


register_error_handlers(bp, xml_error)


@bp.app_errorhandler(exceptions.NotFound)
@bp.app_errorhandler(exceptions.MethodNotAllowed)
def matched_no_route(error: exceptions.HTTPException) -> Response:
    """Flask gives a blueprint's handlers only the requests routed to it, so a phone's request
    that matched no route (a path mistyped under /key/<token>/) is answered in XML here."""
    return answer(error, xml_error if is_phone_request() else as_json)


@bp.after_app_request
def openrosa_headers(response: Response) -> Response:
    if is_phone_request():
        response.headers["X-OpenRosa-Version"] = OPENROSA_VERSION
        response.headers["X-OpenRosa-Accept-Content-Length"] = str(current_app.config["OPENROSA_ACCEPT_CONTENT_LENGTH"])
        response.headers.setdefault("Date", http_date())
    return response


def _external(endpoint: str, **values) -> str:
    """An absolute URL at PUBLIC_BASE_URL, whatever Host the request named (a client must not
    choose where the phones download from). The base includes any path the server is mounted
    at, which url_for gives as the script root."""
    path = url_for(f"{request.blueprint}.{endpoint}", **values)
    return current_app.config["PUBLIC_BASE_URL"] + path[len(request.script_root):]


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=render.XML_CONTENT_TYPE)


def _cached(body: bytes, content_type: str, etag: str) -> Response:
    response = Response(body, content_type=content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)


@bp.get("/formList")
def form_list():
    """The forms this caller's role fills, newest version of each."""
    wanted = request.args.get("formID")
    entries = [
        render.FormListEntry(
            form_id=form.form_id,
            name=version.title,
            version=version.version,
            md5=version.md5,
            download_url=_external("form_xml", form_id=form.form_id, version=version.version),
            manifest_url=_external("manifest", form_id=form.form_id) if version.media_files else None,
        )
        for form, version in form_service.forms_for_role(db.session, g.user.role)
        if wanted is None or form.form_id == wanted
    ]
    return _xml(render.form_list(entries))


def _form_for_caller(form_id: str, version: str | None = None):
    found = form_service.get_version(db.session, form_id, version)
    if g.user.role not in found.form.roles:
        raise NotFound(f"No form {form_id!r} for your role.")
    return found


@bp.get("/forms/<form_id>/versions/<version>/form.xml")
def form_xml(form_id: str, version: str):
    """The XForm exactly as formList announced it; older versions stay downloadable."""
    found = _form_for_caller(form_id, version)
    return _cached(found.xml, render.XML_CONTENT_TYPE, found.md5)


@bp.get("/forms/<form_id>/manifest")
def manifest(form_id: str):
    found = _form_for_caller(form_id)
    entries = [
        render.MediaEntry(
            filename=name,
            md5=_media_file(form_id, name).md5,
            download_url=_external("media", form_id=form_id, filename=name),
        )
        for name in found.media_files
    ]
    return _xml(render.manifest(entries))


@bp.get("/forms/<form_id>/media/<filename>")
def media(form_id: str, filename: str):
    found = _form_for_caller(form_id)
    if filename not in found.media_files:
        raise NotFound(f"Form {form_id!r} has no file {filename!r}.")
    made = _media_file(form_id, filename)
    response = _cached(made.body, "text/csv; charset=utf-8", made.md5)
    if filename == "cases.csv" and response.status_code == 200:
        # The phone's list of households (names, addresses) is a list read of personal data: audited
        # as the API's lists are, its event written in a short write transaction after the read,
        # before the list goes out (server/api/boundary.py). A 304 sends nothing.
        audit.note_list(g.user, "case.download", "form", {}, object_id=form_id, rows=made.rows)
        db.session.commit()  # the end of the read
        with write_transaction():
            audit.record_noted(db.session)
    return response
