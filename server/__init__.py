"""The Flask application factory: the only way an app is made (wsgi.py, tests, CLI)."""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as settings
from .errors import register_error_handlers
from .extensions import db
from .origin import refuse_foreign_origin
from .requests import Request, discard_uncommitted_uploads, screen_request
from .signin import init_sign_in
from .storage import init_storage


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=None)
    app.config.update(settings.from_environment())
    app.config.update(
        API_TITLE="Dibao home-visit verification",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        OPENAPI_REDOC_PATH=None,
        JSON_AS_ASCII=False,
        # Every operation signs in with HTTP Basic or a script's token (the schemes are declared in
        # server/api/__init__.py).
        API_SPEC_OPTIONS={"security": [{"basic": []}, {"bearer": []}]},
    )
    app.config.update(config or {})
    settings.fill_development_defaults(app.config)
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("SECRET_KEY must be set outside development (see docs/deployment.md).")
    address = urlsplit(app.config["PUBLIC_BASE_URL"])
    if address.scheme not in ("http", "https") or not address.netloc or address.query or address.fragment:
        # Every URL given to a phone (formList, manifests, its server URL and QR code) starts with
        # it; taken from a request's Host header instead, a client could choose them.
        raise RuntimeError("PUBLIC_BASE_URL must be set to the address phones use, such as "
                           "https://dibao.example.gov.cn (see docs/deployment.md).")
    app.json.ensure_ascii = False
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)

    db.init_app(app)
    init_storage(app)
    init_sign_in(app)
    app.request_class = Request
    app.before_request(refuse_foreign_origin)  # before any sign-in: a forged request costs nothing
    app.before_request(screen_request)
    app.teardown_request(discard_uncommitted_uploads)

    from .openrosa import register_openrosa

    register_openrosa(app)

    from .api import register_api

    register_api(app)
    register_error_handlers(app)  # after flask-smorest's, which it replaces

    from .cli import register_cli

    register_cli(app)
    return app
