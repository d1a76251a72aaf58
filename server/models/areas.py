"""Administrative areas: county → township → village/community, with statistical division codes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

AREA_LEVELS = ("county", "township", "village")
# Length of the statistical division code (统计用区划代码) at each level; a child's code starts
# with its parent's.
CODE_LENGTH = {"county": 6, "township": 9, "village": 12}


class Area(Base):
    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("level IN ('county', 'township', 'village')", name="level"),
        CheckConstraint("(level = 'county') = (parent_id IS NULL)", name="only_counties_are_roots"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # Materialised path of ids, "/1/4/17/": a user's reach is every area whose path starts with
    # the path of one of their areas.
    path: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])
