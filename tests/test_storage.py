"""Local storage: content-addressed, and durable in the right order (bytes, then names, then folders)."""
from __future__ import annotations

import os
import stat

import pytest

from server.storage import local
from server.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "media")


@pytest.fixture
def events(monkeypatch):
    """What reached the disk, in order: ("fsync file" | "fsync folder", path) and ("rename", target)."""
    seen = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        kind = "fsync folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "fsync file"
        seen.append((kind, path))
        real_fsync(descriptor)

    def replace(source, target):
        real_replace(source, target)
        seen.append(("rename", str(target)))

    monkeypatch.setattr(local.os, "fsync", fsync)
    monkeypatch.setattr(local.os, "replace", replace)
    return seen


def test_a_submissions_files_are_fsynced_then_named_then_their_folders_fsynced(storage, events):
    staged = [storage.stage_bytes(body) for body in (b"photo one", b"photo two", b"signature")]

    storage.commit_all(staged)

    kinds = [kind for kind, _ in events]
    renamed = {path for kind, path in events if kind == "rename"}
    # Each file's folder, and as the store was empty, each new folder's parent: media/ab/ gained
    # cd/, and media/ gained ab/.
    folders = {os.path.dirname(p) for p in renamed}
    folders |= {os.path.dirname(f) for f in folders} | {str(storage.root)}
    assert kinds == ["fsync file"] * 3 + ["rename"] * 3 + ["fsync folder"] * len(folders)
    assert {path for kind, path in events if kind == "fsync folder"} == folders
    for file in staged:
        assert file.committed and not file.path.exists()
        assert storage.open(file.sha256).read() in (b"photo one", b"photo two", b"signature")


def test_a_file_into_a_folder_that_exists_fsyncs_that_folder_alone(storage, events):
    staged = storage.stage_bytes(b"photo")
    storage.path_of(staged.sha256).parent.mkdir(parents=True)

    storage.commit(staged)

    assert events == [("fsync file", str(staged.path)), ("rename", str(storage.path_of(staged.sha256))),
                      ("fsync folder", str(storage.path_of(staged.sha256).parent))]


def test_the_same_bytes_twice_are_stored_once(storage, events):
    first, second = storage.stage_bytes(b"same photo"), storage.stage_bytes(b"same photo")

    storage.commit_all([first, second])
    storage.commit(storage.stage_bytes(b"same photo"))  # and again, in a later submission

    assert [kind for kind, _ in events].count("rename") == 1
    assert list(storage.keys()) == [first.sha256]
    assert not list(storage.staging.iterdir())  # the copies' staged files are gone


def test_files_that_can_be_made_again_are_not_fsynced(storage, events):
    thumbnail = storage.stage_bytes(b"a thumbnail")

    storage.commit(thumbnail, durable=False)

    assert [kind for kind, _ in events] == ["rename"]
    assert storage.exists(thumbnail.sha256)


def test_bytes_stored_again_start_their_age_again(storage):
    # An orphan left by an earlier failed upload, about to be referenced by this one's row: a sweep
    # with a margin (on a running server) must not take it as an hour-old orphan meanwhile.
    key = storage.commit(storage.stage_bytes(b"photo"))
    hours_ago = os.stat(storage.path_of(key)).st_mtime - 7200
    os.utime(storage.path_of(key), (hours_ago, hours_ago))
    assert storage.age_seconds(key) >= 7200
    storage.commit(storage.stage_bytes(b"photo"))
    assert storage.age_seconds(key) < 60


def test_a_submissions_files_are_synced_at_once_not_one_after_another(storage, monkeypatch):
    # Each fsync waits here until all three are under way: one after another, the first never returns.
    import threading

    together = threading.Barrier(3, timeout=5)
    real_fsync = os.fsync

    def fsync(descriptor):
        if not stat.S_ISDIR(os.fstat(descriptor).st_mode):
            together.wait()
        real_fsync(descriptor)

    monkeypatch.setattr(local.os, "fsync", fsync)
    files = [storage.stage_bytes(f"photo {n}".encode()) for n in range(3)]
    storage.commit_all(files)
    assert all(storage.exists(staged.sha256) for staged in files)


def test_fsyncs_begun_early_are_waited_for_and_not_repeated(storage, events):
    early, late = storage.stage_bytes(b"early"), storage.stage_bytes(b"late")
    storage.sync_soon([early])
    storage.commit_all([early, late])
    synced = [path for kind, path in events if kind == "fsync file"]
    assert sorted(os.path.basename(path) for path in synced) == sorted([early.path.name, late.path.name])
    assert storage.open(early.sha256).read() == b"early" and storage.open(late.sha256).read() == b"late"


def test_a_file_discarded_while_its_early_fsync_runs_is_dropped_cleanly(storage, monkeypatch):
    import threading

    release, started = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(descriptor):
        started.set()
        release.wait(5)
        real_fsync(descriptor)  # the descriptor is still open: discard waited for this

    monkeypatch.setattr(local.os, "fsync", slow_fsync)
    staged = storage.stage_bytes(b"refused part")
    storage.sync_soon([staged])
    started.wait(5)
    threading.Timer(0.2, release.set).start()
    staged.discard()
    assert not staged.path.exists() and not storage.exists(staged.sha256)


def test_a_part_held_in_memory_makes_no_file_until_it_outgrows_memory(storage):
    form_data = storage.stage(in_memory_up_to=16)
    form_data.write(b"<data/>")
    form_data.seek(0)
    assert form_data.read() == b"<data/>" and form_data.path is None
    form_data.discard()
    assert list(storage.staging.iterdir()) == []

    grown = storage.stage(in_memory_up_to=16)
    grown.write(b"0123456789abcdef")
    assert grown.path is None
    grown.write(b"and more")  # over the limit: a file with all of it, the position kept
    assert grown.path is not None and grown.tell() == 24
    grown.seek(0)
    assert grown.read() == b"0123456789abcdefand more" and grown.size == 24


def test_a_part_held_in_memory_is_written_out_before_it_is_synced_and_stored(storage, events):
    signature = storage.stage(in_memory_up_to=1024)
    signature.write(b"signature")
    storage.sync_soon([signature])
    assert signature.path is not None
    storage.commit_all([signature])
    assert [kind for kind, _ in events][:2] == ["fsync file", "rename"]
    assert storage.open(signature.sha256).read() == b"signature"
