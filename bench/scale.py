"""Scale benchmark: a clinic grown to 1,000, 10,000 and 100,000 active episodes, the
worklist with every filter at each size, and the server's memory.

Run from the repo root:

    python -m bench.scale                      # quick: 1k and 10k on SQLite (about a minute)
    python -m bench.scale --sizes 1000,10000,100000 --database sqlite,postgres

PostgreSQL needs CAREPATH_BENCH_POSTGRES_URL (the URL `bash scripts/postgres.sh start`
prints); the benchmark makes its own database `carepath_bench` on that server.

What it does, in a temporary directory that is removed at the end:

- Seeding (bench/service_setup.py): the reference pathway is driven once for one patient and
  its state kept at six points: red_flag_screen and intake_questionnaires ready (patient),
  first_visit ready (physiotherapist), waiting for the first week's timer (no task),
  weekly_check_in ready (patient), exercise_alert_review ready (physiotherapist). The clinic's
  episodes are copies of these states (fresh task ids, own episode id) in the proportions of
  SPREAD, bulk-inserted with their Patient, Episode, Instance and ReadyTask rows in
  transactions of CHUNK patients. Their strata are 40% low, 40% medium, 20% high; of the
  physiotherapist's tasks 10% are claimed by the measured physiotherapist and 20% by two
  colleagues; due times are spread over two weeks around now. The clinic grows to each size
  in turn, and is measured at each.
- Worklist: GET /api/tasks (the default page of 100) against the server as a separate
  process (`carepath serve`'s app, one process, no embedded worker), as a physiotherapist
  with no filter and with each filter alone, and as the clinic lead (who works two roles)
  with no filter and each role; one request of each kind in turn, round after round. Every
  answer is checked: a 200 whose rows match the filter.
- PostgreSQL's tables are vacuumed and analysed after each seeding (what autovacuum does
  soon after a bulk insert; without it index-only scans read the table); SQLite is left as
  the service leaves it (no ANALYZE).
- Memory: the server's resident set (VmRSS of the process) after each size's requests, and,
  at the largest size, its peak (VmHWM) after a burst of completions by 8 concurrent
  clients (patients of another clinic) alongside the worklist requests.

Prints, per database, a Markdown table: one row per request kind, median and p95 at each
size, and the count the largest size answered.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.completions import concurrent
from bench.engine import load_answers
from bench.service_setup import (
    DATABASES,
    Mix,
    Patients,
    Server,
    Setup,
    insert_patients,
    running_server,
    setup,
)
from bench.stats import BenchError, ms, p95
from bench.worklist import login

SIZES = (1_000, 10_000)
CHUNK = 5_000
SPREAD = ("red_flag_screen", "intake_questionnaires", "first_visit", "first_visit", "waiting",
          "waiting", "weekly_check_in", "weekly_check_in", "weekly_check_in",
          "exercise_alert_review")
"""Where the clinic's episodes stand, one in ten each: 30% wait on the physiotherapist."""
STRATA = ("low", "low", "medium", "medium", "high")
SAMPLES = 40
"""Requests of each kind at each size (after 3 rounds of warm-up)."""
BUDGET_S = 60.0
"""Per size: the rounds stop here even if SAMPLES are not reached."""
LOAD_PATIENTS_PER_S = 600
"""Patients (each completes one task) per second of the load window: more than it takes."""
LOAD_CLIENTS = 8
LOAD_WINDOW_S = 5.0
STAFF = (("bench-physio", "physiotherapist", "scale"),
         ("bench-colleague-1", "physiotherapist", "scale"),
         ("bench-colleague-2", "physiotherapist", "scale"),
         ("bench-lead", "clinic_lead", "scale"))


@dataclass(frozen=True)
class Request:
    """One kind of worklist request: who asks, and with which filter."""

    label: str
    user: str
    params: dict[str, str]


REQUESTS = (
    Request("physiotherapist, no filter", "bench-physio", {}),
    Request("due=overdue", "bench-physio", {"due": "overdue"}),
    Request("due=today", "bench-physio", {"due": "today"}),
    Request("due=upcoming", "bench-physio", {"due": "upcoming"}),
    Request("stratum=high", "bench-physio", {"stratum": "high"}),
    Request("claimed=mine", "bench-physio", {"claimed": "mine"}),
    Request("claimed=unclaimed", "bench-physio", {"claimed": "unclaimed"}),
    Request("claimed=others", "bench-physio", {"claimed": "others"}),
    Request("name=first_visit", "bench-physio", {"name": "first_visit"}),
    Request("name=exercise_alert_review", "bench-physio", {"name": "exercise_alert_review"}),
    Request("clinic lead, no filter (two roles)", "bench-lead", {}),
    Request("clinic lead, role=physiotherapist", "bench-lead", {"role": "physiotherapist"}),
    Request("clinic lead, role=clinic_lead", "bench-lead", {"role": "clinic_lead"}),
)


@dataclass
class SizeResult:
    size: int
    seed_s: float
    times: dict[str, list[float]]
    counts: dict[str, int]
    rss_kib: int


@dataclass
class DatabaseResult:
    kind: str
    sizes: list[SizeResult] = field(default_factory=list)
    peak_kib: int = 0
    load_rate: float = 0.0
    load_note: str = ""


def user_ids(s: Setup) -> dict[str, int]:
    from service.core.tables import User

    with s.db.connect() as connection:
        users: Any = User.__table__  # type: ignore[attr-defined]
        rows = connection.execute(sa.select(users.c.username, users.c.id))
        return {name: user_id for name, user_id in rows}


def seed(s: Setup, clinic_id: int, count: int, start: int, mix: Mix) -> float:
    """`count` more episodes in the clinic, CHUNK per transaction; returns the seconds."""
    templates = [s.templates[name] for name in SPREAD]
    now = s.clock.now()
    t0 = time.perf_counter()
    for first in range(0, count, CHUNK):
        insert_patients(s.db, clinic_id, s.version_id, now, templates,
                        min(CHUNK, count - first), None, spread_due=True, mix=mix,
                        start=start + first)
    if s.db.dialect.name == "postgresql":
        with s.db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - t0


def check(request: Request, body: dict[str, Any], me: int) -> None:
    """The answer's rows must be what the filter asks for."""
    params = request.params
    for row in body["data"]:
        wrong = (("name" in params and row["name"] != params["name"])
                 or ("stratum" in params and row["stratum"] != params["stratum"])
                 or ("role" in params and row["role"] != params["role"])
                 or (params.get("claimed") == "mine" and row["claimed_by"] != me)
                 or (params.get("claimed") == "unclaimed" and row["claimed_by"] is not None)
                 or (params.get("claimed") == "others"
                     and row["claimed_by"] in (None, me))
                 or (params.get("due") == "overdue" and not row["overdue"]))
        if wrong:
            raise BenchError(f"worklist {request.label}: a row does not match: {row}")


def rss_kib(server: Server, field_name: str = "VmRSS") -> int:
    """Resident memory of the server process (a single process in this benchmark)."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def measure(server: Server, clients: dict[str, httpx.Client], me: int,
            samples: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    times: dict[str, list[float]] = {r.label: [] for r in REQUESTS}
    counts: dict[str, int] = {}

    def one(request: Request) -> float:
        t0 = time.perf_counter()
        response = clients[request.user].get("/api/tasks", params=request.params)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise BenchError(f"worklist {request.label}: {response.status_code} "
                             f"{response.text[:300]}")
        body = response.json()
        check(request, body, me)
        counts[request.label] = body["count"]
        return elapsed

    for _ in range(3):
        for request in REQUESTS:
            one(request)
    deadline = time.perf_counter() + BUDGET_S
    for _ in range(samples):
        if time.perf_counter() > deadline:
            break
        for request in REQUESTS:
            times[request.label].append(one(request))
    return times, counts


def run(kind: str, sizes: Sequence[int], samples: int, load_s: float) -> DatabaseResult:
    tmp = Path(tempfile.mkdtemp(prefix="carepath-bench-scale-"))
    try:
        return _run(tmp, kind, sizes, samples, load_s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, kind: str, sizes: Sequence[int], samples: int,
         load_s: float) -> DatabaseResult:
    s = setup(tmp, kind, clinic_keys=("scale", "north"), staff=STAFF)
    ids = user_ids(s)
    me = ids["bench-physio"]
    mix = Mix(STRATA, (me, None, None, ids["bench-colleague-1"], None, None,
                       ids["bench-colleague-2"], None, None, None))
    out = DatabaseResult(kind)
    seeded = 0
    with running_server(s) as server:
        clients = {user: httpx.Client(base_url=server.url, timeout=60, headers={
            "Authorization": f"Bearer {login(server, user, s.physio_password)}"})
            for user in ("bench-physio", "bench-lead")}
        try:
            for size in sizes:
                seed_s = seed(s, s.clinics["scale"], size - seeded, seeded, mix)
                seeded = size
                times, counts = measure(server, clients, me, samples)
                out.sizes.append(SizeResult(size, seed_s, times, counts, rss_kib(server)))
            _under_load(s, server, clients, me, out, load_s)
        finally:
            for client in clients.values():
                client.close()
    return out


def _under_load(s: Setup, server: Server, clients: dict[str, httpx.Client], me: int,
                out: DatabaseResult, window_s: float) -> None:
    """Completions by concurrent clients, with worklist requests alongside; the server's
    peak resident memory after."""
    count = int(LOAD_PATIENTS_PER_S * window_s)
    patients = Patients(insert_patients(s.db, s.clinics["north"], s.version_id, s.clock.now(),
                                        [s.templates["weekly_check_in"]], count,
                                        s.password_hash))
    stop = threading.Event()
    worklists = [0]

    def poll() -> None:
        while not stop.is_set():
            for request in REQUESTS:
                clients[request.user].get("/api/tasks", params=request.params)
                worklists[0] += 1

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = concurrent(server, patients, load_answers().by_task["weekly_check_in"],
                            LOAD_CLIENTS, window_s, count // LOAD_CLIENTS)
    finally:
        stop.set()
        poller.join()
    if result.errors:
        raise BenchError(f"completions under load: {result.errors[0]}")
    out.peak_kib = rss_kib(server, "VmHWM")
    out.load_rate = result.rate
    out.load_note = (f"{len(result.latencies)} completions in {result.elapsed:.1f} s by "
                     f"{LOAD_CLIENTS} clients ({result.rate:.0f}/s), {worklists[0]} worklist "
                     "requests alongside")


def report(result: DatabaseResult) -> str:
    sizes = result.sizes
    head = ["request"] + [f"{r.size:,}: median / p95" for r in sizes] + [
        f"count at {sizes[-1].size:,}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for request in REQUESTS:
        cells = [request.label]
        for r in sizes:
            values = r.times[request.label]
            cells.append(f"{ms(statistics.median(values))} / {ms(p95(values))}"
                         if values else "-")
        cells.append(f"{sizes[-1].counts.get(request.label, 0):,}")
        lines.append("| " + " | ".join(cells) + " |")
    n = len(sizes[-1].times[REQUESTS[0].label])
    lines += ["", f"n={n} of each at the largest size; seeding "
              + ", ".join(f"{r.size:,} in {r.seed_s:.1f} s" for r in sizes)
              + " (each the episodes added to reach the size); server RSS after the "
              "requests at each size: "
              + ", ".join(f"{r.size:,}: {r.rss_kib / 1024:.0f} MiB" for r in sizes)
              + f"; peak RSS {result.peak_kib / 1024:.0f} MiB after completions under load "
              f"at {sizes[-1].size:,} ({result.load_note})"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES),
                        help="active episodes to grow the clinic to, e.g. 1000,10000,100000")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite, postgres, or both: sqlite,postgres")
    parser.add_argument("--samples", type=int, default=SAMPLES,
                        help="requests of each kind at each size")
    parser.add_argument("--load-seconds", type=float, default=LOAD_WINDOW_S,
                        help="the window of completions under load at the largest size")
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.sizes.split(","))
    kinds = args.database.split(",")
    if not sizes or any(kind not in DATABASES for kind in kinds):
        parser.error(f"--database takes {' or '.join(DATABASES)}, --sizes numbers")
    worst = 0.0
    for kind in kinds:
        started = time.perf_counter()
        result = run(kind, sizes, args.samples, args.load_seconds)
        print(f"## {kind}: worklist GET /api/tasks, median / p95 by active episodes\n")
        print(report(result))
        print(f"\n(total {time.perf_counter() - started:.0f} s)\n")
        worst = max(worst, *(p95(v) for v in result.sizes[-1].times.values() if v))
    print(f"worklist p95 <= 30 ms at the largest size for every request: "
          f"{'PASS' if worst <= 0.030 else 'FAIL'} (worst {ms(worst)})")


if __name__ == "__main__":
    main()
