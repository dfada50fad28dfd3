"""Who may call what: every route of the app, called by every role.

`POLICY` is the access policy as data: one row per route (and per kind of resource a route
acts on) naming the roles that get an answer (2xx, or a page's 3xx). Everybody else is
refused: 401 when nobody is logged in (pages: a redirect to the login page), 403 or 404
otherwise; a refusal changes nothing and shows no patient the caller may not see. A route
the app serves without a row here fails
`test_every_route_of_the_app_has_a_row_in_the_access_policy`, so a new route (API or page)
cannot slip in unchecked. API rows are called with a bearer token, page rows with the
session cookie of a page login.

The scene, built once for the module: clinic north, where the physiotherapist "physio" has
referred patient A (Anna, high risk: she has an education module to read and physio has a
psychologically informed session to give) and patient B (Bertil, who has just started), and
where two not-improving patients wait for a clinic lead's specialist referral; clinic south,
where "southphysio" has referred Sven. Patient B, southphysio and the non-clinical roles
always ask for patient A's things, by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import SQLModel, col, func, select, update

from pathways.models import read_bundle_dir
from service import auth, models_registry
from service.db import transaction
from service.settings import ROOT
from service.tables import (
    Episode,
    Event,
    ExerciseLog,
    Instance,
    ModelVersion,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
    TaskSubmission,
    User,
)

from .conftest import (
    PASSWORD,
    A,
    World,
    complete,
    education_answers,
    make_world,
    refer,
    through_first_visit,
)

ROLES: dict[str, str | None] = {
    # role in the matrix -> who is logged in
    "anonymous": None,
    "patient_A": "anna",
    "patient_B": "bertil",
    "physio": "physio",            # north, like patients A and B
    "southphysio": "southphysio",  # another clinic
    "clinic_lead": "lead",         # north
    "manager": "manager",
    "auditor": "auditor",
    "admin": "admin",
}

ANNA, BERTIL, SVEN = "Anna Andersson", "Bertil Berg", "Sven Svensson"
WAITING_FOR_SPECIALIST = ("Cecilia Carlsson", "Clara Carlsson")
NORTH = frozenset({ANNA, BERTIL, *WAITING_FOR_SPECIALIST})
EVERY_PATIENT = NORTH | {SVEN}
SEES: dict[str, frozenset[str]] = {
    # whose names a role may ever read in an answer
    "anonymous": frozenset(),
    "patient_A": frozenset({ANNA}),
    "patient_B": frozenset({BERTIL}),
    "physio": NORTH,
    "southphysio": frozenset({SVEN}),
    "clinic_lead": NORTH,
    "manager": frozenset(),
    "auditor": frozenset(),
    "admin": frozenset(),
}

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
WITH_A_WORKLIST = frozenset({"patient_A", "patient_B", "physio", "southphysio", "clinic_lead"})
CLINICIANS = frozenset({"physio", "southphysio", "clinic_lead"})
ANNAS_CARE = frozenset({"patient_A", "physio", "clinic_lead"})
PATIENTS = frozenset({"patient_A", "patient_B"})

# Outcomes. Pages answer "log in first" with a redirect to the login page.
ANSWERED, NEEDS_LOGIN, REFUSED = "answered (2xx/3xx)", "needs login (401)", "refused (403/404)"
INVALID = "nothing to do for this caller (422)"

# What a row acts on (fills the path's {placeholders}).
A_EPISODE = "patient A's episode"
A_PATIENT_TASK = "patient A's patient task"
A_PHYSIO_TASK = "patient A's physiotherapist task"
LEAD_TASK = "a north clinic lead task"
ACTIVE_MODEL = "the active model version"
VENDOR_ASSET = "a vendored browser library"
STYLESHEET = "the stylesheet"


@dataclass(frozen=True, eq=False)
class Row:
    method: str
    path: str
    allowed: frozenset[str]
    target: str = ""
    body: str = ""
    """Which request body to send (see `Scene.body`); empty: none."""
    via: str = "api"
    """api: called with a bearer token; page: with the session cookie of a page login."""
    anonymous: str = NEEDS_LOGIN
    """What the anonymous caller gets when not allowed."""
    others: dict[str, str] = field(default_factory=dict)
    """Outcomes for particular roles that differ from a refusal (e.g. nothing to do)."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" <{self.target}>" if self.target else "")


def _task_rows(target: str, allowed: Iterable[str]) -> list[Row]:
    allowed = frozenset(allowed)
    return [Row("GET", "/api/tasks/{task_id}", allowed, target),
            Row("POST", "/api/tasks/{task_id}/claim", allowed, target),
            Row("POST", "/api/tasks/{task_id}/release", allowed, target),
            Row("POST", "/api/tasks/{task_id}/complete", allowed, target, "task answers")]


POLICY: list[Row] = [
    # Public: health, API docs, clinics to self-refer to, logging in and out.
    Row("GET", "/healthz", EVERYONE),
    Row("GET", "/openapi.json", EVERYONE),
    Row("GET", "/docs", EVERYONE),
    Row("GET", "/docs/oauth2-redirect", EVERYONE),
    Row("GET", "/redoc", EVERYONE),
    Row("GET", "/api/clinics", EVERYONE),
    Row("POST", "/api/self-referrals", EVERYONE, body="self-referral"),
    # Each role logs in with its own credentials; the anonymous caller has none to give.
    Row("POST", "/api/auth/token", SIGNED_IN, body="own credentials"),
    Row("POST", "/api/auth/login", SIGNED_IN, body="own credentials"),
    Row("POST", "/api/auth/logout", EVERYONE),
    Row("GET", "/api/me", SIGNED_IN),
    # Admins create users; nobody else.
    Row("POST", "/api/users", frozenset({"admin"}), body="new user"),
    # Clinicians refer patients to their own clinic.
    Row("POST", "/api/referrals", CLINICIANS, body="referral"),
    # Lists are filtered to what the caller may see (checked by names below).
    Row("GET", "/api/episodes", WITH_A_WORKLIST),
    Row("GET", "/api/tasks", WITH_A_WORKLIST),
    # Patient A's episode: Anna herself and the clinicians of her clinic.
    Row("GET", "/api/episodes/{episode_id}", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/timeline", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/questionnaires", ANNAS_CARE, A_EPISODE),
    Row("GET", "/api/episodes/{episode_id}/exercise-logs", ANNAS_CARE, A_EPISODE),
    Row("POST", "/api/episodes/{episode_id}/exercise-logs", ANNAS_CARE, A_EPISODE,
        "exercise log"),
    Row("GET", "/api/episodes/{episode_id}/education", ANNAS_CARE, A_EPISODE),
    # Reading education is a patient task: only Anna confirms she has read her module.
    Row("POST", "/api/episodes/{episode_id}/education/{module}/confirm",
        frozenset({"patient_A"}), A_EPISODE, "check answers"),
    # Tasks: patients do their own patient tasks; physiotherapists (and leads) the
    # physiotherapist tasks of their clinic; only clinic leads the clinic lead tasks.
    *_task_rows(A_PATIENT_TASK, {"patient_A"}),
    *_task_rows(A_PHYSIO_TASK, {"physio", "clinic_lead"}),
    *_task_rows(LEAD_TASK, {"clinic_lead"}),
    # Managers deploy models; auditors read the event log.
    Row("GET", "/api/models", frozenset({"manager"})),
    Row("POST", "/api/models", frozenset({"manager"}), body="reference bundle"),
    Row("GET", "/api/models/{version_id}/files", frozenset({"manager"}), ACTIVE_MODEL),
    Row("GET", "/api/audit/events", frozenset({"auditor"})),
    Row("GET", "/api/audit/verify", frozenset({"auditor"})),
    # Pages, with a cookie session. Home sends everyone on: to their page or to log in.
    Row("GET", "/", EVERYONE, via="page"),
    Row("GET", "/login", EVERYONE, via="page"),
    Row("POST", "/login", SIGNED_IN, body="own credentials, as a form", via="page"),
    # Logging out is a form post: it needs the session's CSRF token, so without a session
    # it is refused rather than sent to log in.
    Row("POST", "/logout", SIGNED_IN, body="the CSRF token, as a form", via="page",
        anonymous=REFUSED),
    Row("GET", "/static/vendor/{name}", EVERYONE, VENDOR_ASSET, via="page"),
    Row("GET", "/static/{path}", EVERYONE, STYLESHEET, via="page"),
    # Patient pages and their JSON twins: each patient sees their own episode only.
    Row("GET", "/api/today", PATIENTS),
    Row("GET", "/api/progress", PATIENTS),
    Row("GET", "/today", PATIENTS, via="page"),
    Row("GET", "/progress", PATIENTS, via="page"),
    Row("GET", "/exercise", PATIENTS, via="page"),
    Row("POST", "/exercise", frozenset({"patient_A"}), body="page exercise log", via="page",
        anonymous=REFUSED, others={"patient_B": INVALID}),
    Row("GET", "/education/{module}", frozenset({"patient_A"}), A_EPISODE, via="page"),
    Row("POST", "/education/{module}", frozenset({"patient_A"}), A_EPISODE,
        body="page check answers", via="page", anonymous=REFUSED),
    Row("GET", "/questionnaire/{task_id}", frozenset({"patient_A"}), A_PATIENT_TASK,
        via="page"),
    Row("POST", "/questionnaire/{task_id}", frozenset({"patient_A"}), A_PATIENT_TASK,
        body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    # Clinician pages: the clinic's patients and the role's tasks.
    Row("GET", "/worklist", CLINICIANS, via="page"),
    Row("GET", "/worklist/rows", CLINICIANS, via="page"),
    Row("GET", "/patients/{episode_id}", frozenset({"physio", "clinic_lead"}), A_EPISODE,
        via="page"),
    Row("GET", "/patients/{episode_id}/diagram.bpmn", frozenset({"physio", "clinic_lead"}),
        A_EPISODE, via="page"),
    Row("GET", "/api/episodes/{episode_id}/summary", frozenset({"physio", "clinic_lead"}),
        A_EPISODE),
    Row("GET", "/tasks/{task_id}", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        via="page"),
    Row("POST", "/tasks/{task_id}", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        body="page task answers", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/claim", frozenset({"physio", "clinic_lead"}), A_PHYSIO_TASK,
        body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/release", frozenset({"physio", "clinic_lead"}),
        A_PHYSIO_TASK, body="the CSRF token, as a form", via="page", anonymous=REFUSED),
    Row("POST", "/tasks/{task_id}/warnings", frozenset({"physio", "clinic_lead"}),
        A_PHYSIO_TASK, body="the CSRF token, as a form", via="page", anonymous=REFUSED),
]


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


TABLES: list[type[SQLModel]] = [Patient, User, Episode, Event, TaskSubmission,
                                QuestionnaireResponse, ExerciseLog, ModelVersion]


@dataclass
class Scene:
    world: World
    episode_a: int = 0
    clients: dict[str, TestClient] = field(default_factory=dict)
    """Role -> API client with a bearer token."""
    pages: dict[str, TestClient] = field(default_factory=dict)
    """Role -> browser-like client with the session cookie of a page login."""
    sessions: dict[str, str] = field(default_factory=dict)

    def log_in_to_pages(self) -> None:
        for role in ROLES:
            self.log_in_to_page(role)

    def log_in_to_page(self, role: str) -> None:
        client = TestClient(self.world.app, raise_server_exceptions=False,
                            follow_redirects=False)
        username = ROLES[role]
        if username is not None:
            response = client.post("/login", data={"username": username, "password": PASSWORD})
            assert response.status_code == 303, response.text
            self.sessions[role] = client.cookies[auth.SESSION_COOKIE]
        self.pages[role] = client

    def client(self, row: Row, role: str) -> TestClient:
        client = (self.pages if row.via == "page" else self.clients)[role]
        client.cookies.clear()  # what a call set (a login, a logout) does not carry over
        if row.via == "page" and role in self.sessions:
            client.cookies.set(auth.SESSION_COOKIE, self.sessions[role])
        return client

    def ready_task(self, target: str) -> ReadyTask:
        with transaction(self.world.db, write=False) as session:
            query = select(ReadyTask).order_by(col(ReadyTask.task_id))
            if target == LEAD_TASK:
                query = query.where(ReadyTask.role == "clinic_lead",
                                    ReadyTask.clinic_id == self.world.clinics["north"])
            else:
                role = "patient" if target == A_PATIENT_TASK else "physiotherapist"
                query = query.where(ReadyTask.episode_id == self.episode_a,
                                    ReadyTask.role == role)
            task = session.exec(query).first()
        assert task is not None, f"the scene has run out of {target}s"
        return task

    def task_is_ready(self, task: ReadyTask) -> bool:
        with transaction(self.world.db, write=False) as session:
            now = session.get(ReadyTask, task.task_id)
            return now is not None and now.claimed_by == task.claimed_by

    def url(self, row: Row) -> tuple[str, ReadyTask | None]:
        task = None
        values: dict[str, Any] = {}
        if row.target in (A_PATIENT_TASK, A_PHYSIO_TASK, LEAD_TASK):
            task = self.ready_task(row.target)
            values["task_id"] = task.task_id
        if row.target == A_EPISODE:
            values["episode_id"] = self.episode_a
            values["module"] = self.ready_task(A_PATIENT_TASK).education_module
        if row.target == VENDOR_ASSET:
            values["name"] = "htmx.min.js"
        if row.target == STYLESHEET:
            values["path"] = "carepath.css"
        if row.target == ACTIVE_MODEL:
            with transaction(self.world.db, write=False) as session:
                values["version_id"] = session.exec(
                    select(ModelVersion.id).where(ModelVersion.active == True)  # noqa: E712
                ).one()
        return row.path.format(**values), task

    def body(self, row: Row, role: str, task: ReadyTask | None) -> Any:
        username = ROLES[role]
        north = self.world.clinics["north"]
        if row.body == "own credentials":
            return {"username": username or "nobody", "password": PASSWORD if username
                    else "not-the-password"}
        if row.body == "own credentials, as a form":
            return {"username": username or "nobody", "password": PASSWORD if username
                    else "not-the-password"}
        if row.body == "the CSRF token, as a form":
            cookie = auth.read_session_cookie(self.world.settings, self.sessions.get(role, ""))
            return {"csrf_token": auth.csrf_token(cookie or {})}
        if row.body.startswith("page "):
            cookie = auth.read_session_cookie(self.world.settings, self.sessions.get(role, ""))
            form: dict[str, Any] = {"csrf_token": auth.csrf_token(cookie or {})}
            if row.body == "page exercise log":
                form.update(exercise="walking", pain_nrs="3", difficulty="about_right")
            elif row.body == "page check answers":
                module = self.ready_task(A_PATIENT_TASK).education_module or ""
                answers = education_answers(module)["answers"]
                form.update({f"q{n}": str(a) for n, a in enumerate(answers, 1)},
                            confirmed_read="yes")
            elif row.body == "page task answers":
                form.update({"session_topics": ["fear", "worry"]})
            return form
        if row.body == "new user":
            return {"username": f"new-by-{role}", "password": PASSWORD,
                    "role": "physiotherapist", "clinic_id": north}
        if row.body == "referral":
            return {"display_name": f"Referred by {role}", "birth_year": 1970}
        if row.body == "self-referral":
            return {"clinic_id": north, "display_name": f"Self-referred while {role}",
                    "login": {"username": f"self-{role}", "password": PASSWORD}}
        if row.body == "exercise log":
            return {"exercise": "walking", "level": 1, "pain_nrs": 3,
                    "difficulty": "about_right"}
        if row.body == "check answers":
            module = self.ready_task(A_PATIENT_TASK).education_module or ""
            return {"answers": education_answers(module)["answers"]}
        if row.body == "task answers":
            assert task is not None
            if task.role == "patient":
                return {"data": education_answers(task.education_module or "")}
            if task.role == "physiotherapist":
                return {"data": {"session_topics": ["fear", "worry"]}}
            return {"data": {"referred_to": "Spine clinic", "confirmed": True}}
        if row.body == "reference bundle":
            files = read_bundle_dir(ROOT / "bpmn" / "betterback")
            return {"files": {name: data.decode() for name, data in files.items()}}
        assert not row.body, f"no body called {row.body!r}"
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything a refused call must leave as it was."""
        with transaction(self.world.db, write=False) as session:
            state: dict[str, Any] = {
                table.__name__: session.exec(select(func.count()).select_from(table)).one()
                for table in TABLES}
            state["ready tasks and claims"] = sorted(session.exec(
                select(ReadyTask.task_id, ReadyTask.claimed_by)).all())
            state["instance versions"] = sorted(session.exec(
                select(Instance.id, Instance.version)).all())
            state["active models"] = sorted(session.exec(
                select(ModelVersion.id).where(ModelVersion.active == True)).all())  # noqa: E712
        return state

    def tidy(self, row: Row, role: str) -> None:
        """Undo what an allowed claim leaves behind, so the next caller finds tasks free; after
        logging out (which revokes the bearer token, or ends the cookie sessions), log the
        role in again."""
        with transaction(self.world.db, write=True) as session:
            session.exec(update(ReadyTask).values(claimed_by=None))  # type: ignore[call-overload]
        if row.path == "/api/auth/logout" and ROLES[role] is not None:
            self.clients[role] = self.world.client(ROLES[role])
        if row.path == "/logout":
            self.log_in_to_page(role)


def _walk_to_specialist_referral(world: World, patients: list[tuple[str, str]]) -> None:
    """Low-risk patients who do not improve by 6 weeks: physio asks for a specialist, and the
    referral waits for a clinic lead."""
    for name, username in patients:
        client, _ = refer(world, name, username)
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2))
    world.sweep()
    for _, username in patients:
        complete(world.client(username), "follow_up_2w", {"proms": A["unchanged_proms"]})
    world.clock.advance(timedelta(weeks=4))
    world.sweep()
    for _, username in patients:
        complete(world.client(username), "follow_up_6w", {"proms": A["unchanged_proms"]})
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
            "location"].startswith("/login?")):
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

    response = client.request(row.method, url, follow_redirects=False,
                              **({"data": body} if row.via == "page" else {"json": body}))

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

