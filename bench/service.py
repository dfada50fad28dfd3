"""Service benchmark: completing a task over HTTP, completions per second under concurrent
clients, the same step without HTTP and without the service, and the clinician's worklist at
1,000 and 10,000 active patients.

Run from the repo root:

    python -m bench.service             # the table and the goals (about 1-2 minutes)
    python -m bench.service --profile   # also: cProfile of completions, in-process and the
                                        # server's event-loop thread (adds about 20 s)

What it does, all on 127.0.0.1 and in a temporary directory that is removed at the end:

- A SQLite file database is migrated and the reference pathway deployed (`prepare`, as
  `carepath serve` does). The server is a separate process (`python -m
  bench.service_setup`, so clients and server do not share a GIL): `create_app` with
  mode="development", the embedded worker off and a ManualClock, served by uvicorn as `carepath
  serve` serves it: one process, and for the last throughput row two (`serve_processes`, as
  `carepath serve --workers 2`: a SO_REUSEPORT socket each; the bench starts once both are
  serving).
- Patients are not referred one by one through the API (argon2 alone would take minutes).
  Three real instances are driven with the deployed model's engine, exactly as the service
  starts them ({"referral": ..., "episode_id": ...}): one with `weekly_check_in` ready (after
  red-flag screen, intake, first visit, education and one week), one with `first_visit`
  ready and one with `exercise_alert_review` ready. Each patient gets a copy of one of these
  states with fresh task ids and its own episode id, inserted with bulk inserts together with
  its Patient, Episode, Instance and ReadyTask rows (and, for patients who complete tasks
  over HTTP, a User and an ApiToken row: the bearer token is real, only the login is
  skipped). The copies restore and complete like the originals (checked once per state).
- Completion: each sample is a fresh patient's `weekly_check_in` (the step the pathway runs
  most: every week of every programme), POST /api/tasks/{id}/complete with the patient's
  bearer token on one kept-alive stdlib http.client connection; the answer must list
  exercise_week_completed. The request's transaction commits before the answer is sent, so
  the latency includes the commit. The benchmark's server adds `Server-Timing: app;dur=..`
  to each answer (bench/server_timing.py), so each round trip splits into the server app's
  own time and the rest (loopback, uvicorn, the client).
- References, in this process: the raw engine step (PathwayEngine.restore + complete_task +
  state_json of the same state, as bench/engine.py measures it), that step inside a one-row
  stdlib sqlite3 transaction (WAL, synchronous=NORMAL as the service sets: BEGIN IMMEDIATE,
  SELECT, step, UPDATE, COMMIT), the service call without HTTP (what the route's unit of
  work runs: transaction, token lookup, service function, answer, and its JSON), and, for
  the other reading of "raw engine", SpiffWorkflow alone (its own serializer, the spec
  embedded, as bench/engine.py's raw step) in the same one-row transaction. The goal line
  uses the strict reading: carepath's own engine step, which is about 3.5x faster than
  SpiffWorkflow alone. These are interleaved sample by sample with the sequential HTTP
  completions, in shuffled order, so that load from a neighbour on a shared machine hits all
  five alike and the ratios stay meaningful.
- Concurrent: N kept-alive connections driven by one asyncio thread (bench/load.py: prepared
  request bytes, answers read by Content-Length and checked), each with its own patients,
  for a fixed window; the server's CPU time per completion comes from /proc.
- Worklist: GET /api/tasks (default page of 100) as a physiotherapist, in a clinic with
  1,000 and in another with 10,000 active patients, the two alternating request by request:
  half of the patients wait on a patient task (weekly_check_in), a quarter on first_visit
  and a quarter on exercise_alert_review, so the physiotherapist sees 500 and 5,000 tasks.
  Due times in these ready_tasks rows are spread over two weeks around "now" (these patients
  are never completed). The last row times views.worklist without HTTP (interleaved with
  the requests) and shows SQLite's query plans.

Prints one Markdown table (measure | value | note) and the three goal lines. Timings are
time.perf_counter medians with p95; every series also stops at a time budget. Numbers vary
on a shared machine: compare runs, not single values.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.completions import (
    Completions,
    body_of,
    complete_http,
    concurrent,
    connection,
    health_http,
)
from bench.engine import load_answers
from bench.profiles import print_profiles
from bench.references import References, ServiceCall
from bench.service_setup import (
    DATABASES,
    WORKLIST_SIZES,
    Patients,
    Server,
    Setup,
    insert_patients,
    running_server,
    setup,
)
from bench.stats import Row, ms, p95, table
from bench.worklist import WorklistInProcess, login, worklists

HTTP_WARMUP = 20
SEQ_SAMPLES = 300
SEQ_BUDGET_S = 30.0
CONC_CLIENTS = (4, 8)
CONC_WINDOW_S = 8.0
CONC_PATIENTS = 4000
"""Patients per concurrent run: 500/s for the whole window before they run out."""
MULTI_WORKERS = 2
MULTI_CLIENTS = 16
"""Connections for the two-process row: the kernel spreads them over the two sockets by a hash
of their ports, so a few more than per process keeps the halves even."""
REF_SAMPLES = 150
REF_BUDGET_S = 8.0
INPROC_SAMPLES = 150
PROFILE_SAMPLES = 150

THROUGHPUT_GOAL = 300.0
WORKLIST_P95_GOAL_S = 0.030
FLAT_LIMIT = 1.5
"""'Flat': p95 at 10k patients at most this many times p95 at 1k."""
HTTP_RATIO_GOAL = 1.5


# -- the same completion without HTTP, and without the service (bench/references.py)


@dataclass
class Paired:
    http: list[float]
    inproc: list[float]
    raw: list[float]
    row: list[float]
    spiff_row: list[float]
    floor: list[float]
    """GET /healthz on the same connection: the round trip with no work in it."""
    http_app: list[float]
    """The server app's own share of each completion (Server-Timing)."""
    floor_app: list[float]
    server_cpu: float | None
    statements: float


def paired(s: Setup, server: Server, patients: Patients, data: dict[str, Any], count: int,
           budget_s: float) -> Paired:
    """Measures 1 and 3, interleaved sample by sample (HTTP, raw, one-row, in-process,
    SpiffWorkflow alone in one row, an empty HTTP round trip, in a shuffled order) so that a
    busy neighbour on a shared machine slows all six alike."""
    refs, call = References(s, data), ServiceCall(s, data)
    body = body_of(data)
    with closing(connection(server)) as client:
        for task_id, token in patients.take(HTTP_WARMUP):
            complete_http(client, task_id, token, body)
        for task_id, token in patients.take(10):
            call(task_id, token)
            refs.raw()
            refs.row()
            refs.spiff_row()
        todo_http, todo_call = patients.take(count), patients.take(count)
        out = Paired([], [], [], [], [], [], [], [], None, 0.0)
        shuffle = random.Random(1).shuffle
        gc.collect()
        call.statements = call.calls = 0
        # The server's CPU over the completions alone: read before and after each one (the
        # /healthz requests interleaved with them are left out).
        server_cpu: float | None = 0.0
        deadline = time.perf_counter() + budget_s
        for i in range(count):
            if time.perf_counter() > deadline:
                break
            order = [0, 1, 2, 3, 4, 5]
            shuffle(order)  # no series always follows another (e.g. the server's commit)
            for which in order:
                if which == 0:
                    before = server.cpu_seconds()
                    trip = complete_http(client, *todo_http[i], body)
                    after = server.cpu_seconds()
                    if before is None or after is None or server_cpu is None:
                        server_cpu = None
                    else:
                        server_cpu += after - before
                    out.http.append(trip.seconds)
                    out.http_app.append(trip.app_seconds)
                elif which == 1:
                    out.raw.append(refs.raw())
                elif which == 2:
                    out.row.append(refs.row())
                elif which == 3:
                    out.spiff_row.append(refs.spiff_row())
                elif which == 5:
                    trip = health_http(client)
                    out.floor.append(trip.seconds)
                    out.floor_app.append(trip.app_seconds)
                else:
                    out.inproc.append(call(*todo_call[i]))
    refs.conn.close()
    call.stop_counting()
    out.server_cpu = server_cpu
    out.statements = call.statements / max(call.calls, 1)
    return out



# -- formatting


def timing(values: list[float]) -> str:
    return f"median {ms(statistics.median(values))}, p95 {ms(p95(values))}"


def cpu_note(cpu: float | None, count: int, elapsed: float) -> str:
    if cpu is None or not count:
        return ""
    busy = f", {cpu / elapsed:.2f} cores busy" if elapsed else ""
    return f"; server CPU {ms(cpu / count)} per completion{busy}"


def failures(result: Completions) -> str:
    if not result.errors:
        return ""
    return f"; {len(result.errors)} client(s) stopped on an error: {result.errors[0]}"


# -- profiles


# -- main


def main(profile: bool = False, kind: str = "sqlite",
         processes: tuple[int, ...] = (MULTI_WORKERS,)) -> None:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="carepath-bench-"))
    try:
        _run(tmp, started, profile, kind, processes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, started: float, profile: bool, kind: str,
         processes: tuple[int, ...]) -> None:
    s = setup(tmp, kind)
    data = load_answers().by_task["weekly_check_in"]
    checkin = s.templates["weekly_check_in"]
    now = s.clock.now()
    multi_clients = MULTI_CLIENTS
    needed = (HTTP_WARMUP + 10 + 2 * SEQ_SAMPLES
              + CONC_PATIENTS * (len(CONC_CLIENTS) + len(processes))
              + (2 * PROFILE_SAMPLES if profile else 0))
    t0 = time.perf_counter()
    patients = Patients(insert_patients(s.db, s.clinics["north"], s.version_id, now, [checkin],
                                        needed, s.password_hash))
    setup_s = time.perf_counter() - t0

    with running_server(s) as server:
        pair = paired(s, server, patients, data, SEQ_SAMPLES, SEQ_BUDGET_S)
        conc = {n: concurrent(server, patients, data, n, CONC_WINDOW_S, CONC_PATIENTS // n)
                for n in CONC_CLIENTS}
        mix = [checkin, checkin, s.templates["first_visit"], s.templates["exercise_alert_review"]]
        tokens: dict[int, str] = {}
        wl_setup: dict[int, float] = {}
        for size in WORKLIST_SIZES:
            t0 = time.perf_counter()
            insert_patients(s.db, s.clinics[f"wl{size}"], s.version_id, now, mix, size, None,
                            spread_due=True)
            wl_setup[size] = time.perf_counter() - t0
            tokens[size] = login(server, f"bench-physio-{size}", s.physio_password)
        local = WorklistInProcess(s, f"bench-physio-{WORKLIST_SIZES[-1]}")
        wl, wl_inproc = worklists(server, tokens, {size: size // 2 for size in WORKLIST_SIZES},
                                  local)
        wl_plans = local.plans()

    by_processes: dict[int, Completions] = {}
    for count in processes:
        with running_server(s, workers=count) as server:
            by_processes[count] = concurrent(server, patients, data, multi_clients,
                                             CONC_WINDOW_S, CONC_PATIENTS // multi_clients)
    multi = max(by_processes.values(), key=lambda result: result.rate)

    http_median = statistics.median(pair.http)
    raw_median, row_median = statistics.median(pair.raw), statistics.median(pair.row)
    inproc_median = statistics.median(pair.inproc)
    spiff_median = statistics.median(pair.spiff_row)
    floor_median = statistics.median(pair.floor)
    app_median = statistics.median(pair.http_app)
    transport = statistics.median([t - a for t, a in zip(pair.http, pair.http_app, strict=True)])
    floor_transport = statistics.median([t - a for t, a in
                                         zip(pair.floor, pair.floor_app, strict=True)])
    ratio = http_median / row_median
    best_n, best = max(conc.items(), key=lambda kv: kv[1].rate)
    rows: list[Row] = [
        (f"complete-task over HTTP, sequential (weekly_check_in, {kind})", timing(pair.http),
         f"n={len(pair.http)}; one kept-alive http.client connection, a fresh patient and "
         "bearer "
         f"token per request; {len(pair.http) / sum(pair.http):.0f} completions/s"
         + cpu_note(pair.server_cpu, len(pair.http), 0)
         + " (read around each completion: the interleaved /healthz requests left out)"),
    ]
    for n, result in conc.items():
        rows.append((f"completions/s, {n} concurrent clients, 1 server process",
                     f"{result.rate:.0f}/s",
                     f"{len(result.latencies)} in {result.elapsed:.1f} s; latency "
                     f"{timing(result.latencies)}"
                     + cpu_note(result.server_cpu, len(result.latencies), result.elapsed)
                     + failures(result)))
    for count, result in by_processes.items():
        rows.append((
            f"completions/s, {multi_clients} concurrent clients, {count} server "
            f"process{'es' if count > 1 else ''} ({kind})", f"{result.rate:.0f}/s",
            f"`carepath serve --workers {count}` (SO_REUSEPORT"
            + ("; SQLite writers queue on a lock file" if kind == "sqlite" else "")
            + f"); {len(result.latencies)} in {result.elapsed:.1f} s; latency "
            f"{timing(result.latencies)}"
            + cpu_note(result.server_cpu, len(result.latencies), result.elapsed)
            + failures(result)))
    rows += [
        ("raw engine step (restore + complete_task + state_json)", timing(pair.raw),
         f"n={len(pair.raw)}; the same weekly_check_in state ({len(checkin.state):,} B), "
         "no DB, no HTTP; interleaved with the HTTP samples"),
        ("raw engine + one-row SQLite transaction", timing(pair.row),
         f"n={len(pair.row)}; stdlib sqlite3, WAL, synchronous=NORMAL: BEGIN IMMEDIATE, "
         "SELECT state, engine step, UPDATE, COMMIT"),
        ("service call in-process, no HTTP", timing(pair.inproc),
         f"n={len(pair.inproc)}; what the route's unit of work runs (transaction, snapshot, "
         f"token lookup, complete_task, the answer) + its JSON, on {kind}; "
         + (f"{pair.statements:.0f} SQL statements per completion; " if kind == "sqlite"
            else "") + f"{inproc_median / row_median:.2f}x the one-row reference"),
        ("ratio HTTP median / (raw engine + one SQLite row)", f"{ratio:.2f}",
         f"goal <= {HTTP_RATIO_GOAL}; the HTTP median as medians: engine {ms(raw_median)}, "
         f"one-row SQLite {ms(row_median - raw_median)}, service/ORM "
         f"{ms(inproc_median - row_median)}, FastAPI and the server process "
         f"{ms(app_median - inproc_median)} (app - in-process), loopback/uvicorn/client "
         f"{ms(http_median - app_median)} (an empty round trip: {ms(floor_median)})"),
        ("the same completion inside the server's app (Server-Timing)", timing(pair.http_app),
         "the server's own time per completion, from the request's arrival in the app "
         "(parsed by uvicorn) to the start of its answer: FastAPI, the unit of work, the "
         f"commit, the answer; the rest of each round trip (loopback, uvicorn, the client) "
         f"has median {ms(transport)}; for GET /healthz: app "
         f"{ms(statistics.median(pair.floor_app))}, rest {ms(floor_transport)}"),
        ("HTTP round trip with no work (GET /healthz)", timing(pair.floor),
         f"n={len(pair.floor)}; the same connection and interleaving as the completions: "
         "uvicorn, loopback and the client, the floor under any request's HTTP share"),
        ("raw SpiffWorkflow step + one-row SQLite transaction", timing(pair.spiff_row),
         f"n={len(pair.spiff_row)}; the other reading of \"raw engine\": SpiffWorkflow alone "
         "as shipped (its serializer, the spec embedded: bench/raw_spiff.py) in the same "
         f"one-row transaction; HTTP median / this = {http_median / spiff_median:.2f}"),
    ]
    for size in WORKLIST_SIZES:
        rows.append((f"worklist GET /api/tasks, {size:,} active patients", timing(wl[size]),
                     f"n={len(wl[size])}; physiotherapist, default page of 100 of "
                     f"{size // 2:,} visible tasks; the clinics alternate request by "
                     f"request; {size:,} patients inserted in {wl_setup[size]:.1f} s"))
    small, large = (p95(wl[size]) for size in WORKLIST_SIZES)
    flat = large / small
    median_growth = (statistics.median(wl[WORKLIST_SIZES[-1]])
                     / statistics.median(wl[WORKLIST_SIZES[0]]))
    rows += [
        ("worklist p95 10k / 1k", f"{flat:.2f}",
         f"flat means <= {FLAT_LIMIT}; medians 10k / 1k: {median_growth:.2f}"),
        (f"worklist in-process (views.worklist), {WORKLIST_SIZES[-1]:,} patients",
         timing(wl_inproc), f"n={len(wl_inproc)}; no HTTP, interleaved with the requests "
         f"above; {kind} plans: "
         + " / ".join(f"[{plan}]" for plan in wl_plans)),
    ]
    print(table(rows))
    print()
    print(f"setup: {needed:,} completion patients inserted in {setup_s:.1f} s; total run "
          f"{time.perf_counter() - started:.1f} s")
    print()
    rate_ok = max(best.rate, multi.rate) >= THROUGHPUT_GOAL
    best_processes = max(by_processes, key=lambda count: by_processes[count].rate)
    print(f">= {THROUGHPUT_GOAL:.0f} completions/s on 2 cores: {'PASS' if rate_ok else 'FAIL'} "
          f"({multi.rate:.0f}/s with {best_processes} server process(es) and {multi_clients} "
          f"clients; {best.rate:.0f}/s with one process and {best_n} clients)")
    wl_ok = small < WORKLIST_P95_GOAL_S and large < WORKLIST_P95_GOAL_S and flat <= FLAT_LIMIT
    print(f"worklist p95 < 30 ms and flat from 1k to 10k: {'PASS' if wl_ok else 'FAIL'} "
          f"(p95 {ms(small)} -> {ms(large)}, x{flat:.2f})")
    http_ok = ratio <= HTTP_RATIO_GOAL
    print(f"complete-task over HTTP <= {HTTP_RATIO_GOAL}x raw engine + one SQLite row: "
          f"{'PASS' if http_ok else 'FAIL'} ({ms(http_median)} / {ms(row_median)} = "
          f"{ratio:.2f})")
    if profile:
        print()
        print_profiles(s, patients, data, PROFILE_SAMPLES)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", action="store_true",
                        help="also profile completions (in-process and the server)")
    parser.add_argument("--database", default="sqlite", choices=DATABASES,
                        help="postgres needs CAREPATH_BENCH_POSTGRES_URL (bench/scale.py)")
    parser.add_argument("--processes", default=str(MULTI_WORKERS),
                        help="server process counts for the throughput rows, e.g. 1,2,4")
    args = parser.parse_args()
    main(profile=args.profile, kind=args.database,
         processes=tuple(int(n) for n in args.processes.split(",")))
