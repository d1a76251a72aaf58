"""A change counter per area for the phones' per-caller lists (cases.csv).

Triggers made by migration 0001_baseline add one to an area's counter in the same transaction as any change
to what its households' rows in cases.csv are made of: the area itself (a village's name), its
households, their home visits (which is the latest, its review state and reason) and its redo
orders. A caller's list is unchanged while the counters of every area in their reach are, and the
areas in their reach and the day are the same (server/services/phone_lists.py)."""
from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ListVersion(Base):
    __tablename__ = "list_versions"

    # No foreign key: an area's counter outlives it (see the migration), so an id SQLite gives again
    # never starts a counter at a value a cached list was made at.
    area_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
