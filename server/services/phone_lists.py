"""The phones' cases.csv, kept in each worker's memory while nothing it is made of changed.

A phone asks for its list over and over: each form's manifest carries its md5 (seven forms share
one list), and every "Get blank forms" asks again with If-None-Match. Building a 5,000-household
list takes some 40 ms; checking that it has not changed takes one small query: the change counters
(list_versions, kept by triggers in the database, migration 0001_baseline) of every area in the caller's
reach. A list is made again when any of them moved, when the reach holds other areas, or on a new
day. Workers are separate processes: each keeps its own lists, and the counters, changed in the
same transaction as the rows, tell every one of them.

The counters are read before the list is built, in the same read: a change committed in between
is then in the list but not in the counters kept with it, and the next request builds it again;
never the other way round."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Area, ListVersion, User
from .areas import reach_condition
from .cases import CsvFile
from .schedule import today

# Lists kept per worker, at most this many bytes in all (the least recently used go first).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class ListCache:
    """Built lists by key, each with the fingerprint it was built at; thread-safe (gthread)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lists: OrderedDict[Hashable, tuple[Hashable, CsvFile]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, fingerprint: Hashable) -> CsvFile | None:
        with self._lock:
            kept = self._lists.get(key)
            if kept is None or kept[0] != fingerprint:
                return None
            self._lists.move_to_end(key)
            return kept[1]

    def put(self, key: Hashable, fingerprint: Hashable, made: CsvFile) -> None:
        if len(made.body) > self.max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._lists[key] = (fingerprint, made)
            self._bytes += len(made.body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._lists)))

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self._bytes = 0

    def _drop(self, key: Hashable) -> None:
        kept = self._lists.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept[1].body)


def cache_of(app: Flask) -> ListCache:
    """This app's lists (one per worker process)."""
    kept = app.extensions.get("phone_lists")
    if kept is None:
        kept = app.extensions.setdefault(
            "phone_lists", ListCache(app.config.get("PHONE_LIST_CACHE_BYTES", DEFAULT_MAX_BYTES)))
    return kept


def cache() -> ListCache:
    return cache_of(current_app)


def reach_key(user: User) -> tuple[str, ...]:
    """What a caseworker's list depends on of the caller: their areas, nothing else (two callers
    with the same areas share one list)."""
    return tuple(sorted(area.path for area in user.areas))


def fingerprint(session: Session, user: User) -> tuple:
    """The day, and (id, counter) of every area in the caller's reach. Any change to a row of the
    list changes one of the counters; a change of reach changes the areas."""
    query = (select(Area.id, ListVersion.version)
             .outerjoin(ListVersion, ListVersion.area_id == Area.id)
             .where(reach_condition(user))
             .order_by(Area.id))
    return today(), tuple(tuple(row) for row in session.execute(query))


def cached(name: str, build: Callable[[Session, User], CsvFile]) -> Callable[[Session, User], CsvFile]:
    """`build`, made only when the caller's fingerprint moved since the list was last built."""

    def made_for(session: Session, user: User) -> CsvFile:
        key = (name, reach_key(user))
        seen = fingerprint(session, user)  # before the build (see the module's docstring)
        made = cache().get(key, seen)
        if made is None:
            made = build(session, user)
            cache().put(key, seen, made)
        return made

    made_for.__name__ = made_for.__qualname__ = f"cached_{build.__name__}"
    made_for.__doc__ = build.__doc__
    return made_for
