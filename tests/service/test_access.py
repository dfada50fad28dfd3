"""Who may call what: every route of the app, called by every role.

The policy is data, in `access_table`; how a row is called, in `access_scene`.

The scene, built once for the module: clinic north, where the physiotherapist "physio" has
referred patient A (Anna, high risk: she has an education module to read and physio has a
psychologically informed session to give) and patient B (Bertil, who has just started), and
where two not-improving patients wait for a clinic lead's specialist referral; clinic south,
where "southphysio" has referred Sven. Patient B, southphysio and the non-clinical roles
always ask for patient A's things, by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import Response
from sqlmodel import select

from pathways.models import read_bundle_dir
from service.core.db import transaction
from service.core.settings import ROOT
from service.core.tables import TaskSubmission, User
from service.models import registry as models_registry

from .access_scene import Scene
from .access_table import (
    A_PATIENT_TASK,
    A_PHYSIO_TASK,
    ANNA,
    ANNAS_CARE,
    ANSWERED,
    BERTIL,
    EVERY_PATIENT,
    INVALID,
    LEAD_TASK,
    NEEDS_LOGIN,
    NORTH,
    POLICY,
    REFUSED,
    ROLES,
    SEES,
    SVEN,
    WAITING_FOR_SPECIALIST,
    Row,
)
from .conftest import World, complete, follow_up_answers, make_world, refer, through_first_visit


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers (HEAD and OPTIONS aside)."""

    def walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):  # an included router
                yield from walk(route.effective_route_contexts())
            elif hasattr(route, "routes") and route.routes:  # a mount of routes
                yield from ((m, route.path + p) for m, p in walk(route.routes))
            elif hasattr(route, "routes"):  # a mount of an app, e.g. static files
                yield "GET", route.path + "/{path}"
            else:
                assert route.methods, f"a route without methods: {route!r}"
                for method in set(route.methods) - {"HEAD", "OPTIONS"}:
                    yield method, route.path

    return set(walk(app.routes))


def _walk_to_specialist_referral(world: World, patients: list[tuple[str, str]]) -> None:
    """Low-risk patients who do not improve by 6 weeks: physio asks for a specialist, and the
    referral waits for a clinic lead."""
    for name, username in patients:
        client, _ = refer(world, name, username)
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2))
    world.sweep()
    for _, username in patients:
        complete(world.client(username), "follow_up_2w", follow_up_answers("unchanged_proms"))
    world.clock.advance(timedelta(weeks=4))
    world.sweep()
    for _, username in patients:
        complete(world.client(username), "follow_up_6w", follow_up_answers("unchanged_proms"))
        complete(world.client("physio"), "not_improving_review",
                 {"escalation_decision": "specialist_referral"})


@pytest.fixture(scope="module")
def scene() -> Iterator[Scene]:
    with make_world() as world:
        # Patient A's psychologically informed sessions are the physiotherapist tasks that
        # allowed callers complete here (API and page): give the scene enough of them.
        files = read_bundle_dir(ROOT / "bpmn" / "betterback")
        files["pathway.toml"] = files["pathway.toml"].replace(b"pi_sessions = 4",
                                                              b"pi_sessions = 12")
        with transaction(world.db, write=True) as session:
            models_registry.deploy(session, files, None, world.clock.now())
        # Time moves first: the logins below last 12 hours.
        _walk_to_specialist_referral(world, [(WAITING_FOR_SPECIALIST[0], "cecilia"),
                                             (WAITING_FOR_SPECIALIST[1], "clara")])
        anna, episode_a = refer(world, ANNA, "anna")
        through_first_visit(world, anna, "high_start_back")
        refer(world, BERTIL, "bertil")
        refer(world, SVEN, "sven", clinician="southphysio")
        built = Scene(world, episode_a,
                      {role: world.client(username) for role, username in ROLES.items()})
        built.log_in_to_pages()
        built.ready_task(A_PATIENT_TASK), built.ready_task(A_PHYSIO_TASK)
        built.ready_task(LEAD_TASK)
        yield built


def test_every_route_of_the_app_has_a_row_in_the_access_policy(scene: Scene) -> None:
    served = served_routes(scene.world.app)
    in_policy = {(row.method, row.path) for row in POLICY}
    assert not served - in_policy, f"add these routes to POLICY: {sorted(served - in_policy)}"
    assert not in_policy - served, f"POLICY has routes the app no longer serves: " \
                                   f"{sorted(in_policy - served)}"


def _is_error_body(response: Response) -> bool:
    body = response.json()
    return set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}


def outcome(response: Response) -> str:
    if response.status_code == 401 or (response.is_redirect and response.headers[
            "location"].startswith("/login?next=")):
        return NEEDS_LOGIN
    if response.status_code in (403, 404):
        return REFUSED
    if response.status_code == 422:
        return INVALID
    if 200 <= response.status_code < 400:
        return ANSWERED
    return f"unexpected {response.status_code}"


def expected(row: Row, role: str) -> str:
    if role in row.allowed:
        return ANSWERED
    if role in row.others:
        return row.others[role]
    return row.anonymous if role == "anonymous" else REFUSED


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", POLICY, ids=str)
def test_each_role_gets_what_the_policy_says(scene: Scene, row: Row, role: str) -> None:
    client = scene.client(row, role)
    url, task = scene.url(row)
    body = scene.body(row, role, task)
    before = scene.snapshot()

    sent = ({"data": body} if row.via == "page" else
            {"files": body} if row.body == "draft upload" else {"json": body})
    response = client.request(row.method, url, follow_redirects=False, **sent)

    assert outcome(response) == expected(row, role), response.text[:1000]
    if expected(row, role) == ANSWERED:
        if row.method == "GET":
            assert scene.snapshot() == before, "a read changed the database"
    else:
        if row.via == "api":
            assert _is_error_body(response), response.text
        assert scene.snapshot() == before, "a refused call changed the database"
        if task is not None:
            assert scene.task_is_ready(task), "a refused call touched the task"
        if row.body == "new user":
            assert scene.world.count(User, username=body["username"]) == 0
    leaked = sorted(name for name in EVERY_PATIENT - SEES[role] if name in response.text)
    assert not leaked, f"{role} was shown {leaked}: {response.text[:500]}"
    scene.tidy(row, role)


@pytest.mark.parametrize(("role", "patients", "task_roles"), [
    pytest.param("patient_A", {ANNA}, {"patient"}, id="patient_A"),
    pytest.param("patient_B", {BERTIL}, {"patient"}, id="patient_B"),
    pytest.param("physio", NORTH, {"physiotherapist"}, id="physio"),
    pytest.param("clinic_lead", NORTH, {"physiotherapist", "clinic_lead"}, id="clinic_lead"),
    pytest.param("southphysio", {SVEN}, set(), id="southphysio"),
])
def test_lists_show_each_role_only_its_own_patients_and_tasks(
        scene: Scene, role: str, patients: set[str], task_roles: set[str]) -> None:
    client = scene.clients[role]
    episodes = client.get("/api/episodes", params={"limit": 500}).json()["data"]
    assert {e["patient_name"] for e in episodes} & EVERY_PATIENT == patients
    tasks = client.get("/api/tasks", params={"limit": 500}).json()["data"]
    assert {t["role"] for t in tasks} == task_roles
    assert {t["patient_name"] for t in tasks} <= patients
    # Asking for patient A's tasks by episode id shows nothing that is not the caller's.
    for_a = client.get("/api/tasks", params={"episode_id": scene.episode_a}).json()["data"]
    if role not in ANNAS_CARE:
        assert for_a == []


@pytest.mark.parametrize("role", [
    "patient_B", "southphysio",
    pytest.param("manager"),
])
def test_someone_elses_episode_looks_the_same_as_one_that_does_not_exist(
        scene: Scene, role: str) -> None:
    client = scene.clients[role]
    someone_elses = client.get(f"/api/episodes/{scene.episode_a}")
    missing = client.get("/api/episodes/999999")
    assert (someone_elses.status_code, someone_elses.json()["error"]["message"]) == \
        (missing.status_code, missing.json()["error"]["message"].replace("999999",
                                                                         str(scene.episode_a)))


@pytest.mark.parametrize("role", ["anonymous", "patient_B", "southphysio", "manager"])
def test_a_completed_task_is_not_described_to_someone_who_may_not_see_it(
        scene: Scene, role: str) -> None:
    with transaction(scene.world.db, write=False) as session:
        done = session.exec(select(TaskSubmission.task_id).where(
            TaskSubmission.episode_id == scene.episode_a)).first()
    assert done is not None
    response = scene.clients[role].post(f"/api/tasks/{done}/complete", json={"data": {}})
    assert response.status_code in ((401,) if role == "anonymous" else (403, 404)), \
        response.text

