"""Timer benchmark: due timers fired by two timer workers side by side, how fast, and that
none is fired twice.

Run from the repo root:

    python -m bench.timers                          # quick: 2,000 timers on SQLite
    python -m bench.timers --timers 100000 --database sqlite,postgres

PostgreSQL needs CAREPATH_BENCH_POSTGRES_URL (see bench/scale.py).

What it does, in a temporary directory removed at the end: episodes are seeded as
bench/scale.py seeds them, all at the same point (after the education, waiting for the first
week's timer: bench/service_setup.py's "waiting" state). The clock then moves one minute past
that timer, and two worker processes (`python -m bench.timers --worker`, each running
service.care.worker.sweep as `carepath worker` does, with that clock) fire every due timer;
the benchmark waits for both to finish. It then counts, in the database: `timer_fired`
events per episode (each must have exactly one), weekly_check_in tasks per episode (one),
and timers still due (none).

Prints one Markdown table (measure | value | note).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.service_setup import DATABASES, ROOT, WAITING, insert_patients, setup
from bench.stats import BenchError, Row, table

TIMERS = 2_000
WORKERS = 2
CHUNK = 5_000


def worker() -> None:
    """One timer worker: sweep until nothing is due; prints how many instances it advanced."""
    from datetime import datetime

    from pathways.clock import ManualClock
    from service.care.worker import sweep
    from service.core.db import create_db_engine
    from service.core.settings import Settings
    from service.models.registry import EngineRegistry

    settings = Settings(database_url=os.environ["BENCH_DB_URL"], mode="development",
                        embedded_worker=False)
    clock = ManualClock(datetime.fromisoformat(os.environ["BENCH_CLOCK"]))
    db = create_db_engine(settings)
    engines = EngineRegistry(clock)
    advanced = 0
    while True:
        done = sweep(db, clock, engines)
        advanced += done
        if done == 0:
            break
    print(advanced)


def run(kind: str, timers: int) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="carepath-bench-timers-"))
    try:
        return _run(tmp, kind, timers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, kind: str, timers: int) -> list[Row]:
    from service.core.tables import Event, Instance, ReadyTask

    s = setup(tmp, kind, clinic_keys=("timers",), staff=())
    now = s.clock.now()
    t0 = time.perf_counter()
    for first in range(0, timers, CHUNK):
        insert_patients(s.db, s.clinics["timers"], s.version_id, now, [s.templates[WAITING]],
                        min(CHUNK, timers - first), None, start=first)
    seed_s = time.perf_counter() - t0
    if s.db.dialect.name == "postgresql":
        with s.db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    wake = s.templates[WAITING].next_wake_at
    if wake is None:
        raise BenchError("the waiting state has no timer")
    due_at = wake + timedelta(minutes=1)  # the first week's timer only
    env = dict(os.environ, BENCH_DB_URL=s.url, BENCH_CLOCK=due_at.isoformat())
    s.db.dispose()
    t0 = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "bench.timers", "--worker"], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(WORKERS)]
    outputs = [p.communicate() for p in processes]
    elapsed = time.perf_counter() - t0
    for process, (_out, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise BenchError(f"a timer worker failed:\n{err.decode()[-2000:]}")
    advanced = [int(out.decode().split()[-1]) for out, _ in outputs]

    events: Any = Event.__table__  # type: ignore[attr-defined]
    ready: Any = ReadyTask.__table__  # type: ignore[attr-defined]
    instances: Any = Instance.__table__  # type: ignore[attr-defined]
    with s.db.connect() as connection:
        fired = sa.select(events.c.episode_id, sa.func.count().label("n")).where(
            events.c.name == "timer_fired").group_by(events.c.episode_id).subquery()
        per_episode: dict[int, int] = dict(connection.execute(
            sa.select(fired.c.n, sa.func.count()).group_by(fired.c.n)).all())
        tasks = sa.select(ready.c.episode_id, sa.func.count().label("n")).where(
            ready.c.name == "weekly_check_in").group_by(ready.c.episode_id).subquery()
        tasks_per_episode: dict[int, int] = dict(connection.execute(
            sa.select(tasks.c.n, sa.func.count()).group_by(tasks.c.n)).all())
        still_due = connection.execute(sa.select(sa.func.count()).select_from(instances).where(
            instances.c.next_wake_at <= due_at)).scalar_one()
    twice = sum(count for n, count in per_episode.items() if n > 1)
    once = per_episode.get(1, 0)
    if once + twice != timers or twice or still_due or tasks_per_episode != {1: timers}:
        raise BenchError(f"timers: fired once {once}, more than once {twice}, still due "
                         f"{still_due}, weekly_check_in tasks per episode {tasks_per_episode}")
    return [
        (f"{timers:,} due timers, {WORKERS} workers ({kind})", f"{timers / elapsed:.0f}/s",
         f"all fired in {elapsed:.1f} s (worker start-up included); the workers advanced "
         f"{' + '.join(f'{n:,}' for n in advanced)} instances; seeded in {seed_s:.1f} s"),
        (f"fired more than once ({kind})", f"{twice}",
         f"episodes with one timer_fired event: {once:,}; with a weekly_check_in: "
         f"{tasks_per_episode.get(1, 0):,}; timers still due: {still_due}"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=TIMERS, help="due timers to fire")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite, postgres, or both: sqlite,postgres")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return
    kinds = args.database.split(",")
    if any(kind not in DATABASES for kind in kinds):
        parser.error(f"--database takes {' or '.join(DATABASES)}")
    rows: list[Row] = []
    for kind in kinds:
        rows += run(kind, args.timers)
    print(table(rows))


if __name__ == "__main__":
    main()
