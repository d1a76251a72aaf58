"""Our Request: uploaded files stream into the storage's staging folder, hashed while written."""
from __future__ import annotations

from flask import Request as FlaskRequest
from flask import current_app
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import BadRequest, TooLarge


# The first part (the form data, from Collect) is held in memory up to this size; see StagedFile.
FIRST_PART_IN_MEMORY = 64 * 1024


class Request(FlaskRequest):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        in_memory = 0 if self.staged_files else FIRST_PART_IN_MEMORY  # one a request, so memory is bounded
        staged = current_app.extensions["storage"].stage(in_memory_up_to=in_memory)
        self.staged_files.append(staged)
        return staged

    @property
    def staged_files(self) -> list:
        return self.__dict__.setdefault("_staged_files", [])

    def make_form_data_parser(self):
        # Werkzeug's parser is silent by default: a body cut off on a dropped connection, or otherwise
        # malformed, came out as no parts at all ("no xml_submission_file"). Said as it is instead:
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except ValueError:
            raise BadRequest("The form data was cut off or is malformed (the connection may have dropped). "
                             "Send it again. Nothing was saved.") from None
        except RequestEntityTooLarge:  # Werkzeug's own limits, met while parsing
            if not self.staged_files and not self._over_content_limit():
                # The parser buffers what it cannot split until its memory limit: a body that never
                # shows the boundary its Content-Type names (or whose first part's headers never end)
                # met that limit before any part began. It is malformed, not too large.
                raise BadRequest("The upload's parts were not found: its body does not match the multipart "
                                 "boundary its Content-Type names, or its first part is malformed. "
                                 "Nothing was saved.") from None
            limits = [f"over {self.max_content_length // 1024 // 1024} MB"] if self.max_content_length else []
            limits.append(f"more than {self.max_form_parts} parts")
            if self.max_form_memory_size:
                limits.append(f"a form field over {self.max_form_memory_size // 1000} KB")
            raise TooLarge(f"The upload is too large for this server ({', '.join(limits[:-1])} or {limits[-1]}). "
                           "Nothing was saved.") from None

    def _over_content_limit(self) -> bool:
        return bool(self.max_content_length) and (self.content_length or 0) > self.max_content_length


def screen_request() -> None:
    """Before every request, what no handler should meet (each was a 500):
    - the NUL character in any text: PostgreSQL can neither store nor compare it (SQLite took it).
      The path, the query string, a Basic sign-in and a JSON body are looked at; form data is XML,
      where NUL is not well-formed, and file names are checked where they are read;
    - a JSON body nested deeper than Python's parser goes (its RecursionError is no ValueError)."""
    from flask import request

    texts = [request.path, *request.args.keys(), *request.args.values()]
    if request.authorization:
        texts.extend(filter(None, (request.authorization.username, request.authorization.password)))
    if request.is_json:
        try:
            texts.extend(_strings(request.get_json(silent=True)))
        except RecursionError:
            raise BadRequest("The JSON body nests too deep.") from None
    if any("\x00" in text for text in texts):
        raise BadRequest("The request carries the NUL character (\\u0000), which no text here may contain.")


def _strings(value):
    """Every string in a JSON document, keys too (without recursion: a document may nest deep)."""
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from value.keys()
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def discard_uncommitted_uploads(exc: BaseException | None = None) -> None:
    """After every request: staged parts that were not stored (ignored, refused, failed) are removed."""
    from flask import request

    for staged in request.staged_files:
        staged.discard()
