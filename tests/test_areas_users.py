"""Areas (county → township → village) and reach; staff accounts, passwords and phone tokens."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from server.errors import Conflict, InvalidInput, NotFound
from server.models import Area, PhoneToken, User, utcnow
from server.services.areas import (
    area_by_code,
    areas_in_reach,
    create_area,
    is_in_reach,
    village_ids_in_reach,
)
from server.services.users import (
    authenticate,
    create_user,
    has_live_token,
    issue_phone_token,
    revoke_phone_token,
    user_by_username,
    user_for_token,
)


# --- areas -----------------------------------------------------------------------------------


@pytest.fixture
def tree(make):
    """Two townships of one county, each with two villages."""
    county = make.county("623001", "测试县")
    north = make.township(county, "100", "北镇")
    south = make.township(county, "200", "南乡")
    return {
        "county": county,
        "north": north,
        "south": south,
        "n1": make.village(north, "001", "北一村"),
        "n2": make.village(north, "002", "北二村"),
        "s1": make.village(south, "001", "南一村"),
        "s2": make.village(south, "002", "南二村"),
    }


def test_the_tree_has_codes_of_6_9_12_digits_each_starting_with_its_parents(session, tree):
    county, north, n1 = tree["county"], tree["north"], tree["n1"]
    assert (county.level, len(county.code), county.parent) == ("county", 6, None)
    assert (north.level, len(north.code), north.parent) == ("township", 9, county)
    assert (n1.level, len(n1.code), n1.parent) == ("village", 12, north)
    assert n1.code.startswith(north.code) and north.code.startswith(county.code)
    # The materialised path lists the ids from the root down.
    assert county.path == f"/{county.id}/"
    assert n1.path == f"/{county.id}/{north.id}/{n1.id}/"
    assert area_by_code(session, "623001100001") is n1


def test_codes_and_names_are_trimmed(session, tree):
    area = create_area(session, code=" 623001100003 ", name=" 北三村 ", level="village", parent_code=" 623001100 ")
    assert (area.code, area.name, area.parent) == ("623001100003", "北三村", tree["north"])


@pytest.mark.parametrize(
    "code, level, parent",
    [
        ("62300", "county", None),
        ("6230011", "county", None),
        ("62300110", "township", "623001"),
        ("6230011000", "township", "623001"),
        ("62300110001", "village", "623001100"),
        ("6230011000011", "village", "623001100"),
        ("62300A", "county", None),
        ("６２３００２", "county", None),  # full-width digits are not a code
    ],
)
def test_a_code_of_the_wrong_length_or_not_digits_is_refused(session, tree, code, level, parent):
    with pytest.raises(InvalidInput, match=f"{level} code has"):
        create_area(session, code=code, name="x", level=level, parent_code=parent)


def test_a_child_code_must_start_with_its_parents_code(session, tree):
    with pytest.raises(InvalidInput, match="does not start with its parent's code 623001100"):
        create_area(session, code="623001200003", name="错村", level="village", parent_code="623001100")
    with pytest.raises(InvalidInput, match="does not start with its parent's code 623001"):
        create_area(session, code="623002300", name="错镇", level="township", parent_code="623001")


@pytest.mark.parametrize(
    "code, level, parent, message",
    [
        ("623001100009", "village", "623001", "A village belongs to a township, not to a county"),
        ("623001100009", "village", "623001100001", "A village belongs to a township, not to a village"),
        ("623001100", "township", "623001100001", "A township belongs to a county, not to a village"),
        ("623001100", "township", "623001100", "A township belongs to a county, not to a township"),
    ],
)
def test_a_parent_of_the_wrong_level_is_refused(session, tree, code, level, parent, message):
    with pytest.raises(InvalidInput, match=message):
        create_area(session, code=code, name="x", level=level, parent_code=parent)


def test_a_missing_parent_is_refused(session, tree):
    with pytest.raises(InvalidInput, match="needs its township"):
        create_area(session, code="623001100009", name="x", level="village")
    with pytest.raises(InvalidInput, match="No area has the code '623001900'"):
        create_area(session, code="623001900009", name="x", level="village", parent_code="623001900")


def test_a_county_has_no_parent(session, tree):
    with pytest.raises(InvalidInput, match="A county has no parent"):
        create_area(session, code="623002", name="x", level="county", parent_code="623001")


def test_a_duplicate_code_is_refused(session, tree):
    with pytest.raises(Conflict, match="already exists"):
        create_area(session, code="623001100001", name="又一村", level="village", parent_code="623001100")
    with pytest.raises(Conflict, match="already exists"):
        create_area(session, code="623001", name="又一县", level="county")
    assert session.scalar(select(Area).where(Area.code == "623001100001")).name == "北一村"


def test_unknown_level_empty_name_and_too_long_name_are_refused(session, tree):
    with pytest.raises(InvalidInput, match="Unknown area level"):
        create_area(session, code="623001100", name="x", level="town")
    with pytest.raises(InvalidInput, match="needs a name"):
        create_area(session, code="623003", name="  ", level="county")
    with pytest.raises(InvalidInput, match="100 characters"):
        create_area(session, code="623003", name="长" * 101, level="county")


def test_area_by_code_unknown_is_not_found(session):
    with pytest.raises(NotFound):
        area_by_code(session, "999999")


def codes(areas):
    return {area.code for area in areas}


def test_a_township_user_reaches_its_villages_and_not_another_townships(session, make, tree):
    user = make.user("supervisor", [tree["north"]])
    assert codes(areas_in_reach(session, user)) == {"623001100", "623001100001", "623001100002"}
    assert codes(areas_in_reach(session, user, level="village")) == {"623001100001", "623001100002"}
    assert set(village_ids_in_reach(session, user)) == {tree["n1"].id, tree["n2"].id}
    assert is_in_reach(user, tree["n1"]) and is_in_reach(user, tree["north"])
    assert not is_in_reach(user, tree["s1"])
    assert not is_in_reach(user, tree["south"])
    assert not is_in_reach(user, tree["county"])  # reach goes down, never up


def test_a_county_user_reaches_everything_in_the_county(session, make, tree):
    user = make.user("county", [tree["county"]])
    assert codes(areas_in_reach(session, user, level="village")) == {
        "623001100001", "623001100002", "623001200001", "623001200002"}
    assert len(village_ids_in_reach(session, user)) == 4
    assert all(is_in_reach(user, area) for area in tree.values())


def test_a_county_user_does_not_reach_another_county(session, make, tree):
    other = make.county("623002", "邻县")
    other_village = make.village(make.township(other, "100"), "001")
    user = make.user("county", [tree["county"]])
    assert other_village.id not in village_ids_in_reach(session, user)
    assert not is_in_reach(user, other_village)


def test_a_caseworker_with_two_villages_reaches_exactly_those(session, make, tree):
    user = make.user("caseworker", [tree["n1"], tree["s2"]])
    assert codes(areas_in_reach(session, user)) == {"623001100001", "623001200002"}
    assert set(village_ids_in_reach(session, user)) == {tree["n1"].id, tree["s2"].id}


def test_a_user_without_areas_reaches_nothing(session, make, tree):
    admin = make.user("admin", [])
    assert areas_in_reach(session, admin) == []
    assert village_ids_in_reach(session, admin) == []
    assert not is_in_reach(admin, tree["n1"])


def test_reach_compares_whole_path_segments_not_digit_prefixes(session, make, tree):
    """Area 5 must not reach area 50: the paths are "/5/" and "/50/", not "5" and "50"."""
    county = tree["county"]
    lookalike_id = int(f"{county.id}0")  # its path "/<id>0/" starts with the characters "/<id>"
    lookalike = Area(id=lookalike_id, code="623009", name="像县", level="county", path=f"/{lookalike_id}/")
    session.add(lookalike)
    session.flush()
    village = Area(id=lookalike_id * 10 + 1, code="623009100001", name="像村", level="village",
                   parent_id=lookalike.id, path=f"/{lookalike_id}/{lookalike_id * 10 + 1}/")
    # (A village directly under a county breaks the tree rules, but not the constraints: enough here.)
    session.add(village)
    session.flush()
    user = make.user("county", [county])
    assert village.id not in village_ids_in_reach(session, user)
    assert not is_in_reach(user, village)


# --- users -----------------------------------------------------------------------------------


def test_the_password_is_stored_as_a_salted_scrypt_hash(session, make, tree):
    one = make.user("caseworker", [tree["n1"]], username="wang", password="correct horse")
    two = make.user("caseworker", [tree["n1"]], username="li", password="correct horse")
    assert one.password_hash != "correct horse"
    assert "correct horse" not in one.password_hash
    assert one.password_hash.startswith("scrypt:")
    assert one.password_hash != two.password_hash  # salted


def test_authenticate_right_wrong_unknown_and_inactive(session, make, tree):
    user = make.user("caseworker", [tree["n1"]], username="zhang", password="s3cret-pass")
    assert authenticate(session, "zhang", "s3cret-pass") is user
    assert authenticate(session, "zhang", "wrong-pass") is None
    assert authenticate(session, "zhang", "") is None
    assert authenticate(session, "nobody", "s3cret-pass") is None
    user.is_active = False
    session.flush()
    assert authenticate(session, "zhang", "s3cret-pass") is None


def test_a_new_user_gets_its_areas_and_a_full_name(session, make, tree):
    user = create_user(session, username="zhao", password="pass-word", role="caseworker",
                       area_codes=["623001100002", "623001100001"], full_name=" 赵六 ")
    assert [a.code for a in user.areas] == ["623001100001", "623001100002"]
    assert user.full_name == "赵六" and user.is_active
    assert user_by_username(session, "zhao") is user
    assert create_user(session, username="sun", password="pass-word", role="admin", area_codes=[]).full_name == "sun"


def test_the_same_area_given_twice_is_kept_once(session, tree):
    user = create_user(session, username="zhou", password="pass-word", role="caseworker",
                       area_codes=["623001100001", "623001100001"])
    assert [a.code for a in user.areas] == ["623001100001"]
    session.expire(user)
    assert [a.code for a in user.areas] == ["623001100001"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"username": "a"}, "2–64 letters"),
        ({"username": "has space"}, "2–64 letters"),
        ({"username": "王五"}, "2–64 letters"),
        ({"role": "boss"}, "Unknown role"),
        ({"password": "abc"}, "at least 4 characters"),
        ({"area_codes": []}, "needs at least one area"),
        ({"full_name": "长" * 101}, "100 characters"),
    ],
)
def test_invalid_users_are_refused(session, tree, fields, message):
    values = {"username": "wu", "password": "pass-word", "role": "caseworker", "area_codes": ["623001100001"]}
    with pytest.raises(InvalidInput, match=message):
        create_user(session, **{**values, **fields})


def test_a_taken_username_and_an_unknown_area_are_refused(session, make, tree):
    make.user("caseworker", [tree["n1"]], username="zheng")
    with pytest.raises(Conflict, match="taken"):
        create_user(session, username="zheng", password="pass-word", role="caseworker", area_codes=["623001100001"])
    with pytest.raises(NotFound, match="623001100099"):
        create_user(session, username="feng", password="pass-word", role="caseworker", area_codes=["623001100099"])
    with pytest.raises(NotFound):
        user_by_username(session, "nobody")


# --- phone tokens ----------------------------------------------------------------------------


@pytest.fixture
def caseworker(make, tree):
    return make.user("caseworker", [tree["n1"]])


def token_rows(session, user):
    return session.execute(
        text("SELECT * FROM phone_tokens WHERE user_id = :id ORDER BY id"), {"id": user.id}
    ).mappings().all()


def test_a_phone_token_is_random_and_only_its_sha256_is_stored(session, caseworker):
    token = issue_phone_token(session, caseworker)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    rows = token_rows(session, caseworker)
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in rows[0].values())
    assert user_for_token(session, token) is caseworker
    assert has_live_token(session, caseworker, token)


def test_tokens_differ_every_time(session, make, tree):
    users = [make.user("caseworker", [tree["n1"]]) for _ in range(5)]
    tokens = {issue_phone_token(session, user) for user in users for _ in range(2)}
    assert len(tokens) == 10


def test_issuing_a_new_token_revokes_the_old_one(session, caseworker):
    old = issue_phone_token(session, caseworker)
    new = issue_phone_token(session, caseworker)
    assert user_for_token(session, old) is None
    assert user_for_token(session, new) is caseworker
    rows = token_rows(session, caseworker)
    assert [row["revoked_at"] is None for row in rows] == [False, True]


def test_revoking_a_token(session, caseworker):
    token = issue_phone_token(session, caseworker)
    assert revoke_phone_token(session, caseworker) is True
    assert user_for_token(session, token) is None
    assert not has_live_token(session, caseworker, token)
    assert revoke_phone_token(session, caseworker) is False  # nothing left to revoke


def test_a_token_does_not_work_for_an_inactive_user_or_as_another_user(session, make, tree, caseworker):
    token = issue_phone_token(session, caseworker)
    other = make.user("caseworker", [tree["n2"]])
    assert not has_live_token(session, other, token)
    caseworker.is_active = False
    session.flush()
    assert user_for_token(session, token) is None


@pytest.mark.parametrize("token", ["", "x" * 129, "not-a-token"])
def test_empty_overlong_and_unknown_tokens_find_nobody(session, caseworker, token):
    issue_phone_token(session, caseworker)
    assert user_for_token(session, token) is None


def test_the_database_refuses_two_live_tokens_for_one_user(session, caseworker):
    session.add(PhoneToken(user_id=caseworker.id, token_hash="a" * 64))
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(PhoneToken(user_id=caseworker.id, token_hash="b" * 64))
            session.flush()
    # The test's transaction survived; a revoked token beside the live one is fine.
    session.add(PhoneToken(user_id=caseworker.id, token_hash="c" * 64, revoked_at=utcnow()))
    session.flush()
    assert len(token_rows(session, caseworker)) == 2


def test_the_database_refuses_one_token_hash_for_two_users(session, make, tree, caseworker):
    other = make.user("caseworker", [tree["n2"]])
    session.add(PhoneToken(user_id=caseworker.id, token_hash="d" * 64))
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(PhoneToken(user_id=other.id, token_hash="d" * 64))
            session.flush()
    assert session.scalar(select(User).where(User.id == other.id)) is other
