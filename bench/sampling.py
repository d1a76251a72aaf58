"""Benchmark: drawing a spot-check campaign over 100,000 households in 500 villages (target ≤ 2 s).

    .venv/bin/python bench/sampling.py [--households 100000] [--villages 500]
    BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/sampling.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.cli import upgrade_database  # noqa: E402
from server.models import Area, Household, SampleItem  # noqa: E402
from server.services import sampling  # noqa: E402
from server.services.areas import create_area  # noqa: E402
from server.services.users import create_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--villages", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/sampling.sqlite3"
        if url.startswith("postgresql"):
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        upgrade_database(url)
        engine = create_engine(url)
        with Session(engine) as session:
            create_area(session, code="623001", name="基准县", level="county")
            villages = []
            for t in range(1, args.villages // 25 + 2):
                township = create_area(session, code=f"623001{t:03d}", name=f"镇{t}", level="township",
                                       parent_code="623001")
                for v in range(1, 26):
                    if len(villages) < args.villages:
                        villages.append(create_area(session, code=f"{township.code}{v:03d}", name=f"村{t}-{v}",
                                                    level="village", parent_code=township.code))
            user = create_user(session, username="bench-county", password="bench-pass", role="county",
                               area_codes=["623001"])
            rows = [{"case_number": f"H{n:09d}", "village_id": villages[n % len(villages)].id, "head_name": f"户主{n}",
                     "address": "", "residence": "rural", "status": "active"} for n in range(args.households)]
            for start in range(0, len(rows), 10_000):
                session.execute(insert(Household), rows[start:start + 10_000])
            session.commit()
            if url.startswith("postgresql"):
                session.execute(text("ANALYZE"))
            print(f"{args.households} households in {len(villages)} villages ({url.split(':')[0]})")

            campaign = sampling.create_campaign(session, user, name="bench", county_code="623001",
                                                period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                                                population="active_households", seed=20261123)
            began = time.perf_counter()
            drawn = sampling.draw(session, campaign)
            session.commit()
            elapsed = time.perf_counter() - began
            stored = session.scalar(select(func.count()).select_from(SampleItem))
            print(f"draw: {drawn} households sampled ({stored} stored) in {elapsed:.2f} s  (target ≤ 2 s)")
            villages_drawn = session.scalar(select(func.count(func.distinct(SampleItem.village_id))))
            print(f"villages with a sample: {villages_drawn}")
        engine.dispose()


if __name__ == "__main__":
    main()
