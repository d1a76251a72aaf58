"""Household cases (一户一档) and their members."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import Base, utcnow

CASE_STATUSES = ("applicant", "active", "suspended", "removed")
RESIDENCES = ("urban", "rural")
CATEGORIES = ("A", "B", "C")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "sibling", "other")
SEXES = ("male", "female")
WORK_CAPACITIES = ("full", "partial", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("residence", RESIDENCES), name="residence"),
        CheckConstraint(f"category IS NULL OR {_in('category', CATEGORIES)}", name="category"),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="location_whole"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    head_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(255), default="")
    residence: Mapped[str] = mapped_column(String(5))
    category: Mapped[str | None] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(10), default="active")
    # The registered location of the home, filled from the first visit's geopoint when unknown.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    next_visit_due: Mapped[date | None] = mapped_column(Date, index=True)
    # Set by the county's decision on table 3 (integer fen per month for the household).
    monthly_amount_fen: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    village: Mapped[Area] = relationship()
    members: Mapped[list[Member]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Member.id"
    )


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(_in("relation", RELATIONS), name="relation"),
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("disability_grade IS NULL OR disability_grade BETWEEN 1 AND 4", name="disability_grade"),
        CheckConstraint(f"work_capacity IS NULL OR {_in('work_capacity', WORK_CAPACITIES)}", name="work_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(10))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Full value, validated (GB 11643); responses show it masked unless the caller may see it.
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    work_capacity: Mapped[str | None] = mapped_column(String(7))

    household: Mapped[Household] = relationship(back_populates="members")
