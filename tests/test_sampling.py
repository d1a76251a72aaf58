"""Drawing spot-check samples: exact per-village counts, reproducible from the seed, uniform,
never assigned to the original investigator."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from server.errors import Conflict
from server.models import SampleItem
from server.services import sampling

from .builders import household_visit
from .conftest import basic_auth
from .test_submission import post


@pytest.mark.parametrize("n, expected", [(0, 0), (1, 1), (2, 1), (3, 1), (4, 2), (10, 3), (11, 4), (100, 30),
                                         (101, 31), (1000, 300), (1001, 301)])
def test_sample_size_is_ceil_of_30_percent(n, expected):
    assert sampling.sample_size(n, 300) == expected


@pytest.fixture
def county(make):
    county = make.county()
    township = make.township(county)
    sizes = {"001": 1, "002": 4, "003": 25, "004": 0}
    villages = {suffix: make.village(township, suffix, f"村{suffix}") for suffix in sizes}
    for suffix, size in sizes.items():
        for _ in range(size):
            make.household(villages[suffix])
    make.household(villages["003"], status="removed")  # not in the active population
    user = make.user("county", [county])
    return {"county": county, "township": township, "villages": villages, "user": user}


def campaign(session, county, **kwargs):
    values = dict(name="2026 年度抽查", county_code=county["county"].code, period_start=date(2026, 1, 1),
                  period_end=date(2026, 12, 31), population="active_households")
    values.update(kwargs)
    return sampling.create_campaign(session, county["user"], **values)


def drawn(session, the_campaign) -> dict[int, set[int]]:
    by_village: dict[int, set[int]] = {}
    for item in session.scalars(select(SampleItem).where(SampleItem.campaign_id == the_campaign.id)):
        by_village.setdefault(item.village_id, set()).add(item.household_id)
    return by_village


def test_exact_counts_per_village(session, county):
    first = campaign(session, county, seed=1)
    assert sampling.draw(session, first) == 1 + 2 + 8
    counts = {v_id: len(ids) for v_id, ids in drawn(session, first).items()}
    villages = county["villages"]
    assert counts == {villages["001"].id: 1, villages["002"].id: 2, villages["003"].id: 8}
    with pytest.raises(Conflict):
        sampling.draw(session, first)


def test_the_same_seed_draws_the_same_households(session, county):
    one, two, other = (campaign(session, county, seed=s) for s in (42, 42, 43))
    for c in (one, two, other):
        sampling.draw(session, c)
    assert drawn(session, one) == drawn(session, two)
    assert drawn(session, one) != drawn(session, other)


def test_a_campaign_has_its_seed_and_the_countys_rate(session, county):
    from server.models import CountyRules

    session.add(CountyRules(county_id=county["county"].id, sample_rate_permille=500, error_threshold_permille=30))
    session.flush()
    created = campaign(session, county)
    assert created.seed and created.rate_permille == 500 and created.error_threshold_permille == 30


def test_the_draw_is_uniform(session):
    """Every household of a village of 10 is drawn with probability 3/10: over 3,000 seeds each
    is expected 900 times; a chi-square over the 10 households stays well under its 0.1 % critical
    value for 9 degrees of freedom (27.88)."""
    households = list(range(10))
    counts = [0] * 10
    for seed in range(3000):
        for chosen in sampling.choose(households, 300, seed, "623001100001"):
            counts[chosen] += 1
    expected = 3000 * 3 / 10
    chi_square = sum((c - expected) ** 2 / expected for c in counts)
    assert chi_square < 27.88, counts


def test_checkers_never_get_their_own_households(client, session, make, county):
    village = county["villages"]["002"]
    checker_a = make.user("supervisor", [county["township"]], password="pw-a")
    checker_b = make.user("supervisor", [county["township"]], password="pw-b")
    # checker_a visited two households of village 002 himself.
    visited = [h for h in village_households(session, village)][:2]
    token = make.token(checker_a)
    for household in visited:
        xml, files = household_visit(household.case_number)
        assert post(client, token, xml, files).status_code == 201
    created = campaign(session, county, rate_permille=1000, seed=7)
    sampling.draw(session, created)
    assert sampling.assign(session, created, [checker_a, checker_b]) == 4 + 1 + 25
    items = session.scalars(select(SampleItem).where(SampleItem.campaign_id == created.id)).all()
    for item in items:
        assert item.checker_id != item.original_investigator_id
        if item.household_id in {h.id for h in visited}:
            assert item.original_investigator_id == checker_a.id and item.checker_id == checker_b.id


def village_households(session, village):
    from server.models import Household

    return session.scalars(select(Household).where(Household.village_id == village.id).order_by(Household.case_number))


def test_approved_visits_population(client, session, make, county):
    village = county["villages"]["002"]
    worker = make.user("caseworker", [village], password="pw-w")
    supervisor = make.user("supervisor", [county["township"]], password="pw-s")
    token = make.token(worker)
    households = list(village_households(session, village))
    for household in households[:2]:
        xml, files = household_visit(household.case_number)
        assert post(client, token, xml, files).status_code == 201
    rows = client.get("/api/v1/submissions", headers=basic_auth(worker.username, "pw-w")).json
    approved = rows[0]
    client.post(f"/api/v1/submissions/{approved['id']}/review", headers=basic_auth(supervisor.username, "pw-s"),
                json={"decision": "approve", "version": approved["version"]})
    today = date.today()
    created = campaign(session, county, population="approved_visits", period_start=today, period_end=today, seed=3)
    assert sampling.draw(session, created) == 1
    [item] = session.scalars(select(SampleItem).where(SampleItem.campaign_id == created.id)).all()
    assert item.household_id == next(h.id for h in households if h.case_number == approved["case_number"])
    assert item.original_investigator_id == worker.id
