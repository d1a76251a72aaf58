"""Drawing spot-check samples: stratified by village, ceil(rate × n) households in each (at least
one where n > 0), uniformly at random from a stored seed, so a campaign always draws the same
households and anyone can re-check the draw; then assigning checkers who never re-visit their own
households."""
from __future__ import annotations

import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..errors import AlreadyDone, Forbidden, InvalidInput
from ..models import POPULATIONS, Area, Campaign, CountyRules, Household, SampleItem, Submission, User, utcnow
from ..models.rules import DEFAULT_ERROR_THRESHOLD_PERMILLE, DEFAULT_SAMPLE_RATE_PERMILLE
from .areas import area_by_code, is_in_reach
from .cases import CASES_CSV_COLUMNS, CsvFile, csv_file
from .schedule import today
from .submissions import latest_household_visits

CHECKER_ROLES = ("supervisor", "county")


def sample_size(population: int, rate_permille: int) -> int:
    """ceil(rate × n) in integers (no float rounding), so at least one household where n > 0."""
    return -(-population * rate_permille // 1000)


def create_campaign(session: Session, user: User, *, name: str, county_code: str, period_start: date,
                    period_end: date, population: str, township_codes: list[str] | None = None,
                    rate_permille: int | None = None, error_threshold_permille: int | None = None,
                    seed: int | None = None) -> Campaign:
    county = area_by_code(session, county_code)
    if county.level != "county":
        raise InvalidInput(f"{county_code} is not a county.")
    if user.role not in ("county", "admin") or (user.role == "county" and not is_in_reach(user, county)):
        raise Forbidden("Spot-check campaigns are set up by the county's own staff.")
    if population not in POPULATIONS:
        raise InvalidInput(f"The population is one of {', '.join(POPULATIONS)}.")
    if period_start > period_end:
        raise InvalidInput("The period ends before it starts.")
    townships = [area_by_code(session, code) for code in township_codes or []]
    if any(t.level != "township" or t.parent_id != county.id for t in townships):
        raise InvalidInput("The scope names townships of this county only.")
    rules = session.scalar(CountyRules.in_force(county.id, today()))  # the rates in force as it is set up
    campaign = Campaign(
        name=(name or "").strip() or f"{county.name} 抽查 {period_start:%Y-%m}",
        county_id=county.id, township_ids=[t.id for t in townships], period_start=period_start,
        period_end=period_end, population=population,
        rate_permille=rate_permille or (rules.sample_rate_permille if rules else DEFAULT_SAMPLE_RATE_PERMILLE),
        error_threshold_permille=(error_threshold_permille if error_threshold_permille is not None else
                                  rules.error_threshold_permille if rules else DEFAULT_ERROR_THRESHOLD_PERMILLE),
        seed=seed if seed is not None else secrets.randbits(62), created_by_id=user.id,
    )
    if not 1 <= campaign.rate_permille <= 1000:
        raise InvalidInput("The rate is between 0.1 % and 100 % (1 to 1000 permille).")
    session.add(campaign)
    session.flush()
    return campaign


@dataclass(frozen=True)
class Candidate:
    household_id: int
    case_number: str
    village_id: int
    village_code: str
    original_submission_id: int | None
    original_investigator_id: int | None


def population(session: Session, campaign: Campaign) -> dict[str, list[Candidate]]:
    """The campaign's population by village code, each village's households in case-number order."""
    villages = select(Area.id).where(Area.level == "village")
    county = session.get(Area, campaign.county_id)
    if campaign.township_ids:
        villages = villages.where(Area.parent_id.in_(campaign.township_ids))
    else:
        villages = villages.where(Area.path.startswith(county.path))
    conditions = []
    if campaign.population == "approved_visits":
        start = datetime.combine(campaign.period_start, time.min, tzinfo=timezone.utc)
        end = datetime.combine(campaign.period_end + timedelta(days=1), time.min, tzinfo=timezone.utc)
        conditions = [Submission.review_state == "approved", Submission.created_at >= start, Submission.created_at < end]
    latest = latest_household_visits(*conditions)
    query = (
        select(Household.id, Household.case_number, Area.id, Area.code, latest.c.submission_id, Submission.submitted_by_id)
        .join(Area, Area.id == Household.village_id)
        .outerjoin(latest, latest.c.household_id == Household.id)
        .outerjoin(Submission, Submission.id == latest.c.submission_id)
        .where(Household.village_id.in_(villages))
        .order_by(Area.code, Household.case_number)
    )
    if campaign.population == "approved_visits":
        query = query.where(latest.c.submission_id.is_not(None))
    else:
        query = query.where(Household.status == "active")
    by_village: dict[str, list[Candidate]] = defaultdict(list)
    for row in session.execute(query):
        by_village[row[3]].append(Candidate(*row))
    return by_village


def choose(candidates: list, rate_permille: int, seed: int, village_code: str) -> list:
    """One village's sample. One generator per village, seeded by the campaign's seed and the
    village's code: a village's draw depends on nothing else, so anyone can re-check it alone."""
    return random.Random(f"{seed}:{village_code}").sample(candidates, sample_size(len(candidates), rate_permille))


def draw(session: Session, campaign: Campaign) -> int:
    """Draw the sample once; the same seed always gives the same households. Returns how many."""
    if campaign.drawn_at is not None:
        raise AlreadyDone("This campaign's sample is already drawn; its seed keeps it reproducible.")
    rows = []
    for village_code, candidates in sorted(population(session, campaign).items()):
        chosen = choose(candidates, campaign.rate_permille, campaign.seed, village_code)
        rows += [{"campaign_id": campaign.id, "household_id": c.household_id, "village_id": c.village_id,
                  "original_submission_id": c.original_submission_id,
                  "original_investigator_id": c.original_investigator_id} for c in chosen]
    _store_items(session, rows)
    campaign.drawn_at = utcnow()
    session.flush()
    return len(rows)


SAMPLE_COLUMNS = ("campaign_id", "household_id", "village_id", "original_submission_id", "original_investigator_id")


def _store_items(session: Session, rows: list[dict]) -> None:
    """On PostgreSQL by COPY (a county's 30,000 rows in a fraction of a second; one INSERT per row
    took over a second); elsewhere one executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(SampleItem), rows)
        return
    columns = ", ".join(SAMPLE_COLUMNS)
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {SampleItem.__tablename__} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in SAMPLE_COLUMNS])


def assign(session: Session, campaign: Campaign, checkers: list[User]) -> int:
    """Share the unassigned households among the checkers in turn, village by village; a household
    is never given to the person who visited it originally. Returns how many were assigned."""
    if not checkers:
        raise InvalidInput("Name at least one checker.")
    if any(c.role not in CHECKER_ROLES for c in checkers):
        raise InvalidInput("Checkers are supervisors or county staff.")
    items = session.scalars(
        select(SampleItem).where(SampleItem.campaign_id == campaign.id, SampleItem.checker_id.is_(None))
        .order_by(SampleItem.village_id, SampleItem.id)
    ).all()
    villages = {area.id: area for area in session.scalars(
        select(Area).where(Area.id.in_({item.village_id for item in items})))}  # one query, not one per village
    assigned, turn = 0, 0
    for item in items:
        village = villages[item.village_id]
        for offset in range(len(checkers)):
            checker = checkers[(turn + offset) % len(checkers)]
            if checker.id != item.original_investigator_id and is_in_reach(checker, village):
                item.checker_id = checker.id
                turn = (turn + offset + 1) % len(checkers)
                assigned += 1
                break
    session.flush()
    return assigned


def assignments_csv(session: Session, user: User) -> CsvFile:
    """cases.csv of the spot_check form: only the households assigned to this checker in drawn
    campaigns, with what the check needs to find them (same columns as the caseworkers' list)."""
    query = (
        select(Household.case_number, Household.head_name, Area.name, Household.address, Household.status,
               Household.category, Household.latitude, Household.longitude)
        .join(SampleItem, SampleItem.household_id == Household.id)
        .join(Campaign, Campaign.id == SampleItem.campaign_id)
        .join(Area, Area.id == Household.village_id)
        .where(SampleItem.checker_id == user.id, Campaign.drawn_at.is_not(None))
        .order_by(Area.code, Household.case_number)
    )
    rows = {}
    for number, head, village, address, status, category, lat, lon in session.execute(query):
        rows.setdefault(number, (
            number, f"【抽查】{head} · {village} · {number}", village, address, status, category or "", "",
            "" if lat is None else f"{lat:.6f}", "" if lon is None else f"{lon:.6f}", ""))
    return csv_file(CASES_CSV_COLUMNS, rows.values())
