"""One piece of work run in several processes forked from this one, kept running until told to stop.

Forked after the application is loaded, the processes share its pages (code, forms, mappers:
~85 MB) instead of each loading its own copy, as gunicorn's workers share the master's.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_forked(count: int, work: Callable[[], None], *, name: str, grace_seconds: float = 25.0,
               look_seconds: float = 1.0) -> None:
    """Run `work` in `count` forked processes, and start another whenever one ends, until this
    process gets SIGTERM or SIGINT; then pass SIGTERM on, wait up to `grace_seconds` for them to
    finish what they hold, and kill those still running.

    `work` runs with the default signal handlers and must return soon after its SIGTERM."""
    stopping: list[bool] = []
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: stopping.append(True))
    gc.freeze()  # what is loaded now stays shared: the collector's passes in a child do not touch it
    children: set[int] = set()

    def start() -> None:
        pid = os.fork()
        if pid:
            children.add(pid)
            return
        code = 1
        try:
            for number in STOP_SIGNALS:
                signal.signal(number, signal.SIG_DFL)
            work()
            code = 0
        except BaseException:  # noqa: BLE001 - a child must end here, never return into the parent's loop
            log.exception("%s %s failed", name, os.getpid())
        finally:
            os._exit(code)

    for _ in range(count):
        start()
    while not stopping:
        time.sleep(look_seconds)
        for pid, status in _ended(children):
            if not stopping:
                log.warning("%s %s ended (%s); starting another", name, pid, _described(status))
                start()
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while children and time.monotonic() < deadline:
        _ended(children)
        time.sleep(0.05)
    for pid in list(children):
        log.warning("%s %s did not stop within %.0f s; killed", name, pid, grace_seconds)
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        children.discard(pid)


def _ended(children: set[int]) -> list[tuple[int, int]]:
    """The children that have ended (reaped and removed from `children`), with their status."""
    ended = []
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere
            done, status = pid, 0
        if done:
            children.discard(pid)
            ended.append((pid, status))
    return ended


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _described(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.waitstatus_to_exitcode(status)}"
