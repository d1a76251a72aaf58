"""Resident ID numbers (GB 11643-1999): validation of the check digit and masking for display."""
from __future__ import annotations

from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_digit(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def normalise_id_number(value: str) -> str:
    """Return the ID number in canonical form (upper-case X) or raise ValueError saying why."""
    value = (value or "").strip().upper()
    if len(value) != 18:
        raise ValueError(f"an ID number has 18 characters, this one has {len(value)}")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValueError("an ID number is 17 digits and a last digit or X")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(f"the birth date {value[6:14]} in the ID number is not a date") from None
    if check_digit(value[:17]) != value[17]:
        raise ValueError("the check digit is wrong (a digit was mistyped)")
    return value


def birth_date_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def mask_id_number(value: str | None) -> str | None:
    """Region code and last four stay visible, the birth date is hidden: 110105********002X."""
    if not value:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:]
