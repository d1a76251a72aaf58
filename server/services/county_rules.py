"""A county's check thresholds and spot-check rules (county_rules), read and changed by its staff.

One row per county; a county without one has the defaults in models/rules.py. Every change is
audited with the values before and after, since a threshold decides which visits are flagged and
which villages redo their review.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Area, CountyRules, User
from . import audit
from .spotchecks import ITEMS

FIELDS = ("location_threshold_m", "max_accuracy_m", "photo_distance_m", "photo_time_slack_minutes", "not_home_limit",
          "sample_rate_permille", "error_threshold_permille", "income_tolerance_permille", "error_items")


def rules_of(session: Session, county: Area) -> CountyRules:
    """The county's row, or an unsaved one holding the defaults."""
    row = session.scalar(select(CountyRules).where(CountyRules.county_id == county.id))
    if row is not None:
        return row
    defaults = {column.name: column.default.arg for column in CountyRules.__table__.columns
                if column.name in FIELDS and column.default is not None}
    defaults["error_items"] = defaults["error_items"](None)  # a callable default: a fresh list
    return CountyRules(county_id=county.id, county=county, **defaults)


def change_rules(session: Session, user: User, county: Area, **values) -> CountyRules:
    """Change some of the county's rules; what is not given stays. Flushed and audited."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown rule(s): {', '.join(sorted(unknown))}.")
    if "error_items" in values:
        items = list(dict.fromkeys(values["error_items"]))
        wrong = [item for item in items if item not in ITEMS]
        if wrong:
            raise InvalidInput(f"Error items are among {', '.join(ITEMS)}; not {', '.join(wrong)}.")
        values["error_items"] = items
    row = rules_of(session, county)
    before = {name: getattr(row, name) for name in FIELDS}
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    changed = {name: [before[name], getattr(row, name)] for name in FIELDS if before[name] != getattr(row, name)}
    audit.record(session, user, "county_rules.changed", "county_rules", row.id, county.id, changed=changed)
    return row
