"""Rules that differ by area, each from a date on: each county's check thresholds, the assistance
standards, and how a county works out the monthly amount (uplift, supplements, minimum wage,
disqualifying property)."""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import RULES_SINCE, Base, CountyDated, utcnow
from .cases import RESIDENCES

# What a county without a row in force gets; the same numbers are the columns' defaults, so a row
# created with only county_id behaves exactly like no row at all.
DEFAULT_LOCATION_THRESHOLD_M = 300  # visit geopoint to registered home location (issue 3)
DEFAULT_MAX_ACCURACY_M = 50  # the form warns above 50 m (forms/README.md: location, warning 50 m)
DEFAULT_PHOTO_DISTANCE_M = 500  # a photo's EXIF position to the visit geopoint
DEFAULT_PHOTO_TIME_SLACK_MINUTES = 30  # EXIF time allowed before start / after end of the form
DEFAULT_NOT_HOME_LIMIT = 3  # "not at home three visits in a row" is a removal condition
DEFAULT_SAMPLE_RATE_PERMILLE = 300  # the county re-visits at least 30 % of the households (domain.md)
DEFAULT_ERROR_THRESHOLD_PERMILLE = 20  # a village whose error rate exceeds 2 % redoes its review
# Comparing a re-visit with the original (services/spotchecks.py): per-capita incomes within 10 %
# of the original agree; a difference in these items makes the household an error, because each
# changes its eligibility, category or amount (the amount is the standard times the persons minus
# the income). The other items (members' names, head seen, the five sights, red flags) are
# diagnostics: a red flag that matters already changes the eligibility outcome.
DEFAULT_INCOME_TOLERANCE_PERMILLE = 100
DEFAULT_ERROR_ITEMS = ("household_size", "income", "category", "eligibility")


def _positive(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} > 0", name=f"{column}_positive")


class CountyRules(CountyDated, Base):
    """A county's check thresholds and spot-check rules, in force from effective_from until its next
    row (none in force = the defaults above). A visit is checked, and a re-visit compared, by the
    rules in force on its visit date; a campaign takes its rates from those in force when it is set up."""

    __tablename__ = "county_rules"
    __table_args__ = (
        UniqueConstraint("county_id", "effective_from"),
        _positive("location_threshold_m"),
        _positive("max_accuracy_m"),
        _positive("photo_distance_m"),
        CheckConstraint("photo_time_slack_minutes >= 0", name="photo_time_slack_minutes_not_negative"),
        _positive("not_home_limit"),
        CheckConstraint("income_tolerance_permille BETWEEN 0 AND 1000", name="income_tolerance_permille"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # (county_id, effective_from) is unique, so its index also serves lookups by county.
    county_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    effective_from: Mapped[date] = mapped_column(Date, default=RULES_SINCE)
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
    # Spot checks: rates in permille (300 = 30.0 %), so they are exact integers.
    sample_rate_permille: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_SAMPLE_RATE_PERMILLE, server_default=str(DEFAULT_SAMPLE_RATE_PERMILLE))
    error_threshold_permille: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ERROR_THRESHOLD_PERMILLE, server_default=str(DEFAULT_ERROR_THRESHOLD_PERMILLE))
    # Comparing a re-visit: the income tolerance (100 = 10 % of the original per-capita income) and
    # the items whose difference makes the household an error (names in services/spotchecks.ITEMS).
    income_tolerance_permille: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_INCOME_TOLERANCE_PERMILLE, server_default=str(DEFAULT_INCOME_TOLERANCE_PERMILLE))
    error_items: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_ERROR_ITEMS), server_default=json.dumps(list(DEFAULT_ERROR_ITEMS)))
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


# --- assistance rules: how the monthly amount is worked out (services/eligibility.py) ------------
# Defaults come from the source reports in the shared seeds (see docs/eligibility.md):
# - +10 % for "bottom-line poverty" households (社会保障兜底脱贫对象，按最低生活保障标准上浮10%),
#   Hengnan county's clean-up plan;
# - the 分类救助 supplements of one municipality's report: for 三无 persons, the severely disabled
#   (grade 1-2), the seriously ill and people aged 80 or more, on top of the difference subsidy,
#   urban 25 yuan per person per month (raised from 20) and rural 120 yuan per person per year
#   (10 yuan a month); the same amount for each of the four groups there, separate columns here
#   because other counties differ;
# - no minimum wage: the reports say an unproven wage "may be counted at the local minimum wage"
#   (可比照务工所在地最低工资标准计算) but give no figure, so the rule is off (NULL) until a county
#   enters its own;
# - the property red flags that the reports list as removal conditions (vehicles and machinery,
#   bought housing or a large new house, shop/rental/business income, luxury goods) and a pension
#   above the standard.
DEFAULT_BOTTOM_LINE_UPLIFT_PERCENT = 10
DEFAULT_SUPPLEMENT_URBAN_FEN = 2500
DEFAULT_SUPPLEMENT_RURAL_FEN = 1000
DEFAULT_MINIMUM_WAGE_FEN = None
DEFAULT_INELIGIBLE_RED_FLAGS = (
    "owns_vehicle_or_machinery",
    "bought_housing_or_large_house",
    "business_or_rental_income",
    "luxury_goods",
    "pension_above_standard",
)
SUPPLEMENT_GROUPS = ("sanwu", "severe_disability", "serious_illness", "age_80")


def _not_negative(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} >= 0", name=f"{column}_not_negative")


def _supplement(default: int) -> Mapped[int]:
    return mapped_column(Integer, default=default, server_default=str(default))


class AssistanceRules(CountyDated, Base):
    """How a county turns a visit into a monthly amount, from a date on (none = the defaults above).

    The row in force on a date is the county's latest with effective_from <= that date, so a change
    is a new row and older decisions can still be recomputed as they were made. Money in fen.
    """

    __tablename__ = "assistance_rules"
    __table_args__ = (
        UniqueConstraint("county_id", "effective_from"),
        _not_negative("bottom_line_uplift_percent"),
        CheckConstraint(" AND ".join(f"supplement_{group}_{residence}_fen >= 0"
                                     for group in SUPPLEMENT_GROUPS for residence in RESIDENCES),
                        name="supplements_not_negative"),
        CheckConstraint("minimum_wage_fen IS NULL OR minimum_wage_fen > 0", name="minimum_wage_fen_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    effective_from: Mapped[date] = mapped_column(Date)
    bottom_line_uplift_percent: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_BOTTOM_LINE_UPLIFT_PERCENT, server_default=str(DEFAULT_BOTTOM_LINE_UPLIFT_PERCENT))
    # Per qualifying person per month; a person in several groups gets the largest one, not the sum
    # (the report pays "每人每月" one amount to anyone in any of the groups).
    supplement_sanwu_urban_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_URBAN_FEN)
    supplement_sanwu_rural_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_RURAL_FEN)
    supplement_severe_disability_urban_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_URBAN_FEN)
    supplement_severe_disability_rural_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_RURAL_FEN)
    supplement_serious_illness_urban_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_URBAN_FEN)
    supplement_serious_illness_rural_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_RURAL_FEN)
    supplement_age_80_urban_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_URBAN_FEN)
    supplement_age_80_rural_fen: Mapped[int] = _supplement(DEFAULT_SUPPLEMENT_RURAL_FEN)
    # The local monthly minimum wage, counted for a member able to work whose stated wage is not
    # proven; NULL: no figure set, the stated wage counts.
    minimum_wage_fen: Mapped[int | None] = mapped_column(Integer)
    # Red-flag codes of the household_visit form that make a household ineligible by themselves.
    ineligible_red_flags: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_INELIGIBLE_RED_FLAGS),
        server_default=json.dumps(list(DEFAULT_INELIGIBLE_RED_FLAGS)))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    county: Mapped[Area] = relationship()

    def supplement_fen(self, group: str, residence: str) -> int:
        return getattr(self, f"supplement_{group}_{residence}_fen")
