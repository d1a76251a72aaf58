"""Our Request: uploaded files stream into the storage's staging folder, hashed while written."""
from __future__ import annotations

from flask import Request as FlaskRequest
from flask import current_app


class Request(FlaskRequest):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        staged = current_app.extensions["storage"].stage()
        self.staged_files.append(staged)
        return staged

    @property
    def staged_files(self) -> list:
        return self.__dict__.setdefault("_staged_files", [])


def discard_uncommitted_uploads(exc: BaseException | None = None) -> None:
    """After every request: staged parts that were not stored (ignored, refused, failed) are removed."""
    from flask import request

    for staged in request.staged_files:
        staged.discard()
