"""Declarative base with a naming convention, so Alembic names constraints deterministically."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import DateTime, MetaData, Select, TypeDecorator, select
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """Timestamps stored in UTC and always returned time-zone aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; store times in UTC with time zone")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# The earliest effective_from: a dated row made without one is in force since always, and a date
# before it is a mistake.
RULES_SINCE = date(2000, 1, 1)


class CountyDated:
    """A county's rules from a date on (county_id, effective_from; unique together): the row in
    force on a date is the county's latest one not after it, so a change is a new row and what was
    in force when is kept."""

    @classmethod
    def in_force(cls, county_id: int, on: date) -> Select:
        return (select(cls).where(cls.county_id == county_id, cls.effective_from <= on)
                .order_by(cls.effective_from.desc()).limit(1))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime}
