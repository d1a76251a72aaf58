"""The floor for bench/ingest.py: a bare WSGI app that streams the same multipart to disk with fsync.

No database, no checks: what any server must at least do with an upload. `gunicorn bench.floor_app:app`.
"""
import os
import tempfile

from werkzeug.formparser import parse_form_data

FOLDER = os.environ.get("FLOOR_DIR", tempfile.gettempdir())


def _to_disk(total_content_length, content_type, filename, content_length=None):
    return tempfile.NamedTemporaryFile(dir=FOLDER, delete=False)


def app(environ, start_response):
    _, _, files = parse_form_data(environ, stream_factory=_to_disk)
    for part in files.values():
        part.stream.flush()
        os.fsync(part.stream.fileno())
        part.stream.close()
        os.replace(part.stream.name, part.stream.name + ".kept")
    start_response("201 Created", [("Content-Type", "text/xml"), ("Content-Length", "0")])
    return [b""]
