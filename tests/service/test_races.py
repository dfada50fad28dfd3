"""Races against a live server: clinicians completing the same task at the same moment, a
patient double-submitting, and the timer worker firing while a patient completes a task.

Every request here goes through uvicorn on loopback with its own connection, so the
database sees real concurrent transactions: SQLite by default, PostgreSQL with
CAREPATH_TEST_DATABASE=postgres."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlmodel import select

from service.core.db import transaction
from service.core.tables import Episode, Event, Instance, ReadyTask, TaskSubmission

from . import conftest
from .conftest import (
    PASSWORD,
    A,
    LiveServer,
    World,
    complete,
    education_answers,
    find_task,
    refer,
)

T = TypeVar("T")
POSTGRES = os.environ.get("CAREPATH_TEST_DATABASE") == "postgres"
ALREADY_DONE = re.compile(r"this task is already done", re.IGNORECASE)


def login(live: LiveServer, username: str, settled: bool = True) -> httpx.Client:
    """A client logged in over HTTP. A settled client waits, after each answer, until the
    server has finished the request: FastAPI commits the request's transaction only after
    sending the answer (test_a_success_answer_is_sent_only_once_the_change_is_saved), and
    these tests check what was saved, not when."""
    hooks = {"response": [lambda _: live.settle()]} if settled else {}
    client = httpx.Client(base_url=live.url, timeout=60, event_hooks=hooks)
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


@pytest.fixture
def clients(live_server: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    """Log in over HTTP; every client is closed at the end of the test."""
    opened: list[httpx.Client] = []

    def open_as(username: str) -> httpx.Client:
        opened.append(login(live_server, username))
        return opened[-1]

    yield open_as
    for client in opened:
        client.close()


def at_the_same_moment(*calls: Callable[[], T]) -> list[T]:
    """Run the calls on their own threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=120) for future in futures]


def instance_version(world: World, episode_id: int) -> int:
    with transaction(world.db, write=False) as session:
        row = session.exec(select(Instance).where(Instance.episode_id == episode_id)).one()
        return row.version


def measure_one_step(world: World, episode_id: int, step: Callable[[], object]) -> int:
    """How far one uncontended step moves the instance's version (it should be 1: see
    test_one_step_advances_the_instance_version_by_exactly_one)."""
    before = instance_version(world, episode_id)
    step()
    moved = instance_version(world, episode_id) - before
    assert moved >= 1
    return moved


def first_steps(world: World, patient: Any, episode_id: int, start_back: str) -> int:
    """Safety questions, intake and first visit; returns the version change of one step."""
    step = measure_one_step(world, episode_id, partial(
        complete, patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]}))
    complete(patient, "intake_questionnaires",
             {"start_back": A[start_back], "proms": A["baseline_proms"]})
    complete(world.client("physio"), "first_visit", A["first_visit"])
    return step


def events(world: World, episode_id: int, name: str, element: str | None = None) -> int:
    with transaction(world.db, write=False) as session:
        query = select(Event).where(Event.episode_id == episode_id, Event.name == name)
        if element is not None:
            query = query.where(Event.element == element)
        return len(session.exec(query).all())


def assert_the_log_verifies(auditor: httpx.Client) -> None:
    verified = auditor.get("/api/audit/verify").json()
    assert verified["ok"] is True, verified


def assert_one_winner(responses: list[httpx.Response]) -> httpx.Response:
    """Exactly one 200; every other caller is told it was already done."""
    assert not [r for r in responses if r.status_code >= 500], [r.text for r in responses]
    winners = [r for r in responses if r.status_code == 200]
    losers = [r for r in responses if r.status_code != 200]
    assert len(winners) == 1, [(r.status_code, r.text) for r in responses]
    for loser in losers:
        assert loser.status_code == 409, loser.text
        error = loser.json()["error"]
        assert error["code"] == "task_already_done", error
        assert ALREADY_DONE.search(error["message"]), error
    return winners[0]


@pytest.mark.parametrize("clinicians", [2, 8], ids=lambda n: f"{n}_clinicians")
def test_clinicians_racing_to_record_the_same_first_visit_record_it_once(
        world: World, clients: Callable[[str], httpx.Client], clinicians: int) -> None:
    patient, episode_id = refer(world, "Ines", "ines")
    step = measure_one_step(world, episode_id, partial(
        complete, patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]}))
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task_id = find_task(world.client("physio"), "first_visit")["task_id"]
    names = [f"racer{n}" for n in range(clinicians)]
    for name in names:
        world.add_user(name)
    racers = [clients(name) for name in names]
    version = instance_version(world, episode_id)

    responses = at_the_same_moment(*[
        partial(racer.post, f"/api/tasks/{task_id}/complete", json={"data": A["first_visit"]})
        for racer in racers])

    winner = assert_one_winner(responses)
    assert "first_visit_recorded" in winner.json()["events"]
    timeline = racers[0].get(f"/api/episodes/{episode_id}/timeline").json()["data"]
    assert [e["name"] for e in timeline].count("first_visit_recorded") == 1
    assert [(e["name"], e["element"]) for e in timeline].count(
        ("task_completed", "first_visit")) == 1
    with transaction(world.db, write=False) as session:
        submissions = session.exec(select(TaskSubmission).where(
            TaskSubmission.task_id == task_id)).all()
    assert len(submissions) == 1
    who = submissions[0].submitted_by
    assert who in {world.users[name] for name in names}
    assert instance_version(world, episode_id) == version + step
    assert_the_log_verifies(clients("auditor"))


def _read(patient: httpx.Client, episode_id: int) -> dict[str, Any]:
    education: dict[str, Any] = patient.get(f"/api/episodes/{episode_id}/education").json()
    return education


def while_the_episode_is_busy(world: World, live: LiveServer, episode_id: int,
                              *calls: Callable[[], T]) -> list[T]:
    """Start the calls while another transaction holds the episode's instance (as the timer
    worker does while it fires a timer), and let it go once every call is waiting for it."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        with transaction(world.db, write=True) as session:
            held = session.exec(select(Instance).where(Instance.episode_id == episode_id)
                                .with_for_update()).first()  # SQLite: the write lock
            assert held is not None
            futures = [pool.submit(call) for call in calls]
            deadline = time.monotonic() + 30
            while len(live.server.server_state.tasks) < len(calls) or not _all_waiting(
                    session, len(calls)):
                assert time.monotonic() < deadline, "the requests never reached the database"
                time.sleep(0.01)
        return [future.result(timeout=120) for future in futures]


def _all_waiting(session: Any, count: int) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        waiting: int = session.exec(sa.text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted")).one()[0]
        return waiting >= count
    time.sleep(0.3)  # SQLite: they queue for the write lock at their first write, unseen
    return True


def test_a_patient_who_double_submits_the_last_education_module_reads_it_once(
        world: World, live_server: LiveServer, clients: Callable[[str], httpx.Client]) -> None:
    """The last module ends the education track. Both submissions arrive while the episode
    is busy: one reads the module, the other is told it was already done."""
    patient_client, episode_id = refer(world, "Jon", "jon")
    step = first_steps(world, patient_client, episode_id, "low_start_back")
    patient = clients("jon")
    education = _read(patient, episode_id)
    while len(education["read"]) < len(education["assigned"]) - 1:
        task = patient.get(f"/api/tasks/{education['next_task_id']}").json()
        done = patient.post(f"/api/tasks/{task['task_id']}/complete",
                            json={"data": education_answers(task["education_module"])})
        assert done.status_code == 200, done.text
        education = _read(patient, episode_id)
    task = patient.get(f"/api/tasks/{education['next_task_id']}").json()
    second_tab = clients("jon")
    version = instance_version(world, episode_id)
    url, body = f"/api/tasks/{task['task_id']}/complete", {
        "data": education_answers(task["education_module"])}

    responses = while_the_episode_is_busy(world, live_server, episode_id,
                                          partial(patient.post, url, json=body),
                                          partial(second_tab.post, url, json=body))

    assert_one_winner(responses)
    assert events(world, episode_id, "education_completed") == len(education["assigned"])
    assert _read(patient, episode_id)["next_task_id"] is None
    assert instance_version(world, episode_id) == version + step
    assert_the_log_verifies(clients("auditor"))


def test_the_timer_worker_and_a_patient_completing_a_task_lose_and_double_no_step(
        world: World, clients: Callable[[str], httpx.Client]) -> None:
    """Each week the exercise timer falls due just as the patient confirms an education
    module: both steps happen, each exactly once, whoever gets the episode first."""
    patient_client, episode_id = refer(world, "Kim", "kim")
    step = first_steps(world, patient_client, episode_id, "medium_start_back")
    for week in range(1, 4):
        world.clock.advance(timedelta(days=7))
        patient = clients("kim")  # a week later: log in again
        reading = find_task(patient, "read_module")
        version = instance_version(world, episode_id)
        timers = events(world, episode_id, "timer_fired", "exercise_week")
        read = events(world, episode_id, "education_completed")

        swept, response = at_the_same_moment(
            world.sweep,
            partial(patient.post, f"/api/tasks/{reading['task_id']}/complete",
                    json={"data": education_answers(reading["education_module"])}))

        assert response.status_code == 200, response.text
        # On PostgreSQL the worker skips an episode a request holds locked: the next sweep
        # (five seconds later in production) fires it. Either way: once.
        fired = swept + world.sweep()
        assert fired == 1, f"week {week}: the timer fired {fired} times"
        assert events(world, episode_id, "timer_fired", "exercise_week") == timers + 1
        assert events(world, episode_id, "education_completed") == read + 1
        assert world.count(TaskSubmission, task_id=reading["task_id"]) == 1
        assert instance_version(world, episode_id) == version + 2 * step
        names = [t["name"] for t in patient.get("/api/tasks").json()["data"]]
        assert names.count("weekly_check_in") == 1, names
        assert names.count("read_module") == 1, names
        assert find_task(patient, "read_module")["education_module"] != \
            reading["education_module"]
        complete(patient, "weekly_check_in", conftest.week(3, 4))
    with transaction(world.db, write=False) as session:
        episode = session.get(Episode, episode_id)
        assert episode is not None and episode.status == "active"
        ready = session.exec(select(ReadyTask).where(ReadyTask.episode_id == episode_id)).all()
        assert len({t.task_id for t in ready}) == len(ready)
    assert_the_log_verifies(clients("auditor"))


def test_one_step_advances_the_instance_version_by_exactly_one(world: World) -> None:
    patient, episode_id = refer(world, "Lea", "lea")
    assert measure_one_step(world, episode_id, partial(
        complete, patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})) == 1


def test_a_success_answer_is_sent_only_once_the_change_is_saved(
        world: World, live_server: LiveServer) -> None:
    """A client that has been told "done" must find it done on its very next request, even
    when the database is slow to commit."""

    def slow_commit(connection: Any) -> None:
        time.sleep(0.3)

    patient, episode_id = refer(world, "Mona", "mona")
    task_id = find_task(patient, "red_flag_screen")["task_id"]
    sa_event.listen(world.db, "commit", slow_commit)
    try:
        client = login(live_server, "mona", settled=False)
        assert client.get("/api/me").status_code == 200, "the new token is not saved yet"
        done = client.post(f"/api/tasks/{task_id}/complete",
                           json={"data": {"age": 45, "red_flags": A["no_red_flags"]}})
        assert done.status_code == 200, done.text
        still_open = [t["task_id"] for t in client.get("/api/tasks").json()["data"]]
        assert task_id not in still_open, "the completion is not saved yet"
        client.close()
    finally:
        sa_event.remove(world.db, "commit", slow_commit)
        live_server.settle()


def test_a_step_computed_while_the_episode_moved_on_is_done_again_on_the_new_state(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A completion runs the engine on a snapshot, outside the write lock. If the timer
    worker advances the same episode in that moment, the completion must not overwrite the
    worker's step: it sees the version moved, runs again on the new state, and both steps
    are kept, each once."""
    from service.care import service as episodes

    patient, episode_id = refer(world, "Nils", "nils")
    step = first_steps(world, patient, episode_id, "medium_start_back")
    world.clock.advance(timedelta(days=7))
    patient = world.client("nils")  # a week later: log in again
    reading = find_task(patient, "read_module")
    version = instance_version(world, episode_id)
    runs: list[int] = []
    real_run = episodes._Step.run

    def worker_fires_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        runs.append(result.found.version)
        if len(runs) == 1:
            assert world.sweep() == 1  # commits while the completion is between read and save
        return result

    monkeypatch.setattr(episodes._Step, "run", worker_fires_meanwhile)
    done = patient.post(f"/api/tasks/{reading['task_id']}/complete",
                        json={"data": education_answers(reading["education_module"])})

    assert done.status_code == 200, done.text
    assert runs == [version, version + step], "the step was not run again on the new state"
    assert events(world, episode_id, "timer_fired", "exercise_week") == 1
    assert events(world, episode_id, "education_completed") == 1
    assert instance_version(world, episode_id) == version + 2 * step
    names = [t["name"] for t in patient.get("/api/tasks").json()["data"]]
    assert names.count("weekly_check_in") == 1, names
    assert world.count(TaskSubmission, task_id=reading["task_id"]) == 1
    assert_the_log_verifies(world.client("auditor"))


def test_a_task_claimed_by_a_colleague_while_it_was_being_completed_is_not_completed(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim does not move the episode's version, so the save checks it again: the
    completion is refused with 409 and nothing of it is kept."""
    from service.care import service as episodes

    patient, episode_id = refer(world, "Olle", "olle")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    physio, colleague = world.client("physio"), world.client("physio2")
    visit = find_task(physio, "first_visit", episode_id=episode_id)
    version = instance_version(world, episode_id)
    real_run = episodes._Step.run

    def colleague_claims_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        claimed = colleague.post(f"/api/tasks/{visit['task_id']}/claim")
        assert claimed.status_code == 200, claimed.text
        return result

    monkeypatch.setattr(episodes._Step, "run", colleague_claims_meanwhile)
    done = physio.post(f"/api/tasks/{visit['task_id']}/complete",
                       json={"data": A["first_visit"]})

    assert done.status_code == 409, done.text
    assert "claimed" in done.json()["error"]["message"]
    assert instance_version(world, episode_id) == version
    assert world.count(TaskSubmission, task_id=visit["task_id"]) == 0
    assert events(world, episode_id, "task_completed", "first_visit") == 0
    task = colleague.get(f"/api/tasks/{visit['task_id']}").json()
    assert task["claimed_by"] == world.users["physio2"]

