"""How often each household is re-visited (动态管理): a county's frequency rules from a date on.

The defaults are the domain's (docs/schedule.md; seeds/004: 三无 yearly, income hardly changing every
six months, unstable income with members able to work monthly in towns and quarterly in villages,
the annual review in August–September). A county changes them by adding a row with the date the
new rules take effect; the row in force on a date is the county's latest one not after it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import RULES_SINCE, Base, CountyDated, utcnow

# What a county without a row gets; the same numbers are the columns' defaults, so a row created
# with only county_id and effective_from behaves exactly like no row at all.
DEFAULT_YEARLY_CATEGORIES = "A"  # 三无, severe disability, serious illness (the A / 一类 class)
DEFAULT_ABLE_TO_WORK = "full"  # Member.work_capacity values that count as "able to work"
DEFAULT_YEARLY_MONTHS = 12
DEFAULT_STABLE_MONTHS = 6
DEFAULT_UNSTABLE_URBAN_MONTHS = 1
DEFAULT_UNSTABLE_RURAL_MONTHS = 3
DEFAULT_NOT_HOME_RETRY_DAYS = 7
DEFAULT_ANNUAL_REVIEW = (8, 1, 9, 30)  # start month, start day, end month, end day (inclusive)


class VisitFrequencyRules(CountyDated, Base):
    """One county's re-visit frequencies, in force from effective_from until its next row."""

    __tablename__ = "visit_frequency_rules"
    __table_args__ = (
        UniqueConstraint("county_id", "effective_from"),
        CheckConstraint("yearly_months > 0", name="yearly_months_positive"),
        CheckConstraint("stable_months > 0", name="stable_months_positive"),
        CheckConstraint("unstable_urban_months > 0", name="unstable_urban_months_positive"),
        CheckConstraint("unstable_rural_months > 0", name="unstable_rural_months_positive"),
        CheckConstraint("not_home_retry_days > 0", name="not_home_retry_days_positive"),
        CheckConstraint("review_start_month BETWEEN 1 AND 12 AND review_end_month BETWEEN 1 AND 12",
                        name="review_months"),
        CheckConstraint("review_start_day BETWEEN 1 AND 31 AND review_end_day BETWEEN 1 AND 31", name="review_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # (county_id, effective_from) is unique, so its index also serves lookups by county.
    county_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    effective_from: Mapped[date] = mapped_column(Date, default=RULES_SINCE)

    # Which rule a household falls under (services/schedule.py classify()):
    # categories re-checked yearly, space-separated (三无 and the other A cases by default);
    yearly_categories: Mapped[str] = mapped_column(
        String(20), default=DEFAULT_YEARLY_CATEGORIES, server_default=DEFAULT_YEARLY_CATEGORIES)
    # work capacities that make a member "able to work", space-separated ("full", or "full partial");
    able_to_work: Mapped[str] = mapped_column(String(20), default=DEFAULT_ABLE_TO_WORK, server_default=DEFAULT_ABLE_TO_WORK)
    # and, in a household with a member able to work, which incomes make it "unstable":
    # operating income (farming, business), a wage without proof, an able member with no income.
    unstable_if_operating_income: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    unstable_if_wage_unproven: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    unstable_if_able_without_income: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    # How long until the next visit, in months, for each rule.
    yearly_months: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_YEARLY_MONTHS, server_default=str(DEFAULT_YEARLY_MONTHS))
    stable_months: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_STABLE_MONTHS, server_default=str(DEFAULT_STABLE_MONTHS))
    unstable_urban_months: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_UNSTABLE_URBAN_MONTHS, server_default=str(DEFAULT_UNSTABLE_URBAN_MONTHS))
    unstable_rural_months: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_UNSTABLE_RURAL_MONTHS, server_default=str(DEFAULT_UNSTABLE_RURAL_MONTHS))
    # A visit that found nobody at home (or was refused, or the family moved) is tried again so soon.
    not_home_retry_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_NOT_HOME_RETRY_DAYS, server_default=str(DEFAULT_NOT_HOME_RETRY_DAYS))

    # The annual review (年度复核 / 年检): every active or suspended household is visited within it
    # each year. A window whose end comes before its start runs over the new year.
    annual_review: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    review_start_month: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ANNUAL_REVIEW[0], server_default=str(DEFAULT_ANNUAL_REVIEW[0]))
    review_start_day: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ANNUAL_REVIEW[1], server_default=str(DEFAULT_ANNUAL_REVIEW[1]))
    review_end_month: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ANNUAL_REVIEW[2], server_default=str(DEFAULT_ANNUAL_REVIEW[2]))
    review_end_day: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ANNUAL_REVIEW[3], server_default=str(DEFAULT_ANNUAL_REVIEW[3]))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    county: Mapped[Area] = relationship()
