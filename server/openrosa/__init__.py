"""The phone protocol (OpenRosa 1.0) as ODK Collect and KoboCollect speak it.

The blueprint is registered twice: at the site root, where phones authenticate with HTTP Basic,
and under /key/<token>, where the phone token in the server URL is the credential.
"""
from flask import Blueprint

bp = Blueprint("openrosa", __name__)

from . import submission, views  # noqa: E402,F401  (registers the routes)
