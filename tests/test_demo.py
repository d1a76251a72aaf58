"""The demo county that `make serve` seeds: its shape, its users and the demo phone token."""
from __future__ import annotations

import stat
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from server.errors import Conflict
from server.models import Area, Household, Member, PhoneToken
from server.services import demo
from server.services.areas import village_ids_in_reach
from server.services.idnumbers import birth_date_of, normalise_id_number, sex_of
from server.services.users import authenticate, revoke_phone_token, user_for_token


@pytest.fixture
def seeded(session):
    assert demo.is_empty(session)
    demo.seed_demo(session)
    return session


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_is_empty_until_an_area_exists(session, make):
    assert demo.is_empty(session)
    make.county()
    assert not demo.is_empty(session)


def test_the_demo_county_has_2_townships_4_villages_and_40_households(seeded):
    session = seeded
    assert not demo.is_empty(session)
    levels = Counter(session.scalars(select(Area.level)))
    assert levels == {"county": 1, "township": 2, "village": 4}
    county = session.scalar(select(Area).where(Area.level == "county"))
    assert (county.code, county.name) == ("623099", "青山县")
    assert count(session, Household) == 40
    for village in session.scalars(select(Area).where(Area.level == "village")):
        assert village.code.startswith(village.parent.code) and village.parent.parent is county
        households = session.scalars(select(Household).where(Household.village_id == village.id)).all()
        assert len(households) == 10
        assert all(h.case_number.startswith(village.code) for h in households)


def test_every_household_is_well_formed(seeded):
    for household in seeded.scalars(select(Household)):
        heads = [m for m in household.members if m.relation == "head"]
        assert len(heads) == 1 and household.head_name == heads[0].name
        assert household.latitude is not None and household.longitude is not None
        assert household.residence in ("urban", "rural")
        assert (household.category is None) == (household.status == "applicant")
        spouses = [m for m in household.members if m.relation == "spouse"]
        assert all(spouse.sex != heads[0].sex for spouse in spouses)


def test_every_member_has_a_valid_unique_id_number_agreeing_with_birth_date_and_sex(seeded):
    members = seeded.scalars(select(Member)).all()
    assert len(members) >= 40
    today = date.today()
    for member in members:
        assert normalise_id_number(member.id_number) == member.id_number
        assert member.id_number.startswith("623099")
        assert birth_date_of(member.id_number) == member.birth_date <= today
        assert sex_of(member.id_number) == member.sex
    assert len({m.id_number for m in members}) == len(members)


def test_the_three_demo_users_have_password_demo_and_the_roles_in_the_readme(seeded):
    session = seeded
    admin = authenticate(session, "demo-admin", "demo")
    supervisor = authenticate(session, "demo-supervisor", "demo")
    caseworker = authenticate(session, "demo-caseworker", "demo")
    assert (admin.role, supervisor.role, caseworker.role) == ("admin", "supervisor", "caseworker")
    assert admin.areas == []
    assert [(a.name, a.level) for a in supervisor.areas] == [("石门乡", "township")]
    assert sorted(a.name for a in caseworker.areas) == sorted(["石门村", "柳树湾村"])
    # The supervisor reaches 石门乡's 2 villages, the caseworker the same 2: 20 households each.
    for user in (supervisor, caseworker):
        villages = village_ids_in_reach(session, user)
        assert len(villages) == 2
        assert count(session, Household, Household.village_id.in_(villages)) == 20
    assert authenticate(session, "demo-caseworker", "wrong") is None


def test_the_demo_is_the_same_every_time(session):
    attempt = session.begin_nested()
    demo.seed_demo(session)
    first = sorted(session.scalars(select(Member.id_number)))
    attempt.rollback()
    assert demo.is_empty(session)
    demo.seed_demo(session)
    assert sorted(session.scalars(select(Member.id_number))) == first


def test_seeding_twice_is_refused(seeded):
    with pytest.raises(Conflict, match="empty"):
        demo.seed_demo(seeded)
    assert count(seeded, Household) == 40


def test_seeding_refuses_a_database_with_other_areas(session, make):
    make.county()
    with pytest.raises(Conflict):
        demo.seed_demo(session)
    assert count(session, Household) == 0


def test_the_demo_caseworker_token_is_kept_across_restarts(seeded, tmp_path):
    session = seeded
    user, token = demo.demo_caseworker_token(session, tmp_path)
    assert user.username == "demo-caseworker"
    path = tmp_path / "demo-caseworker.token"
    assert path.read_text() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert user_for_token(session, token) is user
    # A restart finds the live token and reuses it: the phone keeps working.
    again_user, again = demo.demo_caseworker_token(session, tmp_path)
    assert (again_user, again) == (user, token)
    assert count(session, PhoneToken, PhoneToken.user_id == user.id) == 1


def test_a_revoked_demo_token_is_replaced(seeded, tmp_path):
    session = seeded
    user, token = demo.demo_caseworker_token(session, tmp_path)
    revoke_phone_token(session, user)
    _, new = demo.demo_caseworker_token(session, tmp_path)
    assert new != token
    assert (tmp_path / "demo-caseworker.token").read_text() == new
    assert user_for_token(session, new) is user and user_for_token(session, token) is None


def test_a_token_file_from_another_database_is_replaced(seeded, tmp_path):
    path = tmp_path / "demo-caseworker.token"
    path.write_text("a-token-this-database-never-issued\n")
    path.chmod(0o644)
    user, token = demo.demo_caseworker_token(seeded, tmp_path)
    assert token != "a-token-this-database-never-issued"
    assert path.read_text() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert user_for_token(seeded, token) is user


def test_the_demo_county_has_its_standards(session):
    from sqlalchemy import select

    from server.models import Standard
    from server.services.demo import seed_demo

    seed_demo(session)
    standards = {(s.residence, s.monthly_fen) for s in session.scalars(select(Standard))}
    assert standards == {("rural", 22000), ("urban", 42000)}
