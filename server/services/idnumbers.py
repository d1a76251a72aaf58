"""Resident ID numbers (GB 11643-1999): validation of the check digit and masking for display."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Nobody alive was born before this year; an earlier "birth date" is a typing error.
EARLIEST_BIRTH_YEAR = 1890
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def check_digit(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def normalise_id_number(value: str | None) -> str:
    """Return the ID number in canonical form (ASCII, upper-case X) or raise ValueError saying why."""
    # Chinese input methods often type full-width digits (１２３) and Ｘ; NFKC makes them ASCII.
    # Any other digit str.isdigit() accepts (Arabic-Indic, superscripts) is refused below.
    value = unicodedata.normalize("NFKC", value or "").strip().upper()
    if len(value) != 18:
        raise ValueError(f"an ID number has 18 characters, this one has {len(value)}")
    if not _SHAPE.fullmatch(value):
        raise ValueError("an ID number is 17 digits and a last digit or X")
    try:
        birth = birth_date_of(value)
    except ValueError:
        raise ValueError(f"the birth date {value[6:14]} in the ID number is not a date") from None
    if birth > date.today():
        raise ValueError(f"the birth date {value[6:14]} in the ID number is in the future")
    if birth.year < EARLIEST_BIRTH_YEAR:
        raise ValueError(f"the birth date {value[6:14]} in the ID number is before {EARLIEST_BIRTH_YEAR}")
    if check_digit(value[:17]) != value[17]:
        raise ValueError("the check digit is wrong (a digit was mistyped)")
    return value


def birth_date_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def sex_of(id_number: str) -> str:
    """The 17th digit is odd for men and even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


def mask_id_number(value: str | None) -> str | None:
    """Region code and last four stay visible, the birth date is hidden: 110105********002X.

    Anything that is not 18 characters long is masked whole: keeping six at the front and four at
    the back of a short value would show all of it.
    """
    if not value:
        return value
    if len(value) != 18:
        return "*" * len(value)
    return value[:6] + "*" * 8 + value[-4:]


def mask_phone_number(value: str | None) -> str | None:
    """A mobile number keeps its first three and last four digits: 138****8000."""
    if not value:
        return value
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) >= 8 else "*" * len(value)
