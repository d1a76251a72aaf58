"""The demo county for development: areas, users and ~40 households with members and locations."""
from __future__ import annotations

import os
import random
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotEmpty
from ..models import Area, Household, Member, Standard, User
from .areas import create_area
from .idnumbers import check_digit
from .users import create_user, has_live_token, issue_phone_token, user_by_username

COUNTY = ("623099", "青山县")
TOWNSHIPS = [("623099100", "城关镇", "urban"), ("623099200", "石门乡", "rural")]
VILLAGES = [
    ("623099100001", "东关社区", "623099100", (34.9721, 104.6382)),
    ("623099100002", "西街社区", "623099100", (34.9688, 104.6251)),
    ("623099200201", "石门村", "623099200", (35.0312, 104.7104)),
    ("623099200202", "柳树湾村", "623099200", (35.0457, 104.7339)),
]
USERS = [
    ("demo-admin", "admin", [], "演示管理员"),
    ("demo-supervisor", "supervisor", ["623099200"], "演示督导"),
    ("demo-caseworker", "caseworker", ["623099200201", "623099200202"], "演示村干部"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "秀英桂兰建国志强丽娟海燕玉梅春生德明淑珍永福红霞学文小军凤英金花"
STREETS = ["东关街", "西大街", "南门巷", "北山路", "新华路"]


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Area)) == 0


def _name(rng: random.Random, surname: str | None = None) -> str:
    return (surname or rng.choice(SURNAMES)) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))


def _id_number(rng: random.Random, birth: date, male: bool) -> str:
    sequence = rng.randrange(0, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4, 6, 8])
    first17 = f"{COUNTY[0]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def seed_demo(session: Session, *, seed: int = 20261123) -> None:
    """Create the demo county; only into an empty database."""
    if not is_empty(session):
        raise NotEmpty("The database already has areas; the demo county goes only into an empty one.")
    rng = random.Random(seed)
    create_area(session, code=COUNTY[0], name=COUNTY[1], level="county")
    residence_of = {}
    for code, name, residence in TOWNSHIPS:
        create_area(session, code=code, name=name, level="township", parent_code=COUNTY[0])
        residence_of[code] = residence
    today = date.today()
    for code, name, township, (lat, lon) in VILLAGES:
        village = create_area(session, code=code, name=name, level="village", parent_code=township)
        for number in range(1, 11):
            household = _household(rng, village, residence_of[township], number, lat, lon, today)
            session.add(household)
    for username, role, areas, full_name in USERS:
        create_user(session, username=username, password="demo", role=role, area_codes=areas, full_name=full_name)
    # The standards one of the source counties raised to (domain.md): rural 220, urban 420 yuan a month.
    county = session.scalar(select(Area).where(Area.code == COUNTY[0]))
    for residence, fen in (("rural", 22000), ("urban", 42000)):
        session.add(Standard(area_id=county.id, residence=residence, monthly_fen=fen, effective_from=date(2026, 1, 1)))
    session.flush()


def _household(rng: random.Random, village: Area, residence: str, number: int, lat: float, lon: float, today: date) -> Household:
    surname = rng.choice(SURNAMES)
    head_male = rng.random() < 0.7
    head_birth = date(rng.randint(1940, 1985), rng.randint(1, 12), rng.randint(1, 28))
    members = [
        Member(name=_name(rng, surname), relation="head", sex="male" if head_male else "female", birth_date=head_birth,
               id_number=_id_number(rng, head_birth, head_male),
               work_capacity=rng.choice(["none", "partial", "full"]),
               disability_grade=rng.choice([None, None, None, 1, 2, 3]))
    ]
    for relation in rng.sample(["spouse", "child", "child", "parent", "grandchild"], rng.randint(0, 4)):
        male = not head_male if relation == "spouse" else rng.random() < 0.5
        offset = {"spouse": rng.randint(-5, 5), "child": rng.randint(20, 35), "parent": -rng.randint(20, 30), "grandchild": rng.randint(40, 55)}[relation]
        birth = date(min(max(head_birth.year + offset, 1925), today.year - 1), rng.randint(1, 12), rng.randint(1, 28))
        members.append(Member(name=_name(rng, surname if relation in ("child", "grandchild") else None), relation=relation,
                              sex="male" if male else "female", birth_date=birth, id_number=_id_number(rng, birth, male),
                              work_capacity=rng.choice(["none", "partial", "full"])))
    status = rng.choices(["active", "applicant", "suspended"], weights=[8, 1, 1])[0]
    return Household(
        case_number=f"{village.code}{number:03d}",
        village_id=village.id,
        head_name=members[0].name,
        address=f"{village.name}{rng.choice(STREETS)}{rng.randint(1, 120)}号",
        residence=residence,
        category=None if status == "applicant" else rng.choice(["A", "B", "C"]),
        status=status,
        latitude=round(lat + rng.uniform(-0.004, 0.004), 6),
        longitude=round(lon + rng.uniform(-0.004, 0.004), 6),
        next_visit_due=today + timedelta(days=rng.randint(-20, 120)),
        members=members,
    )


def demo_caseworker_token(session: Session, instance_dir: Path) -> tuple[User, str]:
    """The demo caseworker's phone token, kept in the instance folder so a restart keeps the phone working."""
    user = user_by_username(session, "demo-caseworker")
    path = Path(instance_dir) / "demo-caseworker.token"
    if path.exists():
        token = path.read_text().strip()
        if has_live_token(session, user, token):
            return user, token
    token = issue_phone_token(session, user)
    # Created owner-only: written first and chmod-ed after, the secret would be readable meanwhile.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the file may have existed with a wider mode
    with os.fdopen(descriptor, "w") as file:
        file.write(token)
    return user, token
