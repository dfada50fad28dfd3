"""A region's installation under stress, from outside: two server processes and two timer
workers as real processes, clients over HTTP, real signals. Fifty clients racing over the
same tasks lose, double and half-apply nothing; `kill -9` of a server process and of a worker
in the middle of a burst loses no acknowledged step and no timer; the database out of reach
gives 503s, not 500s, and everything comes back by itself.

On the test's database: SQLite by default, PostgreSQL with CAREPATH_TEST_DATABASE=postgres
(the outage through a relay that the test cuts is PostgreSQL's; SQLite's counterpart is a
write lock held by another program)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from pathways.clock import SystemClock
from service.app import create_app
from service.core.db import create_db_engine
from service.core.settings import Settings

from .cluster_support import (
    Relay,
    Snapshot,
    assert_error_shape,
    assert_no_server_errors,
    assert_one_step_each,
    client,
    cpu_seconds,
    exercising,
    first_visit_tasks,
    is_gone,
    now,
    served,
    server_processes,
    submissions,
    through,
    token,
    verified,
    waiting_for_first_visit,
    workers,
)
from .conftest import PASSWORD, A, World
from .test_processes import _clinic_with_a_physiotherapist

POSTGRES = os.environ.get("CAREPATH_TEST_DATABASE") == "postgres"
RACERS, RACING_USERS, RACED_TASKS = 50, 10, 6
LOSING = {"task_already_done", "conflict"}


def test_fifty_clients_racing_over_two_processes_and_two_workers_lose_double_and_half_apply_nothing(  # noqa: E501
        world: World, tmp_path: Path) -> None:
    """Fifty clients (ten physiotherapists, five tabs each) claim and complete the same six
    first visits in random orders through `serve --workers 2`, while two workers fire the
    timers of four other episodes. Each visit is recorded once, by whoever holds its claim;
    every loser gets 409 with the error shape; each instance moved exactly one step, its
    events are that step's, and the event log's chain verifies."""
    raced = waiting_for_first_visit(world, RACED_TASKS, "race")
    tasks = first_visit_tasks(world, raced)
    timed = exercising(world, 4, "timed", due=now() - timedelta(minutes=1))
    users = {f"racer{n}": world.add_user(f"racer{n}") for n in range(RACING_USERS)}
    before = Snapshot.take(world, raced + timed)
    answers: list[tuple[str, str, int, httpx.Response]] = []

    with served(world, tmp_path, 2) as (base, server), workers(world, tmp_path, 2) as sweeping:
        tokens = {name: token(base, name) for name in users}
        auditor = token(base, "auditor")
        barrier = threading.Barrier(RACERS)

        def race(number: int) -> None:
            name = f"racer{number % RACING_USERS}"
            rng = random.Random(number)
            with client(base, tokens[name]) as racer:
                barrier.wait(timeout=60)
                for task_id in rng.sample(sorted(tasks), len(tasks)):
                    if rng.random() < 0.5:
                        answers.append(("claim", task_id, users[name],
                                        racer.post(f"/api/tasks/{task_id}/claim")))
                    answers.append(("complete", task_id, users[name], racer.post(
                        f"/api/tasks/{task_id}/complete", json={"data": A["first_visit"]})))

        started = time.monotonic()
        with ThreadPoolExecutor(RACERS) as pool:
            list(pool.map(race, range(RACERS)))
        print(f"{len(answers)} requests in {time.monotonic() - started:.1f} s")
        deadline = time.monotonic() + 30
        while any(Snapshot.take(world, timed).timers_fired(e) == 0 for e in timed):
            assert time.monotonic() < deadline, "the workers did not fire every due timer"
            time.sleep(0.1)
        time.sleep(3 * 0.2)  # a sweep or two more: nothing fires twice
        assert verified(base, auditor)["ok"] is True
    assert_no_server_errors(server, *sweeping)

    for _, _, _, response in answers:
        if response.status_code != 200:
            assert_error_shape(response, 409, LOSING)
    winners = {task_id: (user, response) for kind, task_id, user, response in answers
               if kind == "complete" and response.status_code == 200}
    completions = [task_id for kind, task_id, _, r in answers
                   if kind == "complete" and r.status_code == 200]
    assert sorted(completions) == sorted(tasks), "each task completed exactly once"
    claimers: dict[str, set[int]] = defaultdict(set)
    for kind, task_id, user, response in answers:
        if kind == "claim" and response.status_code == 200:
            assert response.json()["claimed_by"] == user
            claimers[task_id].add(user)
    done = submissions(world, list(tasks))
    for task_id, (user, _) in winners.items():
        assert done[task_id] == user
        # Nobody released a claim: a task claimed was claimed once, and done by its holder.
        assert claimers[task_id] <= {user}, (task_id, claimers[task_id], user)
    after = Snapshot.take(world, raced + timed, since=before.last_event)
    assert_one_step_each(before, after, raced, {
        tasks_episode: winners[task_id][1].json()["events"]
        for task_id, tasks_episode in tasks.items()})
    assert_one_step_each(before, after, timed)


def test_killing_a_server_process_and_a_worker_mid_burst_loses_no_acknowledged_step(
        world: World, tmp_path: Path) -> None:
    """`kill -9` of one of two server processes and of one of two workers while clients
    complete tasks and the workers fire due timers. Every completion a client was told of is
    saved; no episode is half-moved; the surviving server process serves on (and a new one
    takes the dead one's place); the surviving worker fires every timer, each once."""
    raced = waiting_for_first_visit(world, 16, "burst")
    tasks = first_visit_tasks(world, raced)
    timed = exercising(world, 6, "timed", due=now() - timedelta(minutes=1))
    before = Snapshot.take(world, raced + timed)
    acknowledged: dict[str, float] = {}
    unanswered: list[str] = []

    with served(world, tmp_path, 2) as (base, server):
        api = server_processes(server.popen.pid)
        physio, auditor = token(base, "physio"), token(base, "auditor")
        queue = sorted(tasks)
        lock = threading.Lock()
        give_up = time.monotonic() + 30

        def complete_until_done(_: int) -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    task_id = queue.pop()
                while True:  # a lost answer: send it again, on a new connection
                    try:
                        with client(base, physio) as clinician:
                            response = clinician.post(f"/api/tasks/{task_id}/complete",
                                                      json={"data": A["first_visit"]})
                    except httpx.TransportError as err:
                        unanswered.append(task_id)
                        assert time.monotonic() < give_up, f"no server answers: {err!r}"
                        time.sleep(0.05)
                        continue
                    if response.status_code == 200:
                        acknowledged[task_id] = time.monotonic()
                    else:  # done by a try whose answer was lost
                        assert task_id in unanswered, response.text
                        assert_error_shape(response, 409, {"task_already_done"})
                    break

        with workers(world, tmp_path, 2) as (doomed, survivor), ThreadPoolExecutor(6) as pool:
            burst = [pool.submit(complete_until_done, n) for n in range(6)]
            killed_worker = killed_server = None
            deadline = time.monotonic() + 60
            while killed_worker is None or killed_server is None:
                assert time.monotonic() < deadline, "the burst ended before both kills"
                fired = sum(Snapshot.take(world, timed).timers_fired(e) for e in timed)
                if killed_worker is None and fired >= 1:  # the sweep is under way
                    doomed.popen.send_signal(signal.SIGKILL)
                    killed_worker = fired
                if killed_server is None and len(acknowledged) >= 4:
                    os.kill(api[0], signal.SIGKILL)
                    killed_server = time.monotonic()
                time.sleep(0.01)
            for done in burst:
                done.result(timeout=120)
            deadline = time.monotonic() + 30
            while any(Snapshot.take(world, timed).timers_fired(e) == 0 for e in timed):
                assert time.monotonic() < deadline, "a due timer was lost with the worker"
                time.sleep(0.1)
            time.sleep(3 * 0.2)  # a sweep or two more: nothing fires twice
            assert doomed.popen.wait(timeout=10) == -signal.SIGKILL
            assert survivor.alive(), survivor.output()
            assert not is_gone(api[1]), "the other server process stopped too"
            assert any(at > killed_server for at in acknowledged.values()), \
                "nothing was completed after the kill"
            assert "carepath-1 stopped (killed by SIGKILL); starting another in its place" \
                in server.output(), server.output()
            assert verified(base, auditor)["ok"] is True
        print(f"worker killed after {killed_worker} of {len(timed)} timers; "
              f"{len(acknowledged)} completions acknowledged, {len(unanswered)} answers lost")
    assert_no_server_errors(survivor)

    done = submissions(world, list(tasks))
    assert set(acknowledged) <= set(done), "an acknowledged completion is missing"
    assert sorted(done) == sorted(tasks), "every task was completed in the end"
    after = Snapshot.take(world, raced + timed, since=before.last_event)
    for episode in raced:  # not half-applied: the whole step, once
        assert after.versions[episode] == before.versions[episode] + 1, episode
        assert after.events[episode].count("task_completed") == 1, after.events[episode]
        assert "first_visit_recorded" in after.events[episode]
    assert len({tuple(sorted(after.events[e])) for e in raced}) == 1, after.events
    assert_one_step_each(before, after, timed)


@pytest.mark.skipif(not POSTGRES, reason="cuts the connection to PostgreSQL; the SQLite run "
                    "has test_a_sqlite_database_locked_by_another_program_answers_503")
def test_the_database_out_of_reach_answers_503_and_everything_recovers_by_itself(
        world: World, tmp_path: Path) -> None:
    """PostgreSQL out of reach for four seconds (a relay between carepath and the server is
    cut: the connections drop and new ones are refused; ten seconds behave the same, only
    slower): the API answers 503 with the error shape and a clear message, pages an error
    page with 503, never a 500; the worker waits and tries again without spinning; once the
    server is back, requests, pages and the worker carry on by themselves, and the timer
    that fell due meanwhile fires once."""
    relay = Relay(sa.engine.make_url(world.settings.database_url).port or 5432)
    url = through(relay, world.settings.database_url)
    episode = waiting_for_first_visit(world, 1, "outage")[0]
    task_id = next(iter(first_visit_tasks(world, [episode])))
    try:
        with served(world, tmp_path, 1, url, database_timeout_seconds="3") as (base, server), \
                workers(world, tmp_path, 1, url, database_timeout_seconds="3") as [worker]:
            physio = client(base, token(base, "physio"))
            browser = _page_login(base, "physio")
            assert physio.get("/api/tasks").status_code == 200
            assert browser.get("/worklist").status_code == 200
            timed = exercising(world, 1, "timed", due=now() + timedelta(seconds=2))
            before = Snapshot.take(world, timed)

            relay.cut()
            cut_at, cpu_before = time.monotonic(), cpu_seconds(worker.popen.pid)
            listed = physio.get("/api/tasks")
            assert_error_shape(listed, 503, {"database_unavailable"})
            assert "database" in listed.json()["error"]["message"]
            assert listed.headers["Retry-After"].isdigit()
            assert_error_shape(physio.post(f"/api/tasks/{task_id}/complete",
                                           json={"data": A["first_visit"]}),
                               503, {"database_unavailable"})
            assert_error_shape(httpx.post(f"{base}/api/auth/token", json={
                "username": "physio", "password": PASSWORD}), 503, {"database_unavailable"})
            page = browser.get("/worklist")
            assert page.status_code == 503 and "text/html" in page.headers["content-type"]
            assert "The database cannot be reached just now" in _text(page)
            time.sleep(max(0.0, cut_at + 4 - time.monotonic()))
            assert worker.alive(), worker.output()
            assert cpu_seconds(worker.popen.pid) - cpu_before < 1.0, "the worker spun"
            tries = worker.output().count("the database cannot be reached")
            assert 1 <= tries <= 6, worker.output()
            assert Snapshot.take(world, timed).timers_fired(timed[0]) == 0

            relay.restore()
            back = time.monotonic()
            while physio.get("/api/tasks").status_code != 200:
                assert time.monotonic() - back < 10, "the API did not recover"
                time.sleep(0.1)
            recovered = time.monotonic() - back
            assert browser.get("/worklist").status_code == 200
            done = physio.post(f"/api/tasks/{task_id}/complete",
                               json={"data": A["first_visit"]})
            assert done.status_code == 200, done.text
            while Snapshot.take(world, timed).timers_fired(timed[0]) == 0:
                assert time.monotonic() - back < 40, f"the worker did not recover:\n" \
                                                     f"{worker.output()}"
                time.sleep(0.1)
            time.sleep(3 * 0.2)  # a sweep or two more: nothing fires twice
            assert verified(base, token(base, "auditor"))["ok"] is True
            physio.close()
            browser.close()
        print(f"API back {recovered:.2f} s after the database")
        assert " 500 " not in server.output(), server.output()
        assert "503" in server.output()
        assert "Traceback" not in worker.output(), worker.output()
        assert_one_step_each(before, Snapshot.take(world, timed, since=before.last_event),
                             timed)
    finally:
        relay.close()


def test_a_sqlite_database_locked_by_another_program_answers_503(tmp_path: Path) -> None:
    """Another program (a backup script, the sqlite3 shell) holds SQLite's write lock for
    longer than CAREPATH_DATABASE_TIMEOUT_SECONDS: writes answer 503 with the error shape, a
    page's form an error page with 503; reads go on (WAL); once the lock is let go, writes
    work again."""
    path = tmp_path / "locked.sqlite3"
    _clinic_with_a_physiotherapist(f"sqlite:///{path}")
    settings = Settings(database_url=f"sqlite:///{path}", mode="development",
                        embedded_worker=False, database_timeout_seconds=0.3)
    clock = SystemClock()
    db = create_db_engine(settings)
    referral = {"display_name": "Lock Test", "birth_year": 1980}
    with TestClient(create_app(settings, clock, db), raise_server_exceptions=False) as api:
        login = api.post("/api/auth/token", json={"username": "physio", "password": PASSWORD})
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        form = BeautifulSoup(api.get("/login").text, "html.parser")
        csrf = form.find("input", attrs={"name": "csrf_token"})["value"]
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            assert_error_shape(api.post("/api/referrals", json=referral), 503,
                               {"database_unavailable"})
            assert api.get("/api/tasks").status_code == 200
            page = api.post("/login", data={"username": "physio", "password": PASSWORD,
                                             "csrf_token": csrf}, follow_redirects=False)
        finally:
            holder.rollback()
            holder.close()
        assert page.status_code == 503, page.text
        assert "The database cannot be reached just now" in _text(page)
        assert api.post("/api/referrals", json=referral).status_code == 201
    db.dispose()


def _page_login(base: str, username: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = BeautifulSoup(browser.get("/login").text, "html.parser")
    csrf = form.find("input", attrs={"name": "csrf_token"})["value"]
    answer = browser.post("/login", data={"username": username, "password": PASSWORD,
                                          "csrf_token": csrf})
    assert answer.status_code == 303, answer.text
    return browser


def _text(page: httpx.Response) -> str:
    return BeautifulSoup(page.text, "html.parser").get_text(" ", strip=True)

