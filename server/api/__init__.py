"""The JSON API for people and scripts (flask-smorest, OpenAPI at /api/v1/openapi.json)."""
from flask_smorest import Api


def register_api(api: Api) -> None:
    from . import areas, cases, due, forms, media, submissions, users

    api.spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    for module in (areas, cases, forms, users, submissions, media, due):
        api.register_blueprint(module.blp, url_prefix=f"/api/v1/{module.blp.name}")
