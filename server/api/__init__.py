"""The JSON API for people and scripts (flask-smorest, OpenAPI at /api/v1/openapi.json)."""
import marshmallow
from flask import Flask
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # PostgreSQL's integer, our tables' ids


class Schema(marshmallow.Schema):
    """The API's schemas. An integer a request sends must fit PostgreSQL's integer columns: each
    integer field (and a list's integer items) is held to -2**31 to MAX_ID besides its own range, so
    a larger one is a 422 naming the field instead of a 500 from the database."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if field_obj.dump_only:  # never read from a request; what is sent out may be larger (a campaign's seed)
            return
        for field in (field_obj, getattr(field_obj, "inner", None)):
            if isinstance(field, fields.Integer):
                field.validators = [*field.validators, validate.Range(-MAX_ID - 1, MAX_ID)]


class IdConverter(IntegerConverter):
    """A row's id in a path, `<id:name>`: 1 to MAX_ID. Any other number names no row and matches no
    route, a 404 (PostgreSQL would refuse to compare a larger one with an integer column: a 500)."""

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def register_api(app: Flask) -> None:
    from .openapi import Api

    api = Api(app)
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    from . import (areas, audit, campaigns, cases, casefile, county_rules, due, forms, media, relatives, spotchecks,
                   standards, submissions, users)

    api.spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                   "description": "A script's API token (docs/api.md)"})
    modules = (areas, cases, casefile, forms, users, submissions, media, due, audit, relatives, standards, campaigns,
               spotchecks, county_rules)
    for module in modules:
        # A module may name its own prefix (the case file lives under /cases); else its blueprint's name.
        prefix = getattr(module, "URL_PREFIX", f"/api/v1/{module.blp.name}")
        api.register_blueprint(module.blp, url_prefix=prefix)
    from .boundary import install

    install(app, [module.blp.name for module in modules])  # one transaction per request, no view commits
