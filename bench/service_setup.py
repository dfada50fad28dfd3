"""Service benchmark, part one: the data and the server it measures.

Real instances of the reference pathway are driven once and their states copied for every
patient (fresh task ids, own episode id), bulk-inserted with their rows; the server is a
separate process running the app as `carepath serve` does. See bench/service.py."""

from __future__ import annotations

import base64
import cProfile
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.engine import complete, load_answers, read_education
from bench.server_timing import ServerTiming
from bench.stats import BenchError
from pathways.clock import ManualClock
from pathways.engine import PathwayEngine
from pathways.instance import PathwayInstance
from pathways.task_views import ReadyTask as EngineTask
from service import serving
from service.serving import serve_processes

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WEEK = timedelta(days=7)
EPISODE_SENTINEL = 987_654_321
"""Episode id the template instances start with; each copy gets its own in its place."""

FLARE = {"sessions_done": 1, "week_pain_nrs": 9, "pain_during": 8, "pain_settled": False,
         "painful_exercises": [], "too_hard_exercises": [],
         "red_flags": {flag: False for flag in ("bladder_bowel_change", "saddle_numbness",
                                               "bilateral_leg_symptoms", "fever",
                                               "unexplained_weight_loss")}}
"""A weekly check-in with a pain flare (as in tests/service/test_journeys.py)."""
WORKLIST_SIZES = (1_000, 10_000)
WAITING = "waiting"
"""The template between the education and the first week: no ready task, a timer due in a
week."""


# -- templates: real instances whose states are copied for every patient


@dataclass(frozen=True)
class Template:
    name: str
    state: str
    ready: list[EngineTask]
    next_wake_at: datetime | None
    stratum: str | None
    short_ids: list[str]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(re.escape(s) for s in self.short_ids))


def _short(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode()[:22]


def _long(short: str) -> str:
    return str(uuid.UUID(bytes=base64.urlsafe_b64decode(short + "==")))


def make_template(name: str, instance: PathwayInstance, stratum: str | None) -> Template:
    state = instance.state_json()
    doc = json.loads(state)["workflow"]
    shorts = [row[3] for row in doc["tasks"]]
    for key, sub in doc.get("subprocesses", {}).items():
        shorts += [key] + [row[3] for row in sub["tasks"]]
    ready = instance.ready_tasks()
    if any(_short(uuid.UUID(t.id)) not in shorts for t in ready):
        raise BenchError(f"template {name}: a ready task id is not in the state's task list")
    return Template(name, state, ready, instance.next_wake_at(), stratum, sorted(set(shorts)))


@dataclass
class Copy:
    state: str
    task_ids: dict[str, str]
    """Template ready-task id -> this copy's id."""


def copy_state(template: Template, pattern: re.Pattern[str], episode_id: int) -> Copy:
    mapping = {s: _short(uuid.uuid4()) for s in template.short_ids}
    state = pattern.sub(lambda m: mapping[m.group(0)], template.state)
    state = state.replace(f'"episode_id":{EPISODE_SENTINEL}', f'"episode_id":{episode_id}')
    ids = {t.id: _long(mapping[_short(uuid.UUID(t.id))]) for t in template.ready}
    return Copy(state, ids)


def build_templates(engine: PathwayEngine, clock: ManualClock) -> dict[str, Template]:
    """Drive one patient as the service does; keep the states the benchmark needs."""
    answers = load_answers()
    instance = engine.start({"referral": {"source": "clinician"}, "episode_id": EPISODE_SENTINEL})
    stratum = None
    templates = {}
    for name in ("red_flag_screen", "intake_questionnaires"):
        templates[name] = make_template(name, instance, stratum)
        for event in complete(instance, name, answers.by_task[name]):
            if event.name == "risk_stratified":
                stratum = event.data.get("stratum")
    templates["first_visit"] = make_template("first_visit", instance, stratum)
    complete(instance, "first_visit", answers.by_task["first_visit"])
    read_education(instance)
    templates[WAITING] = make_template(WAITING, instance, stratum)
    clock.advance(WEEK)
    instance.fire_due_timers()
    templates["weekly_check_in"] = make_template("weekly_check_in", instance, stratum)
    complete(instance, "weekly_check_in", FLARE)
    templates["exercise_alert_review"] = make_template("exercise_alert_review", instance,
                                                       stratum)
    for name, template in templates.items():
        if [t.name for t in template.ready] != ([] if name == WAITING else [name]):
            raise BenchError(f"template {name}: ready tasks {[t.name for t in template.ready]}")
        # A copy must restore and run like the original.
        copy = copy_state(template, template.pattern, 42)
        restored = engine.restore(copy.state)
        if [t.id for t in restored.ready_tasks()] != list(copy.task_ids.values()):
            raise BenchError(f"template {name}: a copied state has other task ids")
        if str(EPISODE_SENTINEL) in copy.state:
            raise BenchError(f"template {name}: the episode id was not replaced")
    check = engine.restore(copy_state(templates["weekly_check_in"],
                                      templates["weekly_check_in"].pattern, 42).state)
    task_id = check.ready_tasks()[0].id
    events = [e.name for e in check.complete_task(task_id, answers.by_task["weekly_check_in"])]
    if "exercise_week_completed" not in events:
        raise BenchError(f"a copied weekly_check_in did not complete the week: {events}")
    return templates


# -- the database


@dataclass
class Patients:
    """Patients who complete tasks over HTTP: (task id, bearer token) each."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def take(self, count: int) -> list[tuple[str, str]]:
        if count > len(self.items):
            raise BenchError(f"needed {count} more patients, {len(self.items)} left")
        taken, self.items = self.items[:count], self.items[count:]
        return taken


def _next_id(session: Any, table: Any) -> int:
    return int(session.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


@dataclass(frozen=True)
class Mix:
    """How the seeded patients differ beyond their state. With T templates and S strata,
    patient i has stratum strata[i // T % S] (once stratified) and, on a clinician's task,
    claimed_by claimers[i // (T * S) % len(claimers)]: every combination of template,
    stratum and claimer comes once in T * S * len(claimers) patients."""

    strata: Sequence[str]
    claimers: Sequence[int | None]


def insert_patients(db: Engine, clinic_id: int, version_id: int, now: datetime,
                    templates: Sequence[Template], count: int, password_hash: str | None,
                    spread_due: bool = False, mix: Mix | None = None,
                    start: int = 0) -> list[tuple[str, str]]:
    """Bulk-insert `count` patients in one transaction, patient i (counted from `start`) on
    templates[i % len(templates)]. With a password hash, each also gets a patient login and a
    bearer token; returns (task id, token) of their first ready task."""
    from service.core.db import transaction
    from service.core.tables import ApiToken, Episode, Instance, Patient, ReadyTask, User

    patients_t, users_t, tokens_t = Patient.__table__, User.__table__, ApiToken.__table__
    episodes_t, instances_t, ready_t = (Episode.__table__, Instance.__table__,
                                        ReadyTask.__table__)
    patterns = [t.pattern for t in templates]
    out: list[tuple[str, str]] = []
    with transaction(db, write=True) as session:
        first_patient = _next_id(session, patients_t)
        first_user = _next_id(session, users_t)
        first_episode = _next_id(session, episodes_t)
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ("p", "u", "t", "e", "i", "r")}
        for i in range(count):
            n = start + i
            template = templates[n % len(templates)]
            patient_id, episode_id = first_patient + i, first_episode + i
            copy = copy_state(template, patterns[n % len(templates)], episode_id)
            stratum = template.stratum
            if mix is not None and stratum is not None:
                stratum = mix.strata[n // len(templates) % len(mix.strata)]
            rows["p"].append({"id": patient_id, "clinic_id": clinic_id,
                              "display_name": f"Bench patient {patient_id}",
                              "birth_year": 1950 + n % 50, "created_at": now})
            rows["e"].append({"id": episode_id, "patient_id": patient_id,
                              "clinic_id": clinic_id, "model_version_id": version_id,
                              "referral_source": "clinician", "status": "active",
                              "stratum": stratum, "started_at": now,
                              "ended_at": None})
            rows["i"].append({"episode_id": episode_id, "state": copy.state, "version": 1,
                              "next_wake_at": template.next_wake_at, "status": "running"})
            for task in template.ready:
                due_at, ready_at = task.due_at, task.ready_at
                if spread_due:  # two weeks around now, a different minute for each patient
                    due_at = now - WEEK + timedelta(minutes=(n * 7919) % (14 * 24 * 60))
                    ready_at = due_at - timedelta(days=2)
                claimed_by = None
                if mix is not None and task.role != "patient":
                    claimed_by = mix.claimers[n // (len(templates) * len(mix.strata))
                                              % len(mix.claimers)]
                rows["r"].append({
                    "task_id": copy.task_ids[task.id], "episode_id": episode_id,
                    "patient_id": patient_id, "clinic_id": clinic_id, "role": task.role or "",
                    "name": task.name, "title": task.title, "form": task.form,
                    "education_module": task.education_module, "alert": task.alert,
                    "stratum": stratum, "ready_at": ready_at, "due_at": due_at,
                    "claimed_by": claimed_by})
            if password_hash is not None:
                user_id = first_user + i
                token = secrets.token_urlsafe(32)
                rows["u"].append({"id": user_id, "username": f"bench-patient-{patient_id}",
                                  "password_hash": password_hash, "role": "patient",
                                  "full_name": f"Bench patient {patient_id}",
                                  "clinic_id": None, "patient_id": patient_id,
                                  "active": True, "created_at": now})
                rows["t"].append({"user_id": user_id,
                                  "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                                  "created_at": now, "expires_at": now + timedelta(days=7)})
                out.append((copy.task_ids[template.ready[0].id], token))
        for key, target in (("p", patients_t), ("e", episodes_t), ("i", instances_t),
                            ("r", ready_t), ("u", users_t), ("t", tokens_t)):
            if rows[key]:
                session.execute(sa.insert(target), rows[key])
    return out


@dataclass
class Setup:
    tmp: Path
    url: str
    """The database's URL (SQLite or PostgreSQL: fresh_database)."""
    db: Engine
    clock: ManualClock
    engine: PathwayEngine
    engines: Any
    templates: dict[str, Template]
    version_id: int
    clinics: dict[str, int]
    password_hash: str
    physio_password: str


POSTGRES_URL_VARIABLE = "CAREPATH_BENCH_POSTGRES_URL"
BENCH_DATABASE = "carepath_bench"
DATABASES = ("sqlite", "postgres")


def fresh_database(tmp: Path, kind: str) -> str:
    """An empty database's URL: a SQLite file in `tmp`, or on PostgreSQL a database
    `carepath_bench` made anew on the server of CAREPATH_BENCH_POSTGRES_URL (any database
    there; scripts/postgres.sh prints one)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        raise BenchError(f"set {POSTGRES_URL_VARIABLE} to a PostgreSQL URL, e.g. the one "
                         "`bash scripts/postgres.sh start` prints")
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {BENCH_DATABASE}")
    finally:
        server.dispose()
    return sa.make_url(url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


DEFAULT_CLINICS = ("north", *(f"wl{size}" for size in WORKLIST_SIZES))
"""North: the patients who complete tasks; one clinic per worklist size."""
DEFAULT_STAFF = tuple((f"bench-physio-{size}", "physiotherapist", f"wl{size}")
                      for size in WORKLIST_SIZES)


def setup(tmp: Path, kind: str = "sqlite", clinic_keys: Sequence[str] = DEFAULT_CLINICS,
          staff: Sequence[tuple[str, str, str]] = DEFAULT_STAFF) -> Setup:
    """A migrated database of `kind` with the reference pathway deployed, the clinics, and
    the staff (username, role, clinic key), who all share one password."""
    from service.core.context import Context
    from service.core.db import create_db_engine, transaction
    from service.core.settings import Settings
    from service.core.tables import Clinic
    from service.models.bootstrap import prepare
    from service.models.registry import EngineRegistry, active_version
    from service.people.auth import hash_password
    from service.people.schemas import UserCreate
    from service.people.service import add_user

    url = fresh_database(tmp, kind)
    settings = Settings(database_url=url, mode="development", embedded_worker=False)
    clock = ManualClock()
    db = create_db_engine(settings)
    prepare(db, settings, clock)
    engines = EngineRegistry(clock)
    password = secrets.token_urlsafe(12)
    clinics: dict[str, int] = {}
    with transaction(db, write=True) as session:
        version = active_version(session)
        engine = engines.engine_for(version)
        version_id = version.id or 0
        for key in clinic_keys:
            clinic = Clinic(name=f"Bench clinic {key}")
            session.add(clinic)
            session.flush()
            clinics[key] = clinic.id or 0
        for username, role, clinic_key in staff:
            add_user(Context(session, clock, engines), UserCreate(
                username=username, password=password, role=cast(Any, role),
                clinic_id=clinics[clinic_key]))
    templates = build_templates(engine, clock)
    return Setup(tmp, url, db, clock, engine, engines, templates, version_id, clinics,
                 hash_password(secrets.token_urlsafe(12)), password)


# -- the server process


def _server_env(s: Setup, port: int, workers: int, profile: Path | None) -> dict[str, str]:
    env = dict(os.environ, BENCH_DB_URL=s.url, BENCH_CLOCK=s.clock.now().isoformat(),
               BENCH_PORT=str(port), BENCH_WORKERS=str(workers))
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    return env


def make_app() -> Any:
    """The app the server process serves (also uvicorn's factory with several workers), in
    the wrapper that tells each answer's client how long the app took (bench/server_timing)."""
    from service.app import create_app
    from service.core.settings import Settings

    settings = Settings(database_url=os.environ["BENCH_DB_URL"], mode="development",
                        embedded_worker=False)
    clock = ManualClock(datetime.fromisoformat(os.environ["BENCH_CLOCK"]))
    return ServerTiming(create_app(settings, clock))


def serve() -> None:
    """The server process: what `carepath serve` runs, configured from BENCH_* variables."""

    port, workers = int(os.environ["BENCH_PORT"]), int(os.environ["BENCH_WORKERS"])
    profile = os.environ.get("BENCH_PROFILE")
    if workers > 1:  # as `carepath serve --workers N`
        sys.exit(serve_processes("bench.service_setup:make_app", HOST, port, workers))
    app = make_app()
    # uvicorn re-raises the SIGTERM it caught once it has shut down: exit through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()  # the event-loop thread: HTTP, routing, body and response handling
    try:
        serving.serve(app, HOST, port)  # as `carepath serve`
    finally:
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server and its worker processes (Linux /proc)."""
        try:
            tick = os.sysconf("SC_CLK_TCK")
            total = 0
            for pid in _process_tree(self.process.pid):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            return total / tick
        except (OSError, ValueError, IndexError):
            return None


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids += _process_tree(int(child))
    return pids


@contextmanager
def running_server(s: Setup, workers: int = 1, profile: Path | None = None) -> Iterator[Server]:
    port = free_port()
    log = s.tmp / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bench.service_setup"],
                                   cwd=ROOT, env=_server_env(s, port, workers, profile),
                                   stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://{HOST}:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the server did not start:\n{log.read_text()[-2000:]}")
            # Several processes: every one must be serving, or the first takes every client.
            if workers > 1 and "processes are serving" not in log.read_text():
                time.sleep(0.1)
                continue
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    serve()
