"""Spot-check campaigns (抽查): a stratified sample of households per village, drawn from a stored seed."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import Base, utcnow
from .cases import Household
from .users import User

POPULATIONS = ("approved_visits", "active_households")
# What a re-visit found against the original visit: every item agrees; some differ but none would
# change the household's eligibility, category or amount; or an error (one would).
RESULTS = ("agree", "differ", "error")


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("population IN ('approved_visits', 'active_households')", name="population"),
        CheckConstraint("rate_permille BETWEEN 1 AND 1000", name="rate"),
        CheckConstraint("error_threshold_permille BETWEEN 0 AND 1000", name="threshold"),
        CheckConstraint("period_start <= period_end", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    county_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # The townships in scope; empty = the whole county.
    township_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    population: Mapped[str] = mapped_column(String(20))
    rate_permille: Mapped[int] = mapped_column(Integer)
    error_threshold_permille: Mapped[int] = mapped_column(Integer)
    # Stored, so the same campaign always draws the same households and anyone can re-check the draw.
    seed: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    county: Mapped[Area] = relationship()
    created_by: Mapped[User] = relationship()


class SampleItem(Base):
    """One sampled household: who visited it originally, and who re-visits it."""

    __tablename__ = "sample_items"
    __table_args__ = (
        UniqueConstraint("campaign_id", "household_id"),
        CheckConstraint("checker_id IS NULL OR original_investigator_id IS NULL OR checker_id <> original_investigator_id",
                        name="checker_not_original"),
        CheckConstraint("result IS NULL OR result IN ('agree', 'differ', 'error')", name="result"),
        CheckConstraint("(result IS NULL) = (checked_at IS NULL)", name="result_checked"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    original_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    original_investigator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # The re-visit (a spot_check submission) and what comparing it with the original found.
    check_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"), index=True)
    checked_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(10))
    # Item by item: [{"item", "original", "check", "agrees", "error", "reason"}, ...]
    comparison: Mapped[list | None] = mapped_column(JSON)

    campaign: Mapped[Campaign] = relationship()
    household: Mapped[Household] = relationship()
    checker: Mapped[User | None] = relationship(foreign_keys=[checker_id])
    original_investigator: Mapped[User | None] = relationship(foreign_keys=[original_investigator_id])
