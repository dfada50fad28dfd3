"""Service fixtures: a fresh, migrated database per test (SQLite by default, PostgreSQL when
CAREPATH_TEST_DATABASE=postgres), a clinic with a user of every role, and API clients.

A test that needs PostgreSQL or a live server never skips silently in CI: with
CAREPATH_REQUIRE_SERVICES=1 (set by .ci/run) a missing server fails the test."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, func, select

from pathways.clock import ManualClock
from service.app import create_app
from service.cli import main
from service.core.context import Context
from service.core.db import create_db_engine, transaction
from service.core.settings import Settings, get_settings
from service.core.tables import Clinic, Patient
from service.models.bootstrap import prepare
from service.models.registry import EngineRegistry
from service.people import auth
from service.people.schemas import UserCreate
from service.people.service import add_user

PASSWORD = "correct-horse-battery"
REQUIRE = os.environ.get("CAREPATH_REQUIRE_SERVICES") == "1"
SERVICE_HASHER = auth._hasher
"""The service's own argon2 parameters (checked in test_sessions)."""


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> Iterator[None]:
    """Argon2 at full strength costs about 0.3 s a hash on a small machine, and these tests log
    in hundreds of times: use the same algorithm with the smallest cost while testing."""
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = SERVICE_HASHER


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if REQUIRE:
        pytest.fail(f"{reason} (CAREPATH_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


def database_url() -> str:
    if os.environ.get("CAREPATH_TEST_DATABASE", "sqlite") == "postgres":
        url = os.environ.get("CAREPATH_TEST_POSTGRES_URL")
        if not url:
            unavailable("CAREPATH_TEST_POSTGRES_URL is not set")
        return url or ""
    path = Path(tempfile.mkdtemp(prefix="carepath-test-")) / "test.sqlite3"
    return f"sqlite:///{path}"


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    except sa.exc.OperationalError as err:
        unavailable(f"PostgreSQL is not reachable: {err.orig}")
    finally:
        engine.dispose()


@dataclass
class World:
    """A migrated database with two clinics and users of every role."""

    settings: Settings
    clock: ManualClock
    db: Engine
    app: FastAPI
    users: dict[str, int] = field(default_factory=dict)
    clinics: dict[str, int] = field(default_factory=dict)

    def sweep(self) -> int:
        """What the timer worker does: fire every due timer."""
        from service.care.worker import sweep

        return sweep(self.db, self.clock, self.app.state.engines)

    def client(self, username: str | None = None) -> TestClient:
        """An API client, logged in as `username` with a bearer token. A server error
        comes back as a 500 answer (tests assert on it) rather than as an exception."""
        client = TestClient(self.app, raise_server_exceptions=False)
        if username is not None:
            response = client.post("/api/auth/token",
                                   json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    def add_user(self, username: str, role: str = "physiotherapist",
                 clinic: str | None = "north") -> int:
        """Another member of staff, as an admin would create them."""
        with transaction(self.db, write=True) as session:
            user = add_user(Context(session, self.clock, EngineRegistry(self.clock)),
                            UserCreate(username=username, password=PASSWORD,
                                       role=role,  # type: ignore[arg-type]
                                       clinic_id=self.clinics[clinic] if clinic else None))
            self.users[username] = user.id or 0
        return self.users[username]

    def count(self, table: type[SQLModel], **where: Any) -> int:
        """Rows of a table, optionally only those with these column values."""
        with transaction(self.db, write=False) as session:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(getattr(table, column) == value)
            counted: int = session.exec(query).one()
        return counted

    def add_patient(self, name: str, clinic: str = "north", username: str | None = None) -> int:
        with transaction(self.db, write=True) as session:
            patient = Patient(clinic_id=self.clinics[clinic], display_name=name,
                              created_at=self.clock.now())
            session.add(patient)
            session.flush()
            patient_id = patient.id or 0
            if username:
                user = add_user(Context(session, self.clock, EngineRegistry(self.clock)),
                                UserCreate(username=username, password=PASSWORD,
                                           role="patient", patient_id=patient_id))
                self.users[username] = user.id or 0
        return patient_id


@contextmanager
def make_world() -> Iterator[World]:
    """A fresh, migrated database with two clinics (north, south) and a user of every role."""
    url = database_url()
    if url.startswith("postgresql"):
        _reset_postgres(url)
    # Requests' work runs as in production: on SQLite on the event loop (each TestClient
    # request has a loop of its own, so requests from several threads still overlap); the
    # live server gives it threads (see live_server).
    # What-if runs of at most 40 patients: a generated request (schemathesis) starts no long
    # run. The log's checkpoints in a file of this world's own (PostgreSQL's default, under var/,
    # would outlive the database each test makes afresh).
    checkpoints = Path(tempfile.mkdtemp(prefix="carepath-test-")) / "checkpoints.jsonl"
    settings = Settings(database_url=url, mode="development", embedded_worker=False,
                        login_attempts_per_window=5, audit_checkpoints=checkpoints,
                        whatif_max_patients=40)
    clock = ManualClock()
    db = create_db_engine(settings)
    prepare(db, settings, clock)
    world = World(settings, clock, db, create_app(settings, clock, db))
    with transaction(db, write=True) as session:
        for name in ("north", "south"):
            clinic = Clinic(name=f"{name.title()} Physio")
            session.add(clinic)
            session.flush()
            world.clinics[name] = clinic.id or 0
        ctx = Context(session, clock, EngineRegistry(clock))
        for username, role, clinic_name in [
            ("physio", "physiotherapist", "north"), ("physio2", "physiotherapist", "north"),
            ("lead", "clinic_lead", "north"), ("southphysio", "physiotherapist", "south"),
            ("manager", "manager", None), ("auditor", "auditor", None), ("admin", "admin", None),
        ]:
            user = add_user(ctx, UserCreate(
                username=username, password=PASSWORD, role=role,  # type: ignore[arg-type]
                clinic_id=world.clinics[clinic_name] if clinic_name else None))
            world.users[username] = user.id or 0
    try:
        yield world
    finally:
        db.dispose()


@pytest.fixture
def world() -> Iterator[World]:
    with make_world() as made:
        yield made


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def carepath(world: World, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> Run:
    """`carepath model ARGS` against the world's database: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CAREPATH_DATABASE_URL", world.settings.database_url)
        get_settings.cache_clear()
        try:
            code = main(["model", *argv])
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def settle(self, timeout: float = 30) -> None:
        """Wait until the server has finished every request it started, including work
        FastAPI does after sending the response (see test_races: the commit of the
        request's transaction currently happens then)."""
        deadline = time.monotonic() + timeout
        while self.server.server_state.tasks:
            assert time.monotonic() < deadline, "the live server did not settle"
            time.sleep(0.002)


@pytest.fixture
def live_server(world: World) -> Iterator[LiveServer]:
    """The app served by uvicorn on loopback, for tests with real concurrent requests. Its
    work runs on 8 threads (SQLite's default runs it on the one event loop, which would
    queue the requests), so the race tests race inside one process too."""
    world.settings.threads = 8
    port = free_port()
    config = uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning",
                            workers=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            unavailable("the live server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    server.should_exit = True
    thread.join(timeout=10)


def answers() -> dict[str, Any]:
    import yaml

    path = Path(__file__).resolve().parents[2] / "bpmn" / "betterback" / "cases.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())["answers"]
    return loaded


A = answers()


def follow_up_answers(proms: str) -> dict[str, Any]:
    """A follow-up questionnaire: the named PROM answers of cases.yaml, and no new flags."""
    return {"proms": A[proms], "red_flags": A["no_new_flags"]}


def week(sessions: int, pain: int, *, pain_during: int = 3, settled: bool = True,
         painful: tuple[str, ...] = (), too_hard: tuple[str, ...] = ()) -> dict[str, Any]:
    """A weekly check-in: sessions, pain this week, pain during the exercises and whether it
    settled by the morning, which exercises brought it on or felt too hard, no new flags."""
    return {"sessions_done": sessions, "week_pain_nrs": pain, "pain_during": pain_during,
            "pain_settled": settled, "painful_exercises": list(painful),
            "too_hard_exercises": list(too_hard), "red_flags": A["no_new_flags"]}


def find_task(client: Any, name: str, **params: Any) -> dict[str, Any]:
    """The caller's open task called `name` (from their worklist)."""
    body = client.get("/api/tasks", params=params).json()
    assert "data" in body, body
    found = [t for t in body["data"] if t["name"] == name]
    assert found, f"{name} not in {[t['name'] for t in body['data']]}"
    task: dict[str, Any] = found[0]
    return task


def complete(client: Any, name: str, data: dict[str, Any]) -> dict[str, Any]:
    task = find_task(client, name)
    response = client.post(f"/api/tasks/{task['task_id']}/complete", json={"data": data})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refer(world: World, name: str, username: str,
          clinician: str = "physio") -> tuple[TestClient, int]:
    """A clinician refers a patient with a login; returns the patient's client and episode."""
    response = world.client(clinician).post("/api/referrals", json={
        "display_name": name, "birth_year": 1980,
        "login": {"username": username, "password": PASSWORD}})
    assert response.status_code == 201, response.text
    return world.client(username), response.json()["id"]


def through_first_visit(world: World, patient: TestClient, start_back: str,
                        clinician: str = "physio") -> None:
    """Safety questions, intake questionnaires and the first visit: care has started."""
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A[start_back], "proms": A["baseline_proms"]})
    complete(world.client(clinician), "first_visit", A["first_visit"])


def education_answers(module_id: str) -> dict[str, Any]:
    """The right answers to a module's check questions, as the read_module form takes them."""
    from pathways.education import default_catalogue

    module = default_catalogue().get(module_id)
    return {"answers": [q.answer for q in module.check_questions], "confirmed_read": True}


def page_login(world: World, username: str) -> TestClient:
    """A browser: opens the login page (its form carries the token of the cookie it sets),
    logs in through the form and keeps the session cookie."""
    client = TestClient(world.app, raise_server_exceptions=False)
    token = soup(client.get("/login")).find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def soup(response: Any) -> Any:
    """A page, parsed."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(response.text, "html.parser")
