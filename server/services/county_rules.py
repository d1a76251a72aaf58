"""A county's check thresholds and spot-check rules (county_rules), read and changed by its staff.

Dated data, like the standards: a county's rules run from a date on, until its next row; a county
with no row in force has the defaults in models/rules.py. A visit is checked (services/checks.py)
and a re-visit compared (services/spotchecks.py) by the rules in force on its visit date, and a
campaign (services/sampling.py) takes the rates in force on the day it is set up. Every change is
audited with the values before and after, since a threshold decides which visits are flagged and
which villages redo their review.
"""
from __future__ import annotations

from copy import copy
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Duplicate, InvalidInput
from ..models import Area, CountyRules, User
from . import audit
from .schedule import today
from .spotchecks import ITEMS

FIELDS = ("location_threshold_m", "max_accuracy_m", "photo_distance_m", "photo_time_slack_minutes", "not_home_limit",
          "sample_rate_permille", "error_threshold_permille", "income_tolerance_permille", "error_items")


def rules_of(session: Session, county: Area, on: date | None = None) -> CountyRules:
    """The county's rules in force on a date (default today): its row, or an unsaved one holding the
    defaults (no id, no effective_from)."""
    row = session.scalar(CountyRules.in_force(county.id, on or today()))
    if row is not None:
        return row
    defaults = {column.name: column.default.arg for column in CountyRules.__table__.columns
                if column.name in FIELDS and column.default is not None}
    defaults["error_items"] = defaults["error_items"](None)  # a callable default: a fresh list
    return CountyRules(county_id=county.id, county=county, **defaults)


def dated_rules(session: Session, county_ids: list[int] | None) -> list[CountyRules]:
    """Every dated row of these counties (None: of all), by county code and date."""
    query = select(CountyRules).join(Area, Area.id == CountyRules.county_id)
    if county_ids is not None:
        query = query.where(CountyRules.county_id.in_(county_ids))
    return list(session.scalars(query.order_by(Area.code, CountyRules.effective_from)))


def add_rules(session: Session, user: User, county: Area, effective_from: date, **values) -> CountyRules:
    """New rules for the county from a date on; Duplicate if it has rules from that very date (change
    those instead). What is not given is carried over as in change_rules."""
    if session.scalar(select(CountyRules.id).where(CountyRules.county_id == county.id,
                                                   CountyRules.effective_from == effective_from)) is not None:
        raise Duplicate(f"{county.code} already has rules from {effective_from.isoformat()}.")
    return change_rules(session, user, county, effective_from, **values)


def change_rules(session: Session, user: User, county: Area, effective_from: date | None = None,
                 **values) -> CountyRules:
    """Change some of the county's rules from a date on (default today): the row from that date is
    changed (a correction), else one is added, the rest carried over from the rules in force the
    day before. Earlier rows stay, so what was in force when is kept. Flushed and audited."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown rule(s): {', '.join(sorted(unknown))}.")
    if "error_items" in values:
        items = list(dict.fromkeys(values["error_items"]))
        wrong = [item for item in items if item not in ITEMS]
        if wrong:
            raise InvalidInput(f"Error items are among {', '.join(ITEMS)}; not {', '.join(wrong)}.")
        values["error_items"] = items
    effective_from = effective_from or today()
    row = session.scalar(select(CountyRules).where(CountyRules.county_id == county.id,
                                                   CountyRules.effective_from == effective_from))
    if row is None:
        carried = rules_of(session, county, effective_from - timedelta(days=1))
        row = CountyRules(county_id=county.id, county=county, effective_from=effective_from,
                          **{name: copy(getattr(carried, name)) for name in FIELDS})  # copy: a list of its own
    before = {name: getattr(row, name) for name in FIELDS}
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    changed = {name: [before[name], getattr(row, name)] for name in FIELDS if before[name] != getattr(row, name)}
    audit.record(session, user, "county_rules.changed", "county_rules", row.id, county.id,
                 effective_from=effective_from.isoformat(), changed=changed)
    return row
