"""gunicorn reads this file from the project folder (`make serve`, production, tests and benches):
how the server faces slow phones and proxies, and the check workers it starts beside itself.

Serving (docs/deployment.md, "Slow phones"): threaded workers. A phone on 2G sends a full visit
for minutes; a sync worker is one process per request and its heartbeat stops while it reads, so
its 30 s timeout killed every such upload, and two clients trickling their headers took both
workers. A gthread worker reads each request in one of its threads while its main loop keeps the
heartbeat and accepts other connections: a slow body ties a thread (no database connection: the
submission ends its sign-in's transaction before reading the body), not a process.

Pictures are decoded and the checks run after the answer to the phone (server/services/checking.py),
by `flask checks work`. Once it is ready, gunicorn starts one such process, which forks CHECK_WORKERS
workers (default 2) that share what it loaded and starts another when one stops; gunicorn starts it
again if it stops, and stops it when it stops. CHECK_WORKERS=0 leaves the checks to you (their own
service; docs/deployment.md).
"""
import gc
import os
import socket
import struct
import subprocess
import sys
import threading

_ROOT = os.path.dirname(os.path.abspath(__file__))

worker_class = "gthread"
# Requests in flight per worker process: slow uploads each hold one, fast ones share the GIL.
# Each thread checks out a pooled database connection only while it queries (SQLAlchemy's
# default pool: 5, overflowing to 15 per process), never while it reads a body.
threads = 16
# A worker whose main loop is silent this long is restarted (with threads, a long request does not
# silence it); and a client that sends nothing for this long is dropped (see when_ready).
timeout = 60
# gunicorn believes no forwarded header itself (its default trusts X-Forwarded-Proto from
# 127.0.0.1, and everything on a UNIX socket): the application's ProxyFix does, for exactly
# TRUSTED_PROXIES proxies (server/__init__.py).
forwarded_allow_ips = ""
secure_scheme_headers = {}
forwarder_headers = ""
# The app is loaded once, in the master, and the workers are forked from it: what it loaded (code,
# forms, mappers: ~85 MB) is shared by them instead of loaded again in each (see post_fork).
preload_app = True
_checks: list[subprocess.Popen] = []  # the check process, once started
_stopping = threading.Event()


def _check_workers() -> int:
    return int(os.environ.get("CHECK_WORKERS") or 2)


def _start() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "checks", "work",
                             "--processes", str(_check_workers())], cwd=_ROOT)


def _watch(log) -> None:
    while not _stopping.wait(5):
        process = _checks[0]
        if process.poll() is not None and not _stopping.is_set():
            log.warning("check process %s stopped (exit %s); starting another", process.pid, process.returncode)
            _checks[0] = _start()


def _drop_silent_clients(server) -> None:
    """A receive on a connection fails once the client has sent nothing for `timeout` seconds.

    A worker thread reads a request with a blocking socket and no time limit: a phone whose link
    died mid-upload (no FIN ever comes) would hold its thread for good. SO_RCVTIMEO on the
    listening sockets is inherited by every accepted connection; it bounds each receive (so a
    slow but live upload goes on for as long as it sends) and leaves sending alone (a slow phone
    downloading a form is not cut off)."""
    limit = struct.pack("ll", server.cfg.timeout, 0)
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)


def when_ready(server) -> None:
    _drop_silent_clients(server)
    count = _check_workers()
    if count:
        _checks.append(_start())
        server.log.info("started %s check worker(s), forked by %s", count, _checks[0].pid)
        threading.Thread(target=_watch, args=(server.log,), daemon=True).start()


def on_exit(server) -> None:
    _stopping.set()
    for process in _checks:
        process.terminate()
    for process in _checks:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def post_fork(server, worker) -> None:
    # The database connections the master opened while loading (none are expected) are its own: a
    # forked worker opens new ones rather than share a socket with its parent.
    from server.extensions import db

    db.engine.dispose(close=False)


def post_worker_init(worker) -> None:
    # What the worker loaded to serve (modules, forms, mappers: ~170k objects) stays for its life.
    # Frozen, it is left out of the collector's full passes, which otherwise walk all of it every
    # few dozen uploads: a 100-180 ms pause each, on this 2-core machine, while a phone waits.
    gc.freeze()
