"""The phone protocol (OpenRosa 1.0) as ODK Collect and KoboCollect speak it.

The blueprint is registered twice: at the site root, where phones authenticate with HTTP Basic,
and under /key/<token>, where the phone token in the server URL is the credential.
"""
from flask import Blueprint, Flask

bp = Blueprint("openrosa", __name__)


def register_openrosa(app: Flask) -> None:
    from . import submission, views  # noqa: F401  (importing them registers their routes on bp)

    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/key/<token>", name="openrosa_key")
