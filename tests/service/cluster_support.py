"""A carepath installation as a region runs it, for tests that race, kill and cut it: server
processes (`carepath serve`) and timer workers (`carepath worker`) started as real processes
on a test's database, clients over HTTP, a TCP relay to PostgreSQL that a test can cut, and
what the database holds afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import select

from service.core.db import transaction
from service.core.settings import ROOT
from service.core.tables import Event, Instance, TaskSubmission

from .conftest import PASSWORD, A, World, complete, find_task, free_port, refer

WORKER_INTERVAL = 0.2
"""Seconds between a test worker's sweeps (5 in production)."""


def environment(world: World, database_url: str | None = None,
                **settings: str) -> dict[str, str]:
    """The environment of a carepath process on the world's database (or `database_url`)
    and checkpoint file, sweeping every WORKER_INTERVAL seconds; `settings` adds CAREPATH_*
    variables (database_timeout_seconds="3": CAREPATH_DATABASE_TIMEOUT_SECONDS=3)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(CAREPATH_DATABASE_URL=database_url or world.settings.database_url,
               CAREPATH_MODE="development", CAREPATH_EMBEDDED_WORKER="false",
               CAREPATH_AUDIT_CHECKPOINTS=str(world.settings.checkpoint_file),
               CAREPATH_WORKER_INTERVAL_SECONDS=str(WORKER_INTERVAL))
    env.update({f"CAREPATH_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class Process:
    """A carepath command running as a process of its own, its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, args: list[str], env: dict[str, str], log: Path) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen([sys.executable, "-m", "service.cli", *args], cwd=ROOT,
                                     env=env, stdout=out, stderr=subprocess.STDOUT)
        return cls(popen, log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.popen.poll() is None, self.output()
            assert time.monotonic() < deadline, f"no {text!r} in\n{self.output()}"
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> int:
        """SIGTERM, then its exit status."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            raise


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_processes(pid: int) -> list[int]:
    """The server processes `carepath serve --workers N` (process `pid`) runs."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return [child for child in found
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text()]


def is_gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(FileNotFoundError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


@contextlib.contextmanager
def served(world: World, tmp_path: Path, processes: int, database_url: str | None = None,
           **settings: str) -> Iterator[tuple[str, Process]]:
    """`carepath serve --workers N` on the world's database: yields its address and the
    process; stops it at the end and checks it stopped cleanly."""
    port = free_port()
    server = Process.start(["serve", "--workers", str(processes), "--port", str(port)],
                           environment(world, database_url, **settings),
                           tmp_path / f"serve-{port}.log")
    try:
        server.wait_for(f"all {processes} processes are serving" if processes > 1
                        else f"http://127.0.0.1:{port}/")
        deadline = time.monotonic() + 60
        while processes == 1 and not _answers(f"http://127.0.0.1:{port}"):
            assert server.alive() and time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", server
    finally:
        status = server.stop()
    # One process: uvicorn stops, then ends by the signal it was sent (as it says it did).
    assert status in (0, -signal.SIGTERM), server.output()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def workers(world: World, tmp_path: Path, count: int, database_url: str | None = None,
            **settings: str) -> Iterator[list[Process]]:
    """`count` `carepath worker` processes; stopped at the end."""
    started = [Process.start(["worker"], environment(world, database_url, **settings),
                             tmp_path / f"worker-{n}.log") for n in range(count)]
    try:
        for worker in started:
            worker.wait_for("worker running")
        yield started
    finally:
        for worker in started:
            if worker.alive():
                worker.stop()


def token(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/auth/token", timeout=60,
                          json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access


def client(base: str, access_token: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60,
                        headers={"Authorization": f"Bearer {access_token}"})


def clock_at(world: World, when: datetime) -> None:
    """Move the world's clock to a real time: what it makes then has timers that fall due
    in real time, for the workers' real clocks."""
    world.clock.advance(when - world.clock.now())


def waiting_for_first_visit(world: World, count: int, prefix: str) -> list[int]:
    """Episodes whose patients have answered the safety and intake questions: each waits
    for its first visit, a physiotherapist's task."""
    episodes = []
    for number in range(count):
        patient, episode_id = refer(world, f"{prefix} {number}", f"{prefix}{number}")
        complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
        complete(patient, "intake_questionnaires",
                 {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
        episodes.append(episode_id)
    return episodes


def first_visit_tasks(world: World, episodes: list[int]) -> dict[str, int]:
    """Each episode's first-visit task: {task id: episode id}."""
    physio = world.client("physio")
    return {find_task(physio, "first_visit", episode_id=e)["task_id"]: e for e in episodes}


def exercising(world: World, count: int, prefix: str, due: datetime) -> list[int]:
    """Episodes through their first visit, made so that the first week's exercise timer
    falls due at `due` (real time)."""
    clock_at(world, due - timedelta(days=7))
    episodes = waiting_for_first_visit(world, count, prefix)
    physio = world.client("physio")
    for task_id in first_visit_tasks(world, episodes):
        done = physio.post(f"/api/tasks/{task_id}/complete", json={"data": A["first_visit"]})
        assert done.status_code == 200, done.text
    return episodes


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Snapshot:
    """What the database holds of some episodes: instance versions and the events since a
    point of the log."""

    versions: dict[int, int]
    events: dict[int, list[str]]
    last_event: int

    @classmethod
    def take(cls, world: World, episodes: list[int], since: int = 0) -> Snapshot:
        with transaction(world.db, write=False) as session:
            rows = session.exec(select(Instance).where(
                sa.column("episode_id").in_(episodes))).all()
            logged = session.exec(select(Event.episode_id, Event.name)
                                  .where(Event.id > since)  # type: ignore[operator]
                                  .where(sa.column("episode_id").in_(episodes))
                                  .order_by(Event.id)).all()
            last = session.exec(sa.select(sa.func.max(Event.id))).one()[0] or 0
        events: dict[int, list[str]] = {episode: [] for episode in episodes}
        for episode_id, name in logged:
            events[episode_id].append(name)
        return cls({row.episode_id: row.version for row in rows}, events, last)

    def timers_fired(self, episode_id: int) -> int:
        return self.events[episode_id].count("timer_fired")


def submissions(world: World, task_ids: list[str]) -> dict[str, int | None]:
    """Who completed each task that is done: {task id: user id}."""
    with transaction(world.db, write=False) as session:
        rows = session.exec(select(TaskSubmission).where(
            sa.column("task_id").in_(task_ids))).all()
    return {row.task_id: row.submitted_by for row in rows}


def assert_one_step_each(before: Snapshot, after: Snapshot, episodes: list[int],
                         expected: dict[int, list[str]] | None = None) -> None:
    """Each episode moved exactly one step: its version by one, and its new events are one
    step's (`expected`, or the same for every episode, with one timer fired)."""
    moved = {e: after.versions[e] - before.versions[e] for e in episodes}
    assert set(moved.values()) == {1}, moved
    if expected is not None:
        for episode in episodes:
            assert Counter(after.events[episode]) == Counter(expected[episode]), episode
        return
    steps = {tuple(sorted(after.events[e])) for e in episodes}
    assert len(steps) == 1, after.events
    assert all(after.timers_fired(e) == 1 for e in episodes), after.events


def assert_error_shape(response: httpx.Response, status: int, codes: set[str]) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert error["code"] in codes, error
    assert error["message"][:1].isupper() and len(error["message"]) > 20, error


def assert_no_server_errors(*processes: Process) -> None:
    for process in processes:
        output = process.output()
        assert " 500 " not in output and "Traceback" not in output, output


class Relay:
    """A TCP relay from a local port to PostgreSQL's, which the test can cut (every
    connection through it is closed, and new ones are closed as they arrive, as if the
    server were gone) and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._cut = False
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                incoming, _ = self.listener.accept()
            except OSError:
                return
            if self._cut:
                incoming.close()
                continue
            try:
                outgoing = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                incoming.close()
                continue
            with self._lock:
                self._open += [incoming, outgoing]
            for source, target in ((incoming, outgoing), (outgoing, incoming)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._cut = True
        with self._lock:
            ends, self._open = self._open, []
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self._cut = False

    def close(self) -> None:
        self.listener.close()
        self.cut()


def through(relay: Relay, url: str) -> str:
    """The database URL `url`, reached through the relay."""
    return sa.engine.make_url(url).set(host="127.0.0.1", port=relay.port).render_as_string(
        hide_password=False)


def verified(base: str, auditor_token: str) -> dict[str, Any]:
    with client(base, auditor_token) as auditor:
        result: dict[str, Any] = auditor.get("/api/audit/verify").json()
    return result
