"""Where bytes live, behind one small interface: content-addressed by SHA-256, so the same bytes
are stored once. Uploads are staged (streamed to a temporary file and hashed while written), then
committed (fsynced and moved into place) before the database row that refers to them."""
from __future__ import annotations

from flask import Flask, current_app

from .local import LocalStorage, StagedFile

__all__ = ["LocalStorage", "StagedFile", "get_storage", "init_storage"]


def init_storage(app: Flask) -> None:
    app.extensions["storage"] = LocalStorage(app.config["MEDIA_DIR"])


def get_storage() -> LocalStorage:
    return current_app.extensions["storage"]
