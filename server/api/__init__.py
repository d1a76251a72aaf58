"""The JSON API for people and scripts (flask-smorest, OpenAPI at /api/v1/openapi.json)."""
from flask_smorest import Api


def register_api(api: Api) -> None:
    from . import (areas, audit, campaigns, cases, casefile, county_rules, due, forms, media, relatives, spotchecks,
                   standards, submissions, users)

    api.spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    for module in (areas, cases, casefile, forms, users, submissions, media, due, audit, relatives, standards, campaigns,
                   spotchecks, county_rules):
        # A module may name its own prefix (the case file lives under /cases); else its blueprint's name.
        prefix = getattr(module, "URL_PREFIX", f"/api/v1/{module.blp.name}")
        api.register_blueprint(module.blp, url_prefix=prefix)
