"""Resident ID numbers (GB 11643-1999): check digit, birth date, normalisation and masking."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.services.idnumbers import birth_date_of, check_digit, mask_id_number, normalise_id_number

VALID = "11010519491231002X"  # the standard's own example


def with_check_digit(first17: str) -> str:
    return first17 + check_digit(first17)


@pytest.mark.parametrize(
    "value",
    [VALID, "623099198507041239", with_check_digit("44030420000229001"), with_check_digit("11010519000101001")],
)
def test_a_valid_number_is_accepted_unchanged(value):
    assert normalise_id_number(value) == value


def test_check_digit_follows_the_standard():
    assert check_digit("11010519491231002") == "X"
    # By hand: sum of digit x weight (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) = 196; 196 mod 11 = 9 -> "3".
    assert check_digit("44052419800101001") == "3"


@pytest.mark.parametrize("last", [c for c in "0123456789X" if c != "X"])
def test_a_wrong_check_digit_is_refused(last):
    with pytest.raises(ValueError, match="check digit"):
        normalise_id_number(VALID[:17] + last)


def test_one_mistyped_digit_is_caught_by_the_check_digit():
    mistyped = VALID[:8] + ("5" if VALID[8] != "5" else "6") + VALID[9:]
    with pytest.raises(ValueError, match="check digit"):
        normalise_id_number(mistyped)


@pytest.mark.parametrize("value, length", [(VALID[:17], 17), (VALID + "1", 19), ("", 0), ("1101051949123", 13)])
def test_a_wrong_length_is_refused_saying_how_long_it_was(value, length):
    with pytest.raises(ValueError, match=f"18 characters, this one has {length}"):
        normalise_id_number(value)


@pytest.mark.parametrize("value", ["11010519491231002Y", "1101051949I231002X", "X1010519491231002X", "11010519491231-02X"])
def test_letters_and_signs_are_refused(value):
    with pytest.raises(ValueError, match="17 digits and a last digit or X"):
        normalise_id_number(value)


@pytest.mark.parametrize("birth", ["19490230", "19491301", "19490000", "20230229", "19491232"])
def test_an_impossible_birth_date_is_refused_with_the_reason(birth):
    first17 = "110105" + birth + "002"
    with pytest.raises(ValueError, match=f"birth date {birth} .*not a date"):
        normalise_id_number(with_check_digit(first17))


def test_a_birth_date_in_the_future_is_refused():
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(ValueError, match="future"):
        normalise_id_number(with_check_digit(f"110105{tomorrow:%Y%m%d}002"))


def test_a_birth_year_before_any_living_person_is_refused():
    with pytest.raises(ValueError, match="birth date 18000101"):
        normalise_id_number(with_check_digit("11010518000101002"))


def test_lower_case_x_and_surrounding_spaces_are_normalised():
    assert normalise_id_number(" 11010519491231002x\t") == VALID


def test_full_width_characters_from_a_chinese_input_method_become_ascii():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in VALID)  # １１０…Ｘ
    assert normalise_id_number(full_width) == VALID
    assert normalise_id_number(VALID[:17].translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}) + "x") == VALID


@pytest.mark.parametrize("digit", ["\u0661", "\u0967", "\u00b2"])  # Arabic-Indic one, Devanagari one, superscript two
def test_other_unicode_digits_are_refused_not_stored(digit):
    with pytest.raises(ValueError):
        normalise_id_number(VALID[:3] + digit + VALID[4:])


def test_none_is_refused_like_an_empty_value():
    with pytest.raises(ValueError, match="18 characters"):
        normalise_id_number(None)


def test_birth_date_of():
    assert birth_date_of(VALID) == date(1949, 12, 31)


def test_masking_shows_the_region_code_and_the_last_four_only():
    masked = mask_id_number(VALID)
    assert masked == "110105********002X"
    assert "19491231" not in masked
    assert len(masked) == 18


def test_masking_leaves_nothing_to_mask_alone():
    assert mask_id_number(None) is None
    assert mask_id_number("") == ""


@pytest.mark.parametrize("value", ["12345", "1101051949", "ABCDEFGHIJK"])
def test_masking_a_short_or_malformed_value_reveals_nothing(value):
    masked = mask_id_number(value)
    assert set(masked) == {"*"}
    assert len(masked) == len(value)
