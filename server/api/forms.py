"""Questionnaires: publish a new version from an XLSForm, list versions, read any version."""
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields
from sqlalchemy import select

from ..errors import NotFound, TooLarge
from ..extensions import db
from ..models import Form
from ..services import forms as form_service
from . import Schema
from .auth import api_user, require_role

blp = Blueprint("forms", __name__, description="Questionnaires (XLSForm → XForm)")


class VersionSchema(Schema):
    version = fields.String()
    title = fields.String()
    md5 = fields.String()
    media_files = fields.List(fields.String())
    source_filename = fields.String()
    published_at = fields.DateTime()
    published_by = fields.String(attribute="published_by.username", allow_none=True)


class FormSchema(Schema):
    form_id = fields.String()
    title = fields.String()
    roles = fields.List(fields.String())
    versions = fields.List(fields.Nested(VersionSchema))


class PublishSchema(Schema):
    xlsform = Upload(required=True, metadata={"description": "The XLSForm (.xlsx, .xls, .md or .csv)"})


def _form(form_id: str) -> Form:
    form = db.session.scalar(select(Form).where(Form.form_id == form_id))
    if form is None:
        raise NotFound(f"No form {form_id!r}.")
    return form


@blp.route("")
class Forms(MethodView):
    @blp.response(200, FormSchema(many=True))
    def get(self):
        """Every form with all its versions."""
        api_user()
        return db.session.scalars(select(Form).order_by(Form.form_id)).all()

    @blp.arguments(PublishSchema, location="files")
    @blp.response(201, VersionSchema)
    @blp.alt_response(409, description="That version string is already published")
    @blp.alt_response(422, description="pyxform or ODK Validate refused the form; the message says why")
    def post(self, files):
        """Publish a new version from an uploaded XLSForm (admin)."""
        user = require_role("admin")
        limit = current_app.config["MAX_XLSFORM_BYTES"]
        if (request.content_length or 0) > limit:
            raise TooLarge(f"An XLSForm may be at most {limit // 1024} KB.")
        upload = files["xlsform"]
        source = upload.read(limit + 1)
        if len(source) > limit:
            raise TooLarge(f"An XLSForm may be at most {limit // 1024} KB.")
        version = form_service.publish(
            db.session, source, upload.filename or "form.xlsx", published_by=user,
            validate=current_app.config["ODK_VALIDATE"],
        )
        return version


@blp.route("/<form_id>")
class FormItem(MethodView):
    @blp.response(200, FormSchema)
    def get(self, form_id):
        """One form with all its versions."""
        api_user()
        return _form(form_id)


@blp.route("/<form_id>/versions/<version>/xform")
@blp.response(200, content_type="text/xml")
def version_xform(form_id, version):
    """The XForm of any published version, exactly as phones receive it."""
    api_user()
    found = form_service.get_version(db.session, form_id, version)
    return Response(found.xml, content_type="text/xml; charset=utf-8")


@blp.route("/<form_id>/versions/<version>/source")
@blp.response(200, content_type="application/octet-stream")
def version_source(form_id, version):
    """The XLSForm a version was published from."""
    api_user()
    found = form_service.get_version(db.session, form_id, version)
    return Response(
        found.source, content_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{found.source_filename}"},
    )
