"""What the benchmarks share: a free port to serve on, and an empty database to start from."""
from __future__ import annotations

import socket

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
