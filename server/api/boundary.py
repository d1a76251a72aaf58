"""The JSON API's transaction boundary, in one place (as indico's RH): every view of server/api/ runs
inside it, and no view commits.

- The caller signs in first, as a read (a password's hash takes ~0.1 s: no lock is held meanwhile).
- A read (GET, HEAD) stays a read: on PostgreSQL its queries run in autocommit (begin_read), on
  SQLite in a read transaction that never takes the write lock. The events of audited reads (a case,
  a submission, a file, a list of households) are noted while it runs and written afterwards in a
  short write transaction, before the response goes out: a read whose event cannot be written
  answers an error and shows nothing.
- A write (POST, PUT, PATCH, DELETE) ends the sign-in's read and begins as a writer (BEGIN IMMEDIATE
  on SQLite), so it waits for the write lock instead of failing at a late read-to-write upgrade. It is
  committed once the view has returned, with the response body already made and before it goes out;
  any exception rolls back everything the view flushed, and a unique-constraint race is a 409.

The phone's upload (server/openrosa/submission.py) is the one exception: its phases have
transactions of their own (docs/decisions.md)."""
from __future__ import annotations

from functools import wraps

from flask import Flask, request

from ..extensions import begin_read, db, write_transaction
from ..services import audit
from .auth import api_user

READ_METHODS = ("GET", "HEAD")  # OPTIONS is answered by Flask before any view


def transactional(view):
    @wraps(view)
    def boundary(*args, **kwargs):
        session = db.session
        try:
            begin_read()
            api_user()
            if request.method in READ_METHODS:
                response = view(*args, **kwargs)
                session.commit()  # the end of the read: nothing to keep
            else:
                session.commit()  # the end of the sign-in's read; the write begins as a writer
                with write_transaction(session):
                    response = view(*args, **kwargs)
                    audit.record_noted(session)
                return response
        except BaseException:
            session.rollback()
            raise
        if audit.has_noted():
            with write_transaction(session):
                audit.record_noted(session)
        return response

    return boundary


def install(app: Flask, blueprint_names) -> None:
    """Put every view of these blueprints inside the boundary."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.split(".", 1)[0] in blueprint_names:
            app.view_functions[endpoint] = transactional(view)
