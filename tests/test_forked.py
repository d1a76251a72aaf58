"""server/forked.py: work run in forked processes, started again when one ends, stopped on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT

# Each child notes its pid in the folder; "crash-once" makes the first child end on its own;
# "stubborn" makes every child ignore SIGTERM.
SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from server.forked import run_forked
    folder, mode = Path(sys.argv[1]), sys.argv[2]

    def work():
        (folder / str(os.getpid())).write_text("started")
        if mode == "crash-once":
            try:
                os.close(os.open(folder / "crashed", os.O_CREAT | os.O_EXCL))  # the first child alone
            except FileExistsError:
                pass
            else:
                raise RuntimeError("boom")
        stopping = []
        signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else lambda *_: stopping.append(1))
        while not stopping:
            time.sleep(0.02)
        (folder / str(os.getpid())).write_text("stopped")

    run_forked(2, work, name="test worker", grace_seconds=1.0, look_seconds=0.05)
    (folder / "parent-done").write_text("")
""")


@pytest.fixture
def start(tmp_path):
    """Starts the script's parent; whatever a failed test leaves running is stopped afterwards."""
    parents = []

    def started(folder: Path, mode: str) -> subprocess.Popen:
        parents.append(subprocess.Popen([sys.executable, "-c", SCRIPT, str(folder), mode], cwd=PROJECT_ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        return parents[-1]

    yield started
    for parent in parents:
        if parent.poll() is None:
            parent.terminate()  # passed on to its children, which the stubborn ones outlive by the grace
            try:
                parent.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                parent.kill()
                parent.communicate()
    for pid in children(tmp_path):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def children(tmp_path: Path) -> dict[int, str]:
    return {int(path.name): path.read_text() for path in tmp_path.iterdir() if path.name.isdigit()}


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_the_work_runs_in_forked_children_which_finish_when_the_parent_is_told_to_stop(tmp_path, start):
    parent = start(tmp_path, "normal")
    wait_for(lambda: len(children(tmp_path)) == 2)
    assert parent.pid not in children(tmp_path)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=10) == 0
    assert set(children(tmp_path).values()) == {"stopped"}  # each finished its own loop
    assert (tmp_path / "parent-done").exists()


def test_a_child_that_ends_is_replaced_and_the_failure_logged(tmp_path, start):
    parent = start(tmp_path, "crash-once")
    wait_for(lambda: len(children(tmp_path)) == 3)
    wait_for(lambda: len([pid for pid in children(tmp_path) if alive(pid)]) == 2)
    parent.send_signal(signal.SIGINT)
    output, _ = parent.communicate(timeout=10)
    assert "test worker" in output and "boom" in output and "starting another" in output


def test_children_that_do_not_stop_within_the_grace_are_killed(tmp_path, start):
    parent = start(tmp_path, "stubborn")
    wait_for(lambda: len(children(tmp_path)) == 2)
    began = time.monotonic()
    parent.send_signal(signal.SIGTERM)
    output, _ = parent.communicate(timeout=10)
    assert parent.returncode == 0 and time.monotonic() - began < 5
    assert not any(alive(pid) for pid in children(tmp_path))
    assert "did not stop" in output
