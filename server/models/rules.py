"""Rules that differ by area: each county's check thresholds, and the assistance standards over time."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import Base, utcnow
from .cases import RESIDENCES

# What a county without its own row gets; the same numbers are the columns' defaults, so a row
# created with only county_id behaves exactly like no row at all.
DEFAULT_LOCATION_THRESHOLD_M = 300  # visit geopoint to registered home location (issue 3)
DEFAULT_MAX_ACCURACY_M = 50  # the form warns above 50 m (forms/README.md: location, warning 50 m)
DEFAULT_PHOTO_DISTANCE_M = 500  # a photo's EXIF position to the visit geopoint
DEFAULT_PHOTO_TIME_SLACK_MINUTES = 30  # EXIF time allowed before start / after end of the form
DEFAULT_NOT_HOME_LIMIT = 3  # "not at home three visits in a row" is a removal condition


def _positive(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} > 0", name=f"{column}_positive")


class CountyRules(Base):
    """The check thresholds of one county (one row per county area; none = the defaults above)."""

    __tablename__ = "county_rules"
    __table_args__ = (
        _positive("location_threshold_m"),
        _positive("max_accuracy_m"),
        _positive("photo_distance_m"),
        CheckConstraint("photo_time_slack_minutes >= 0", name="photo_time_slack_minutes_not_negative"),
        _positive("not_home_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), unique=True)
    location_threshold_m: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_LOCATION_THRESHOLD_M, server_default=str(DEFAULT_LOCATION_THRESHOLD_M))
    max_accuracy_m: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_MAX_ACCURACY_M, server_default=str(DEFAULT_MAX_ACCURACY_M))
    photo_distance_m: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_PHOTO_DISTANCE_M, server_default=str(DEFAULT_PHOTO_DISTANCE_M))
    photo_time_slack_minutes: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_PHOTO_TIME_SLACK_MINUTES, server_default=str(DEFAULT_PHOTO_TIME_SLACK_MINUTES))
    not_home_limit: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_NOT_HOME_LIMIT, server_default=str(DEFAULT_NOT_HOME_LIMIT))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    county: Mapped[Area] = relationship()


class Standard(Base):
    """The assistance standard (保障标准) of an area for urban or rural residents, from a date on.

    The area may be a county, a township or a village: for a household, the standard of the nearest
    area at or above its village wins, and within that area the latest one in force on the date.
    """

    __tablename__ = "standards"
    __table_args__ = (
        UniqueConstraint("area_id", "residence", "effective_from"),
        CheckConstraint(f"residence IN ({', '.join(repr(r) for r in RESIDENCES)})", name="residence"),
        CheckConstraint("monthly_fen > 0", name="monthly_fen_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    residence: Mapped[str] = mapped_column(String(5))
    # Per person per month, in fen (1/100 yuan): money is never a float.
    monthly_fen: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area] = relationship()
