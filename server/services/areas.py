"""Areas and reach: a user answers for their areas and everything below them."""
from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..errors import Duplicate, InvalidInput, NotFound
from ..models import AREA_LEVELS, Area, User
from ..models.areas import CODE_LENGTH

PARENT_LEVEL = {"township": "county", "village": "township"}
NAME_LENGTH = 100  # the column's length; PostgreSQL refuses longer values with a DataError


def create_area(session: Session, *, code: str, name: str, level: str, parent_code: str | None = None) -> Area:
    """Add an area under its parent; codes follow the statistical division scheme (6/9/12 digits)."""
    code, name = (code or "").strip(), (name or "").strip()
    parent_code = (parent_code or "").strip() or None
    if level not in AREA_LEVELS:
        raise InvalidInput(f"Unknown area level {level!r}; use one of {', '.join(AREA_LEVELS)}.")
    if not name:
        raise InvalidInput("An area needs a name.")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"An area's name has at most {NAME_LENGTH} characters.")
    if not re.fullmatch(r"[0-9]+", code) or len(code) != CODE_LENGTH[level]:
        raise InvalidInput(f"A {level} code has {CODE_LENGTH[level]} digits; got {code!r}.")
    parent = None
    if level != "county":
        if not parent_code:
            raise InvalidInput(f"A {level} needs its {PARENT_LEVEL[level]} (parent code).")
        parent = session.scalar(select(Area).where(Area.code == parent_code))
        if parent is None:
            raise InvalidInput(f"No area has the code {parent_code!r}.")
        if parent.level != PARENT_LEVEL[level]:
            raise InvalidInput(f"A {level} belongs to a {PARENT_LEVEL[level]}, not to a {parent.level}.")
        if not code.startswith(parent.code):
            raise InvalidInput(f"Code {code} does not start with its parent's code {parent.code}.")
    elif parent_code:
        raise InvalidInput("A county has no parent.")
    if session.scalar(select(Area.id).where(Area.code == code)) is not None:
        raise Duplicate(f"An area with the code {code} already exists.")
    area = Area(code=code, name=name, level=level, parent=parent, path="")
    session.add(area)
    session.flush()  # the id is part of the path
    area.path = f"{parent.path if parent else '/'}{area.id}/"
    session.flush()
    return area


def path_ids(area: Area) -> list[int]:
    """Ids from the county down to the area itself, read from its materialised path "/1/4/17/"."""
    return [int(part) for part in area.path.strip("/").split("/") if part]


def county_id_of(area: Area) -> int:
    """The county an area lies in (the first id of its path)."""
    return path_ids(area)[0]


def area_by_code(session: Session, code: str) -> Area:
    area = session.scalar(select(Area).where(Area.code == code))
    if area is None:
        raise NotFound(f"No area has the code {code!r}.")
    return area


def reach_condition(user: User):
    """A SQL condition on Area: the area lies within one of the user's areas."""
    if not user.areas:
        return Area.id.is_(None)  # reaches nothing
    return or_(*(Area.path.startswith(area.path) for area in user.areas))


def areas_in_reach(session: Session, user: User, level: str | None = None) -> list[Area]:
    query = select(Area).where(reach_condition(user)).order_by(Area.code)
    if level:
        query = query.where(Area.level == level)
    return list(session.scalars(query))


def village_ids_in_reach(session: Session, user: User) -> list[int]:
    return list(session.scalars(select(Area.id).where(reach_condition(user), Area.level == "village")))


def is_in_reach(user: User, area: Area) -> bool:
    return reaches(user, area.path)


def reaches(user: User, path: str) -> bool:
    """Whether the area at this path lies within one of the user's areas."""
    return any(path.startswith(mine.path) for mine in user.areas)
