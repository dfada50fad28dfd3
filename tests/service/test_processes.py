"""Several server processes on one database: SQLite writers from different processes queue
on the lock file and lose nothing; `carepath serve --workers 2` serves from two processes,
completes a task raced from both once, and stops them both.

These run on a SQLite file of their own whatever CAREPATH_TEST_DATABASE says: the lock file is
SQLite's (PostgreSQL locks rows itself)."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from pathways.clock import SystemClock
from service.core.context import Context
from service.core.db import create_db_engine, transaction
from service.core.settings import ROOT, Settings
from service.core.tables import Clinic, Event, Instance, TaskSubmission
from service.models.bootstrap import prepare
from service.models.registry import EngineRegistry
from service.people.schemas import UserCreate
from service.people.service import add_user

from .conftest import PASSWORD, A, find_task
from .test_races import assert_one_winner, at_the_same_moment

WRITES_PER_PROCESS = 150


def _add_one_at_a_time(url: str, count: int) -> None:
    """Read the counter, then write it back plus one: a lost update shows in the total."""
    db = create_db_engine(Settings(database_url=url, mode="development"))
    for _ in range(count):
        with transaction(db, write=True) as session:
            value = session.execute(sa.text("SELECT n FROM counter")).scalar_one()
            session.execute(sa.text("UPDATE counter SET n = :n"), {"n": value + 1})


def test_writers_in_two_processes_queue_and_lose_no_update(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    db = create_db_engine(Settings(database_url=url, mode="development"))
    with transaction(db, write=True) as session:
        session.execute(sa.text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(sa.text("INSERT INTO counter VALUES (0)"))
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_add_one_at_a_time, args=(url, WRITES_PER_PROCESS))
               for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0], "a writer failed (database locked?)"
    with transaction(db, write=False) as session:
        total = session.execute(sa.text("SELECT n FROM counter")).scalar_one()
    assert total == 2 * WRITES_PER_PROCESS
    assert (tmp_path / "shared.sqlite3-writer.lock").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@contextmanager
def _served(tmp_path: Path, url: str) -> Iterator[tuple[str, list[int]]]:
    """`carepath serve --workers 2` on `url` with its default settings (requests' work on
    each process's event loop on SQLite): yields its address and the two processes' pids;
    stops it at the end and checks that both processes stopped."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(CAREPATH_DATABASE_URL=url, CAREPATH_MODE="development",
               CAREPATH_EMBEDDED_WORKER="false",
               CAREPATH_AUDIT_CHECKPOINTS=str(tmp_path / "checkpoints.jsonl"))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port",
             str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "all 2 processes are serving" not in log.read_text():
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        workers = [pid for pid in _children(server.pid)
                   if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) == 2, workers
        assert f"log in at http://127.0.0.1:{port}/login" in log.read_text()
        yield f"http://127.0.0.1:{port}", workers
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_serve_with_two_workers_serves_from_both_and_stops_both(tmp_path: Path) -> None:
    with _served(tmp_path, f"sqlite:///{tmp_path / 'served.sqlite3'}") as (url, _workers):
        # Kept-alive clients, as browsers and the API clients are: each connection is served.
        clients = [httpx.Client(base_url=url) for _ in range(8)]
        try:
            for client in clients:
                assert client.get("/api/clinics").status_code == 200
        finally:
            for client in clients:
                client.close()
    # Each process logs its requests, one line each (service.core.request_log).
    lines = re.findall(r"GET /api/clinics 200 \d+\.\d ms",
                       (tmp_path / "serve.log").read_text())
    assert len(lines) == 8, (tmp_path / "serve.log").read_text()


def test_two_processes_racing_to_complete_one_task_complete_it_once(tmp_path: Path) -> None:
    """The embedded set-up at its busiest: two server processes on one SQLite file, each
    running requests' work on its event loop. Eight connections (spread over both by the
    kernel) submit the same red-flag screen at once: one wins, seven are told it was done
    already, and the episode moved exactly one step."""
    url = f"sqlite:///{tmp_path / 'raced.sqlite3'}"
    _clinic_with_a_physiotherapist(url)
    with _served(tmp_path, url) as (base, _workers):
        physio = _logged_in(base, "physio")
        referred = physio.post("/api/referrals", json={
            "display_name": "Rita Race", "login": {"username": "rita", "password": PASSWORD}})
        assert referred.status_code == 201, referred.text
        episode_id = referred.json()["id"]
        patient = _logged_in(base, "rita")
        task = find_task(patient, "red_flag_screen")
        racers = [httpx.Client(base_url=base, timeout=60, headers=patient.headers)
                  for _ in range(8)]
        try:
            for racer in racers:  # open every connection first
                assert racer.get("/api/tasks").status_code == 200
            answers = {"data": {"age": 45, "red_flags": A["no_red_flags"]}}
            responses = at_the_same_moment(*[
                partial(racer.post, f"/api/tasks/{task['task_id']}/complete", json=answers)
                for racer in racers])
        finally:
            for client in (*racers, physio, patient):
                client.close()
    assert_one_winner(responses)
    db = create_db_engine(Settings(database_url=url, mode="development"))
    with transaction(db, write=False) as session:
        assert session.get(TaskSubmission, task["task_id"]) is not None
        completed = session.exec(select(Event).where(
            Event.episode_id == episode_id, Event.name == "task_completed")).all()
        assert [event.element for event in completed] == ["red_flag_screen"]
        instance = session.exec(select(Instance).where(Instance.episode_id == episode_id)).one()
        assert instance.version == 2  # started, then one step


def _clinic_with_a_physiotherapist(url: str) -> None:
    settings, clock = Settings(database_url=url, mode="development"), SystemClock()
    db = create_db_engine(settings)
    prepare(db, settings, clock)
    with transaction(db, write=True) as session:
        clinic = Clinic(name="Race Physio")
        session.add(clinic)
        session.flush()
        add_user(Context(session, clock, EngineRegistry(clock)), UserCreate(
            username="physio", password=PASSWORD, role="physiotherapist", clinic_id=clinic.id))
    db.dispose()


def _logged_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def test_a_write_that_fails_half_way_lets_the_next_writer_in(tmp_path: Path) -> None:
    """The write lock is taken by a transaction's first statement and given back when it
    ends, however it ends: an error half-way must not leave the database locked."""

    db = create_db_engine(Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                                   mode="development"))
    with transaction(db, write=True) as session:
        session.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    with pytest.raises(RuntimeError), transaction(db, write=True) as session:
        session.execute(sa.text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("the service function failed")

    def write() -> None:
        with transaction(db, write=True) as session:
            session.execute(sa.text("INSERT INTO t VALUES (2)"))

    other = threading.Thread(target=write, daemon=True)
    other.start()
    other.join(timeout=30)
    assert not other.is_alive(), "the failed transaction kept the write lock"
    with transaction(db, write=False) as session:
        assert session.execute(sa.text("SELECT n FROM t")).scalars().all() == [2]


@contextmanager
def _login_checking_its_password(world: Any, monkeypatch: pytest.MonkeyPatch,
                                 username: str) -> Iterator[dict[str, int]]:
    """A login (POST /api/auth/token) on a thread of its own, held inside argon2's password
    check until the block ends; then yields {"login": its status}."""
    from service.people import auth

    from .conftest import PASSWORD

    checking, may_finish = threading.Event(), threading.Event()
    real_verify = auth._verify

    def slow_verify(password_hash: str, password: str) -> bool:
        checking.set()
        assert may_finish.wait(timeout=30)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "_verify", slow_verify)
    answers: dict[str, int] = {}
    login = threading.Thread(target=lambda: answers.update(login=world.client().post(
        "/api/auth/token", json={"username": username, "password": PASSWORD}).status_code),
        daemon=True)
    login.start()
    assert checking.wait(timeout=30)
    try:
        yield answers
    finally:
        may_finish.set()
        login.join(timeout=30)


def test_checking_a_password_holds_no_write_lock(world: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 is slow on purpose (a third of a second here in production settings): a login
    must not keep every other writer waiting while it checks the password."""
    from service.core.tables import Clinic

    def write() -> None:
        with transaction(world.db, write=True) as session:
            session.add(Clinic(name="Opened during a login"))

    with _login_checking_its_password(world, monkeypatch, "physio") as answers:
        other = threading.Thread(target=write, daemon=True)
        other.start()
        other.join(timeout=30)
        blocked = other.is_alive()
    assert not blocked, "the login held the write lock while checking the password"
    assert answers == {"login": 200}


@pytest.mark.parametrize("threads", [0, 1])
def test_a_slow_login_does_not_hold_up_other_requests(world: Any, threads: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests' work runs on few threads (settings.threads), or with 0 on the event loop; a
    login, which spends a third of a second in argon2, runs on threads of its own. Here
    with one thread for requests, or none: a physiotherapist's task list answers while a
    login is still checking its password."""
    physio = world.client("physio")
    monkeypatch.setattr(world.app.state.settings, "threads", threads)
    with _login_checking_its_password(world, monkeypatch, "lead") as answers:
        tasks = threading.Thread(
            target=lambda: answers.update(tasks=physio.get("/api/tasks").status_code),
            daemon=True)
        tasks.start()
        tasks.join(timeout=30)
        held_up = tasks.is_alive()
    tasks.join(timeout=30)
    assert not held_up, "the task list waited for a login's password check"
    assert answers == {"login": 200, "tasks": 200}


@pytest.mark.parametrize(("url", "threads", "expected"), [
    ("sqlite:///var/x.sqlite3", None, 0),
    ("postgresql+psycopg://u@h/db", None, 4),
    ("sqlite:///var/x.sqlite3", 3, 3),
])
def test_requests_run_on_the_event_loop_on_sqlite(url: str, threads: int | None,
                                                  expected: int) -> None:
    """SQLite writes one transaction at a time: its work runs on the event loop, with no
    hand-over to a thread; PostgreSQL's statements wait on the network. CAREPATH_THREADS
    overrides either."""
    assert Settings(database_url=url, threads=threads).unit_threads == expected


def test_the_write_ahead_log_is_copied_back_by_a_background_thread(tmp_path: Path) -> None:
    """The server checkpoints SQLite's log on its own thread: no commit (holding the write
    lock) pays for it, and the log does not grow without end."""
    from service.core.db import checkpoint_wal

    path = tmp_path / "wal.sqlite3"
    db = create_db_engine(Settings(database_url=f"sqlite:///{path}", mode="development"))
    with transaction(db, write=True) as session:
        session.execute(sa.text("CREATE TABLE t (n INTEGER, filler TEXT)"))
    stop = threading.Event()
    thread = checkpoint_wal(db, stop, interval_seconds=0.05)
    try:
        with transaction(db, write=False) as session:
            assert session.execute(sa.text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
        size = path.stat().st_size
        for batch in range(20):
            with transaction(db, write=True) as session:
                session.execute(sa.text("INSERT INTO t VALUES (:n, :f)"),
                                [{"n": batch * 100 + i, "f": "x" * 500} for i in range(100)])
        deadline = time.monotonic() + 20
        while path.stat().st_size <= size:  # the rows reach the database file itself
            assert time.monotonic() < deadline, "nothing was checkpointed"
            time.sleep(0.05)
    finally:
        stop.set()
        assert thread is not None
        thread.join(timeout=10)


def test_young_objects_are_collected_less_often_while_serving(tmp_path: Path) -> None:
    """An engine step makes many short-lived objects: while the app serves, the youngest
    generation is collected every GC_YOUNG_THRESHOLD allocations; afterwards as before."""
    import gc

    from fastapi.testclient import TestClient

    from service.app import GC_YOUNG_THRESHOLD, create_app

    before = gc.get_threshold()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'gc.sqlite3'}",
                              mode="development", embedded_worker=False))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


@pytest.mark.parametrize("count", ["0", "65", "two"])
def test_serve_says_how_many_processes_it_can_run(count: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", count])
    assert stopped.value.code == 2
    assert "is not a number of processes from 1 to 64" in capsys.readouterr().err
