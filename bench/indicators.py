"""Benchmark of the auditor's adherence indicators (`GET /api/audit/indicators`, in-process)
over 1,000, 10,000 and 30,000 episodes read from SQLite, and the domain's part (judging each
episode and tallying per clinic and per clinician) over 100,000 episodes held in memory:
`python -m bench.indicators` prints one Markdown table.

The episodes are real ones, copied: the demo (40 patients over 120 days, every stratum and
stage, as `carepath demo` loads them) is loaded into a fresh SQLite file, then its episodes
and their events are copied with new ids until there are enough. Each sample reads a whole
year of one database, as an auditor's default request does: the episodes, the events the
indicators read, and the per-clinic and per-clinician tallies. Copying 100,000 episodes
(about 4 million events) into SQLite and reading them back five times would take minutes, so
the 100,000 row copies the records the service read from the demo in memory (new objects,
nothing cached) and times what follows the read: `pathways.adherence` and the response's
per-clinic and per-clinician tallies.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from bench.stats import Row, ms, p95, table

SIZES = (1_000, 10_000, 30_000)
IN_MEMORY = 100_000
SAMPLES = 5


def _load(tmp: Path) -> tuple[sa.Engine, datetime]:
    from pathways.clock import ManualClock
    from service.core.db import create_db_engine
    from service.core.settings import Settings
    from service.demo.data import load_demo
    from service.models.bootstrap import prepare

    settings = Settings(database_url=f"sqlite:///{tmp / 'indicators.sqlite3'}",
                        embedded_worker=False)
    db = create_db_engine(settings)
    prepare(db, settings, ManualClock())
    with contextlib.redirect_stdout(io.StringIO()):
        result = load_demo(db, settings)
    return db, result.now


def _grow(db: sa.Engine, episodes: int) -> tuple[int, int]:
    """Copy the demo's episodes (and their events) until there are `episodes`; returns the
    numbers of episodes and of events."""
    with db.begin() as connection:
        base, top = connection.execute(sa.text("SELECT count(*), max(id) FROM episodes")).one()
        have = base
        copy = 1
        while have < episodes:
            take = min(base, episodes - have)
            offset = copy * (top + 1)
            params = {"offset": offset, "take": take}
            connection.execute(sa.text(
                "INSERT INTO episodes (id, patient_id, clinic_id, model_version_id, "
                "referral_source, status, stratum, started_at, ended_at) "
                "SELECT id + :offset, patient_id, clinic_id, model_version_id, referral_source, "
                "status, stratum, started_at, ended_at FROM episodes WHERE id IN "
                "(SELECT id FROM episodes WHERE id <= :top ORDER BY id LIMIT :take)"),
                {**params, "top": top})
            connection.execute(sa.text(
                "INSERT INTO events (episode_id, clinic_id, name, at, element, actor_id, data, "
                "prev_hash, hash) SELECT episode_id + :offset, clinic_id, name, at, element, "
                "actor_id, data, prev_hash, hash FROM events WHERE episode_id IN "
                "(SELECT id FROM episodes WHERE id <= :top ORDER BY id LIMIT :take) "
                "ORDER BY id"), {**params, "top": top})
            have += take
            copy += 1
        counts = connection.execute(sa.text(
            "SELECT (SELECT count(*) FROM episodes), (SELECT count(*) FROM events)")).one()
    return int(counts[0]), int(counts[1])


def _sample(db: sa.Engine, now: datetime) -> tuple[float, int]:
    from pathways.clock import ManualClock
    from service.audit.indicators import adherence_indicators
    from service.core.context import Context
    from service.core.db import transaction
    from service.core.tables import User
    from service.models.registry import EngineRegistry

    clock = ManualClock(now)
    with transaction(db, write=False) as session:
        auditor = session.exec(sa.select(User).where(User.role == "auditor")).first()[0]
        t0 = time.perf_counter()
        result = adherence_indicators(Context(session, clock, EngineRegistry(clock), auditor),
                                      None, None, None)
        elapsed = time.perf_counter() - t0
    return elapsed, sum(clinic.episodes for clinic in result.clinics)


def _in_memory(db: sa.Engine, now: datetime, episodes: int) -> tuple[list[float], int]:
    """Times of judging and tallying `episodes` copies of the demo's records (read once)."""
    from dataclasses import replace

    from pathways import adherence
    from pathways.clock import ManualClock
    from service.audit import indicators
    from service.core.context import Context
    from service.core.db import transaction
    from service.core.tables import User
    from service.models.registry import EngineRegistry

    clock = ManualClock(now)
    with transaction(db, write=False) as session:
        auditor = session.exec(sa.select(User).where(User.role == "auditor")).first()[0]
        ctx = Context(session, clock, EngineRegistry(clock), auditor)
        demo = indicators._episodes_by_clinic(ctx, [sa.true()])
    named = next(e.settings for group in demo.values() for e in group if e.settings)
    total = sum(len(group) for group in demo.values())
    times = []
    for _ in range(SAMPLES):
        records = {clinic: [replace(group[i % len(group)], episode_id=i)
                            for i in range(episodes * len(group) // total)]
                   for clinic, group in demo.items()}
        t0 = time.perf_counter()
        for clinic, group in records.items():
            judged = [adherence.judge(episode, now) for episode in group]
            indicators._clinic_public(clinic, str(clinic), judged, {}, named)
        times.append(time.perf_counter() - t0)
    return times, sum(len(group) for group in records.values())


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="carepath-indicators-"))
    try:
        t0 = time.perf_counter()
        db, now = _load(tmp)
        loaded = time.perf_counter() - t0
        rows: list[Row] = []
        # Before the copies: the in-memory measure starts from the demo's own episodes.
        domain_times, judged = _in_memory(db, now, IN_MEMORY)
        for size in SIZES:
            episodes, events = _grow(db, size)
            times = []
            for _ in range(SAMPLES):
                elapsed, counted = _sample(db, now)
                times.append(elapsed)
            if counted != episodes:
                raise SystemExit(f"counted {counted} episodes of {episodes}")
            rows.append((f"indicators over {episodes:,} episodes ({events:,} events)",
                         f"median {ms(statistics.median(times))}, max {ms(p95(times))}",
                         f"n={SAMPLES}; in-process, one auditor request for the last 365 "
                         "days: all clinics, per clinic and per clinician"))
        rows.append((f"indicators over {judged:,} episodes, domain only (in memory)",
                     f"median {ms(statistics.median(domain_times))}, "
                     f"max {ms(p95(domain_times))}",
                     f"n={SAMPLES}; the demo's records copied in memory: judging each episode "
                     "and the per-clinic and per-clinician tallies, without the database read"))
        print(table(rows))
        print(f"\nsetup: the demo loaded in {loaded:.1f} s, then copied")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
