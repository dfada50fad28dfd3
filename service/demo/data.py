"""Demo data: a clinic, users of every role and patients at every stage of the pathway, made by
running the real pathway (service functions, worker sweeps) on a clock moved day by day from
100 days ago up to now, so due dates and overdue tasks are real for the live server."""

from __future__ import annotations

import os
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, func, select

from pathways.clock import ManualClock
from pathways.content import REFERENCE_BUNDLE
from pathways.education import default_catalogue
from pathways.exercises import describe_programme
from service.care.schemas import ExerciseLogCreate
from service.care.service import complete_task
from service.care.worker import sweep
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import NotFoundError, ServiceError
from service.core.settings import ROOT, Settings
from service.core.tables import Clinic, Episode, Event, Patient, ReadyTask, User
from service.demo.plans import (
    ACTIVITIES,
    DELAY_DAYS,
    FLAGS,
    SELF_MANAGEMENT_PLAN,
    STAGES,
    STATIC,
    TOPICS,
    Plan,
    follow_up_answers,
    start_back_answers,
)
from service.models.registry import EngineRegistry
from service.people.schemas import PatientLogin, ReferralCreate, SelfReferralCreate, UserCreate
from service.people.service import add_exercise_log, add_user, refer, self_refer

CLINIC = "Demo Physiotherapy Clinic"
DAYS = 100
STAFF = [("physiotherapist", "physio", "Sara Holm"), ("physiotherapist", "physio2", "Jonas Ek"),
         ("clinic_lead", "lead", "Maria Lund"), ("manager", "manager", "Anders Berg"),
         ("auditor", "auditor", "Karin Sandberg"), ("admin", "admin", "Clinic Administrator")]
FIRST = ["Anna", "Erik", "Lena", "Omar", "Sofia", "Nils", "Ida", "Karl", "Maja", "Ali", "Elsa",
         "Johan", "Noor", "Lars", "Vera", "Hugo", "Alma", "Emil", "Sara", "Leo"]
LAST = ["Berg", "Lind", "Ek", "Holm", "Nystrom", "Dahl", "Ahmed", "Falk", "Wik", "Strand", "Lund",
        "Hassan", "Oberg", "Sjogren", "Nord"]
SHOWN = {2, 3, 6, 7, 10}
"""Patient logins printed (by stage; every login is in the credentials file)."""
PROGRAMME_EVENTS = ("exercise_started", "exercise_level_changed", "exercise_completed")
DIFFICULTIES: list[Literal["too_easy", "about_right", "too_hard"]] = [
    "about_right", "about_right", "about_right", "about_right", "too_easy", "too_hard"]
CASES = REFERENCE_BUNDLE / "cases.yaml"
"""The reference pathway's answers for every form (the demo varies them)."""


class DemoError(ServiceError):
    """The demo cannot be loaded here."""


@dataclass
class DemoPatient:
    plan: Plan
    name: str
    username: str
    password: str
    age: int
    referral: datetime
    baseline: dict[str, Any]
    pain: int
    episode_id: int | None = None
    user: User | None = None
    read: int = 0
    week: int = 0


@dataclass
class DemoResult:
    now: datetime
    """The clock's time when loading ended (real time)."""
    seconds: float
    """How long loading took."""
    credentials: list[tuple[str, str, str, str]]
    """(role, username, password, about) of every demo login."""
    credentials_file: Path


def load_demo_if_empty(db: Engine, settings: Settings, patients: int = 40) -> bool:
    """Load the demo only when there are no patients yet; True when it loaded."""
    refuse_in_production(settings)
    with transaction(db, write=False) as session:
        if session.exec(select(func.count()).select_from(Patient)).one():
            return False
    load_demo(db, settings, patients)
    return True


def load_demo(db: Engine, settings: Settings, patients: int = 40) -> DemoResult:
    """Create the demo clinic, its staff and `patients` patients; print the logins and a
    summary. Every step is a short transaction of its own, as in production."""
    refuse_in_production(settings)
    began = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now - timedelta(days=DAYS))
    loader = _Loader(db, clock, EngineRegistry(clock), random.Random(2026))
    credentials = loader.setup(patients, now)
    path = _write_credentials(settings, credentials)
    ticks = {now - timedelta(days=d) for d in range(DAYS + 1)}
    for moment in sorted(ticks | {p.referral for p in loader.patients}):
        clock.set(moment)
        loader.refer_due()
        sweep(db, clock, loader.engines)
        loader.act()
        if moment in ticks:
            loader.log_exercise()
    clock.set(max(datetime.now(UTC), clock.now()))
    sweep(db, clock, loader.engines)
    result = DemoResult(clock.now(), time.monotonic() - began, credentials, path)
    _print(db, settings, result, patients)
    return result


def refuse_in_production(settings: Settings) -> None:
    if settings.mode == "production":
        raise DemoError("the demo is not loaded in production mode: it creates made-up patients "
                        "and users whose passwords are printed; use a separate development "
                        "database (CAREPATH_MODE=development)")


class _Loader:
    def __init__(self, db: Engine, clock: ManualClock, engines: EngineRegistry,
                 rng: random.Random) -> None:
        self.db, self.clock, self.engines, self.rng = db, clock, engines, rng
        self.exercise_rng = random.Random(rng.random())
        """Exercise logs draw from a generator of their own: logging takes no draws from the
        answers' generator."""
        self.patients: list[DemoPatient] = []
        self.by_episode: dict[int, DemoPatient] = {}
        self.users: dict[str, User] = {}
        self.catalogue = default_catalogue()
        self.answers: dict[str, Any] = yaml.safe_load(CASES.read_text())["answers"]

    def setup(self, count: int, now: datetime) -> list[tuple[str, str, str, str]]:
        self.end, credentials = now, []
        with transaction(self.db, write=True) as session:
            if session.exec(select(Clinic).where(Clinic.name == CLINIC)).first() is not None:
                raise DemoError(f"the demo is already loaded here (the clinic {CLINIC!r} "
                                "exists); use a fresh database to load it again")
            clinic = Clinic(name=CLINIC)
            session.add(clinic)
            session.flush()
            self.clinic_id = clinic.id or 0
            ctx = Context(session, self.clock, self.engines)
            for role, username, full_name in STAFF:
                password = secrets.token_urlsafe(18)
                self.users[username] = add_user(ctx, UserCreate(
                    username=username, password=password, role=role,  # type: ignore[arg-type]
                    full_name=full_name, clinic_id=self.clinic_id
                    if role in ("physiotherapist", "clinic_lead") else None))
                credentials.append((role, username, password, full_name))
        taken: set[str] = set()
        for number in range(count):
            plan = STAGES[number % len(STAGES)]
            first, last = FIRST[number % len(FIRST)], LAST[(number * 7 + number // 15) % len(LAST)]
            username = f"{first}.{last}".lower()
            username = username if username not in taken else f"{username}{number}"
            taken.add(username)
            pain = self.rng.randint(5, 8)
            baseline = {"pain_nrs": pain,
                        "disability": {f"ODI{n}": self.rng.randint(1, 3) for n in range(1, 11)},
                        "pseq": {f"PSEQ{n}": self.rng.randint(2, 4) for n in range(1, 11)},
                        "psfs_activities": {f"PSFS{n}": name for n, name in enumerate(
                            self.rng.sample(ACTIVITIES, 3), 1)},
                        "psfs": {f"PSFS{n}": self.rng.randint(2, 4) for n in range(1, 4)}}
            patient = DemoPatient(plan, f"{first} {last}", username, secrets.token_urlsafe(12),
                                  self.rng.randint(22, 72), now - timedelta(days=plan.ago),
                                  baseline, pain)
            self.patients.append(patient)
            credentials.append(("patient", username, patient.password, plan.stage))
        return credentials

    def refer_due(self) -> None:
        """Referrals whose time has come: patient, login and episode, one transaction each."""
        for patient in self.patients:
            if patient.episode_id is not None or patient.referral > self.clock.now():
                continue
            login = PatientLogin(username=patient.username, password=patient.password)
            year = self.clock.now().year - patient.age
            with transaction(self.db, write=True) as session:
                if len(self.by_episode) % 4 == 3:  # every fourth patient refers themselves
                    episode = self_refer(Context(session, self.clock, self.engines),
                                         SelfReferralCreate(clinic_id=self.clinic_id, login=login,
                                                            display_name=patient.name,
                                                            birth_year=year))
                else:
                    ctx = Context(session, self.clock, self.engines, self.users["physio"])
                    episode = refer(ctx, ReferralCreate(display_name=patient.name,
                                                        birth_year=year, login=login))
                patient.user = session.exec(
                    select(User).where(User.username == patient.username)).one()
            patient.episode_id = episode.id or 0
            self.by_episode[patient.episode_id] = patient

    def act(self) -> None:
        """Complete every open task whose time has come, one transaction per task, until the
        pathway has nothing more for today."""
        while True:
            with transaction(self.db, write=False) as session:
                tasks = [t for t in session.exec(select(ReadyTask)).all() if self._due(t)]
            if not tasks:
                return
            for task in tasks:
                patient = self.by_episode[task.episode_id]
                user = {"patient": patient.user, "clinic_lead": self.users["lead"]}.get(
                    task.role, self.users["physio" if task.episode_id % 2 else "physio2"])
                try:
                    with transaction(self.db, write=True) as session:
                        complete_task(Context(session, self.clock, self.engines, user),
                                      task.task_id, self._answers(task, patient))
                except NotFoundError:  # an earlier step ended the episode or that branch
                    continue

    def log_exercise(self) -> None:
        """Patients in the exercise phase log a session (every exercise of their programme)
        on their plan's share of days, and nothing while idle. One transaction for the day's
        sessions of every patient: the demo's only shortcut, as thousands of one-session
        transactions would make it load noticeably slower."""
        with transaction(self.db, write=True) as session:
            for episode_id, programme in self._programmes(session).items():
                patient = self.by_episode[episode_id]
                idle = self.clock.now() > self.end - timedelta(days=patient.plan.idle)
                if idle or self.exercise_rng.random() >= patient.plan.exercise_days:
                    continue
                ctx = Context(session, self.clock, self.engines, patient.user)
                for item in describe_programme(programme):
                    add_exercise_log(ctx, episode_id, ExerciseLogCreate(
                        exercise=str(item["id"]), level=int(str(item["level"])),
                        pain_nrs=min(patient.pain, 5),
                        difficulty=self.exercise_rng.choice(DIFFICULTIES),
                        sets=item["sets"] if isinstance(item["sets"], int) else None))

    @staticmethod
    def _programmes(session: Session) -> dict[int, list[dict[str, Any]]]:
        """Each active episode in the exercise phase -> its programme now."""
        programmes: dict[int, list[dict[str, Any]]] = {}
        active = set(session.exec(select(Episode.id).where(Episode.status == "active")))
        for episode_id, name, data in session.exec(
                select(Event.episode_id, Event.name, Event.data)
                .where(col(Event.name).in_(PROGRAMME_EVENTS)).order_by(col(Event.id))):
            if name == "exercise_completed":
                active.discard(episode_id)
            elif (data or {}).get("exercise_programme"):
                programmes[episode_id or 0] = data["exercise_programme"]
        return {e: p for e, p in programmes.items() if e in active}

    def _due(self, task: ReadyTask) -> bool:
        patient = self.by_episode[task.episode_id]
        idle = task.role == "patient" and self.clock.now() > self.end - timedelta(
            days=patient.plan.idle)
        if idle or task.name == patient.plan.hold or (
                task.education_module and patient.read >= patient.plan.modules):
            return False
        delay = timedelta(days=DELAY_DAYS.get(task.name, 1))
        return (task.ready_at or self.clock.now()) + delay <= self.clock.now()

    def _answers(self, task: ReadyTask, patient: DemoPatient) -> dict[str, Any]:
        plan, rng, name = patient.plan, self.rng, task.name
        if task.education_module:
            patient.read += 1
            module = self.catalogue.get(task.education_module)
            return {"answers": [q.answer for q in module.check_questions], "confirmed_read": True}
        if name in STATIC:
            return STATIC[name]
        if name == "red_flag_screen":
            flags = dict(self.answers["no_red_flags"], **FLAGS.get(plan.flag, {}))
            return {"age": patient.age, "red_flags": flags}
        if name == "urgent_review" and plan.flag == "urgent_refer":
            return {"red_flag_decision": "refer_out", "referred_to": "Same-day medical review"}
        if name == "urgent_review":
            return {"red_flag_decision": "clear", "note": "Cancer 12 years ago; mechanical pain."}
        if name == "intake_questionnaires":
            return {"start_back": start_back_answers(plan.stratum, rng), "proms": patient.baseline}
        if name == "first_visit":
            return dict(self.answers["first_visit"], findings={
                key: rng.random() < 0.3 for key in self.answers["first_visit"]["findings"]})
        if name == "weekly_check_in":
            patient.week += 1
            if patient.week == plan.flare_week:
                patient.pain = min(10, patient.pain + 2)
                return self._week(2, patient.pain, pain_during=7, settled=False)
            step = rng.choice([0, 1, 1]) if plan.review is None else rng.choice([-1, 0, 0, 1])
            patient.pain = max(0, min(10, patient.pain - step))
            return self._week(rng.choice([3, 3, 3, 2] if plan.review is None else [1, 2, 3]),
                              patient.pain, pain_during=min(5, patient.pain), settled=True)
        if name == "pi_session":
            return {"session_topics": rng.sample(TOPICS, 2), "treatments": ["education"]}
        if name.startswith(("follow_up", "registry")):
            return {"proms": follow_up_answers(patient.baseline, plan.review is None, rng),
                    "red_flags": self.answers["no_new_flags"]}
        if name == "combined_programme_goals":
            return {"goals": ["Walk to the shops and back", "Sit through a film"],
                    "confidence": 6}
        if name == "combined_programme_session":
            return {"session_topics": ["graded_exercise", "fear"],
                    "goals_progress": "some_progress", "treatments": ["exercise"]}
        if name == "specialist_answer":
            return {"specialist_seen": True, "specialist_outcome": "back_to_physiotherapy"}
        if name == "not_improving_review":
            return {"escalation_decision": plan.review or "continue"}
        if name == "discharge":
            return {"discharge_outcome": "improved" if plan.review is None else "unchanged",
                    "self_management_plan": SELF_MANAGEMENT_PLAN}
        raise DemoError(f"the demo has no answers for the task {name!r}")

    def _week(self, sessions: int, pain: int, pain_during: int,
              settled: bool) -> dict[str, Any]:
        return {"sessions_done": sessions, "week_pain_nrs": pain, "pain_during": pain_during,
                "pain_settled": settled, "painful_exercises": [], "too_hard_exercises": [],
                "red_flags": self.answers["no_new_flags"]}


def credentials_path(settings: Settings) -> Path:
    """`demo-credentials.txt` beside the SQLite database (in `var/` for other databases)."""
    database = make_url(settings.database_url).database if settings.is_sqlite else None
    folder = Path(database).resolve().parent if database and database != ":memory:" else None
    return (folder or ROOT / "var") / "demo-credentials.txt"


def _write_credentials(settings: Settings, rows: list[tuple[str, str, str, str]]) -> Path:
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)  # also when the file was there before
    with os.fdopen(descriptor, "w") as file:
        file.write(f"# carepath demo logins ({CLINIC}); keep this file private\n")
        file.write(_table(rows))
    return path


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = [("role", "username", "password", "about"), *rows]
    return "".join(f"{r:<16} {u:<16} {p:<26} {a}\n" for r, u, p, a in lines)


def _print(db: Engine, settings: Settings, result: DemoResult, patients: int) -> None:
    strata, statuses, open_tasks, overdue = (Counter[str]() for _ in range(4))
    with transaction(db, write=False) as session:
        for stratum, status in session.exec(select(Episode.stratum, Episode.status)).all():
            strata[stratum or "not stratified yet"] += 1
            statuses[status] += 1
        for role, due_at in session.exec(select(ReadyTask.role, col(ReadyTask.due_at))).all():
            open_tasks[role] += 1
            overdue[role] += due_at is not None and due_at < result.now

    def counts(counter: Counter[str]) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(counter.items()) if value)

    rows = result.credentials
    shown = [row for row in rows if row[0] != "patient"] + [
        row for number, row in enumerate(r for r in rows if r[0] == "patient") if number in SHOWN]
    print(f"Demo logins, shown once (all {len(rows)}, every patient included, are in "
          f"{result.credentials_file}):\n\n{_table(shown)}")
    print(f"loaded {patients} patients into {CLINIC!r} in {result.seconds:.1f} s, moving the "
          f"clock {DAYS} days up to now")
    print(f"patients per stratum: {counts(strata)}")
    print(f"episodes: {counts(statuses)}")
    print(f"open tasks per role: {counts(open_tasks)}")
    print(f"overdue tasks: {sum(overdue.values())} ({counts(overdue) or 'none'})")
    print(f"log in at /login on the server (`carepath serve`: http://{settings.host}:"
          f"{settings.port}/login by default)")
