"""What the benchmarks share: a free port to serve on, an empty database to start from, and a
server's memory."""
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
    """Proportional set size of a process and all its descendants, in MB (shared pages counted
    once across them), from /proc/<pid>/smaps_rollup; a process gone meanwhile counts nothing."""
    total_kb, seen, todo = 0, set(), [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
            for children in Path(f"/proc/{current}/task").glob("*/children"):
                todo += [int(child) for child in children.read_text().split()]
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return total_kb / 1024
