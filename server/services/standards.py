"""The assistance standards (低保标准): which one is in force for a household on a day.

A standard is set per area (usually the county, sometimes a township or village above the county's
own) and residence, from a date on; supervisors manage them through the API (server/api/standards.py).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Area, Standard
from .areas import path_ids


def standard_in_force(session: Session, village: Area, residence: str, on: date) -> Standard | None:
    """The standard for a household of this village and residence on a date: among standards in
    force on that date (effective_from <= on), the nearest area at or above the village wins, and
    within it the latest. None when no area above the village has one."""
    chain = path_ids(village)
    depth = {area_id: index for index, area_id in enumerate(chain)}
    candidates = session.scalars(
        select(Standard).where(Standard.area_id.in_(chain), Standard.residence == residence,
                               Standard.effective_from <= on)
    ).all()
    return max(candidates, key=lambda s: (depth[s.area_id], s.effective_from), default=None)
