"""Benchmark: drawing a spot-check campaign over 100,000 households in 500 villages (target ≤ 2 s),
then computing its rates with results on half of the sample.

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

from sqlalchemy import case, create_engine, func, insert, select, text, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import empty_database  # noqa: E402
from server.cli import upgrade_database  # noqa: E402
from server.models import Household, SampleItem, utcnow  # noqa: E402
from server.services import sampling, spot_rates  # noqa: E402
from server.services.areas import create_area  # noqa: E402
from server.services.users import create_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--villages", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/sampling.sqlite3"
        empty_database(url)
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

            # Results on every other item, one in 40 of them an error (about 2.5 %).
            session.execute(update(SampleItem).where(SampleItem.campaign_id == campaign.id, SampleItem.id % 2 == 0)
                            .values(result=case((SampleItem.id % 80 == 0, "error"), else_="agree"), checked_at=utcnow()))
            session.commit()
            for who, caller in (("everything", None), ("county staff, within reach", user)):
                began = time.perf_counter()
                found = spot_rates.rates(session, campaign, caller)
                elapsed = time.perf_counter() - began
                whole = found["campaign"]
                print(f"rates ({who}): {len(found['villages'])} villages, {len(found['townships'])} townships, "
                      f"{whole['checked']} checked, {whole['errors']} errors, rate {whole['error_rate']} "
                      f"[{whole['interval_low']}, {whole['interval_high']}] in {elapsed * 1000:.0f} ms")
            began = time.perf_counter()
            found = spot_rates.progress(session, campaign, user)
            print(f"progress: {found['unchecked']} unchecked in {(time.perf_counter() - began) * 1000:.0f} ms")
            # One village where 5 re-visits found errors: the hook flags it and recomputes its households' due dates.
            worst = villages[0].id
            errors = select(SampleItem.id).where(SampleItem.village_id == worst, SampleItem.checked_at.is_not(None)).limit(5)
            session.execute(update(SampleItem).where(SampleItem.id.in_(errors.scalar_subquery())).values(result="error"))
            item = session.scalar(select(SampleItem).where(SampleItem.village_id == worst, SampleItem.result == "error")
                                  .limit(1))
            began = time.perf_counter()
            redo = spot_rates.result_recorded(session, item)
            session.commit()
            households = session.scalar(select(func.count(Household.id)).where(Household.village_id == item.village_id))
            print(f"result_recorded: village flagged={redo is not None}, {households} households' due dates "
                  f"recomputed in {(time.perf_counter() - began) * 1000:.0f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
