"""gunicorn reads this file from the project folder: it starts the check workers beside the server.

Pictures are decoded and the checks run after the answer to the phone (server/services/checking.py),
by `flask checks work`. gunicorn starts CHECK_WORKERS of them (default 2) once it is ready, starts
another when one stops, and stops them when it stops. CHECK_WORKERS=0 leaves them to you (their own
service; docs/deployment.md).
"""
import gc
import os
import subprocess
import sys
import threading

_ROOT = os.path.dirname(os.path.abspath(__file__))
_workers: list[subprocess.Popen] = []
_stopping = threading.Event()


def _start() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "checks", "work"], cwd=_ROOT)


def _watch(log) -> None:
    while not _stopping.wait(5):
        for index, process in enumerate(_workers):
            if process.poll() is not None and not _stopping.is_set():
                log.warning("check worker %s stopped (exit %s); starting another", process.pid, process.returncode)
                _workers[index] = _start()


def when_ready(server) -> None:
    count = int(os.environ.get("CHECK_WORKERS") or 2)
    _workers.extend(_start() for _ in range(count))
    if count:
        server.log.info("started %s check worker(s): %s", count, ", ".join(str(p.pid) for p in _workers))
        threading.Thread(target=_watch, args=(server.log,), daemon=True).start()


def on_exit(server) -> None:
    _stopping.set()
    for process in _workers:
        process.terminate()
    for process in _workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def post_worker_init(worker) -> None:
    # What the worker loaded to serve (modules, forms, mappers: ~170k objects) stays for its life.
    # Frozen, it is left out of the collector's full passes, which otherwise walk all of it every
    # few dozen uploads: a 100-180 ms pause each, on this 2-core machine, while a phone waits.
    gc.freeze()
