"""What the benchmarks share: a free port to serve on, and an empty database to start from."""
from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import create_engine, text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def empty_database(url: str) -> None:
    """Start a PostgreSQL database over (its public schema dropped and made again); a SQLite file
    in a new temporary folder is empty already."""
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of a process and all its descendants, in MB: a page shared by
    forked workers counts once, split between them. Processes that end meanwhile count as 0."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024
