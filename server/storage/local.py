"""Local-folder storage (the default, media/): files at media/ab/cd/<sha256>, staging in media/.staging."""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import BinaryIO


_SHA256_HEX = re.compile("[0-9a-f]{64}")


class StagedFile:
    """A temporary file being written, hashed as it is written (Werkzeug writes uploads into it).

    With in_memory_up_to, its bytes stay in memory until there are more of them, or until it is
    synced or stored (the request's first part: the form data, which goes into the database and
    never needs a file). A file made only to be removed costs twice: on ext4, a new inode is looked
    for past every one removed in the last half minute, a few per cent of a web worker's time at
    8 clients while each visit's form data made and removed one (docs/performance.md)."""

    def __init__(self, folder: Path, *, in_memory_up_to: int = 0) -> None:
        self._folder, self._in_memory_up_to = folder, in_memory_up_to
        self.path: Path | None = None  # none while in memory
        self._file: BinaryIO = io.BytesIO()
        self._hash = hashlib.sha256()
        self.size = 0
        self.committed = False
        self._syncing: Future | None = None  # its fsync, begun early (LocalStorage.sync_soon)
        if not in_memory_up_to:
            self.to_disk()

    def to_disk(self) -> None:
        """Give it a file in the staging folder (with what it holds so far), unless it has one."""
        if self.path is None:
            memory = self._file
            handle, name = tempfile.mkstemp(dir=self._folder, prefix="upload-")
            self.path, self._file = Path(name), os.fdopen(handle, "w+b")
            self._file.write(memory.getbuffer())
            self._file.seek(memory.tell())

    # The file-like methods Werkzeug's form parser and FileStorage use.
    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self.size > self._in_memory_up_to:
            self.to_disk()
        return self._file.write(data)

    def read(self, *args) -> bytes:
        return self._file.read(*args)

    def seek(self, *args) -> int:
        return self._file.seek(*args)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        """Drop a staged file that was not committed (an ignored or refused part)."""
        if not self.committed:
            if self._syncing is not None:
                wait([self._syncing])  # its descriptor is not closed under a running fsync
            self._file.close()
            if self.path is not None:
                self.path.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.staging = self.root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def stage(self, *, in_memory_up_to: int = 0) -> StagedFile:
        return StagedFile(self.staging, in_memory_up_to=in_memory_up_to)

    def stage_bytes(self, data: bytes) -> StagedFile:
        staged = self.stage()
        staged.write(data)
        return staged

    def path_of(self, sha256: str) -> Path:
        if not _SHA256_HEX.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def sync_soon(self, files: list[StagedFile]) -> None:
        """Begin the fsyncs of staged files, in the background and all at once (the filesystem's
        journal then commits once for the lot; see _POOLS), unless begun already. A request calls
        it as soon as the body is read, so they run while it reads the database and checks the
        pictures' headers; commit_all waits for them. Bytes written after it are not made durable."""
        for staged in files:
            if not staged.committed and staged._syncing is None:
                staged.to_disk()
                staged.flush()
                staged._syncing = _pool().submit(os.fsync, staged._file.fileno())

    def commit(self, staged: StagedFile, *, durable: bool = True) -> str:
        """Move one staged file into place under its hash (see commit_all); returns the hash."""
        self.commit_all([staged], durable=durable)
        return staged.sha256

    def commit_all(self, files: list[StagedFile], *, durable: bool = True) -> None:
        """Move staged files into place under their hashes; identical bytes already stored are kept.

        durable=True (evidence): each file's bytes are fsynced before it takes its name, and each
        folder that gained a name (a file, or a new folder) is fsynced before returning. A
        submission's files go through each step together, their fsyncs at once (sync_soon). Files
        that can be made again from the evidence (thumbnails) skip the fsyncs.
        """
        pending = [staged for staged in files if not staged.committed]
        for staged in pending:
            staged.to_disk()
        if durable:
            self.sync_soon(pending)
            for staged in pending:
                staged._syncing.result()  # raises the fsync's error
        for staged in pending:
            staged.close()
        folders = set()
        for staged in pending:
            target = self.path_of(staged.sha256)
            if target.exists():
                # Identical bytes already stored, perhaps as an orphan of an earlier failed upload: its
                # age starts again, so a sweep's margin spares it while this upload's row is written.
                os.utime(target)
                staged.path.unlink(missing_ok=True)
                continue
            try:
                os.replace(staged.path, target)
            except FileNotFoundError:  # the first file of its folder: make it (and keep its name too)
                for folder in (target.parent.parent, target.parent):
                    try:
                        folder.mkdir()
                    except FileExistsError:
                        continue
                    folders.add(folder.parent)
                os.replace(staged.path, target)
            folders.add(target.parent)
        if durable:
            _at_once(_fsync_directory, folders)
        for staged in pending:
            staged.committed = True

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_of(sha256), "rb")

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64:
                yield path.name

    def delete(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)

    def age_seconds(self, sha256: str) -> float:
        return time.time() - self.path_of(sha256).stat().st_mtime

    def clear_staging(self, older_than_seconds: float) -> int:
        """Remove staged files left by requests that died (older than any request can take)."""
        removed = 0
        for path in self.staging.iterdir():
            if time.time() - path.stat().st_mtime >= older_than_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


# fsync waits on the disk, not on the CPU (the GIL is let go meanwhile). One after another, a full
# visit's nine files took 26-31 ms to sync on the development machine; from threads at once, 2-3 ms:
# the journal commits once for all of them. Pools are per process: threads do not survive a fork.
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _at_once(sync: Callable[[object], None], items: Iterable) -> None:
    items = list(items)
    if len(items) < 2:
        for item in items:
            sync(item)
        return
    for _ in _pool().map(sync, items):  # waits for all; the first failure is raised
        pass


def _pool() -> ThreadPoolExecutor:
    pool = _POOLS.get(os.getpid())
    if pool is None:
        pool = _POOLS.setdefault(os.getpid(), ThreadPoolExecutor(max_workers=16, thread_name_prefix="fsync"))
    return pool


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
