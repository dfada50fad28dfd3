"""Logging in safely, and bad input answered with a sentence, never a 500, never half-saved.

Every error answer has one shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from argon2 import Type
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import func, select

from pathways.models import read_bundle_dir
from service.db import transaction
from service.settings import DEFAULT_SECRET, ROOT, Settings
from service.tables import (
    Episode,
    Event,
    ExerciseLog,
    Instance,
    ModelVersion,
    Patient,
    ReadyTask,
    TaskSubmission,
    User,
)

from .conftest import PASSWORD, SERVICE_HASHER, A, World, find_task, refer

WRONG = "not-the-password"
POSTGRES = os.environ.get("CAREPATH_TEST_DATABASE") == "postgres"


def error_of(response: Response) -> dict[str, Any]:
    """The error of an answer, after checking it has the one shape every error has."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "fields"}, body
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"].split()) >= 3, error
    assert isinstance(error["fields"], list)
    assert all(set(f) == {"field", "message"} for f in error["fields"]), error
    return error


def saved_state(world: World) -> dict[str, Any]:
    """What a refused request must leave exactly as it was."""
    with transaction(world.db, write=False) as session:
        state: dict[str, Any] = {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Patient, User, Episode, Event, TaskSubmission, ExerciseLog,
                          ModelVersion)}
        state["instances"] = sorted(session.exec(select(Instance.id, Instance.version)).all())
        state["ready tasks"] = sorted(session.exec(select(ReadyTask.task_id)).all())
        state["active model"] = session.exec(select(ModelVersion.id).where(
            ModelVersion.active == True)).all()  # noqa: E712
    return state


# -- Logging in -----------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["/api/auth/token", "/api/auth/login"])
def test_the_sixth_wrong_password_in_five_minutes_locks_the_login_until_they_pass(
        world: World, endpoint: str) -> None:
    client = world.client()

    def attempt(password: str) -> Response:
        client.cookies.clear()  # each attempt as if from a fresh browser
        return client.post(endpoint, json={"username": "physio", "password": password})

    for _ in range(5):
        assert error_of(attempt(WRONG))["code"] == "not_authenticated"
    limited = attempt(WRONG)
    assert limited.status_code == 429
    message = error_of(limited)["message"]
    assert re.fullmatch(r"[A-Z][^.]*wait \d+ minutes[^.]*\.?", message), message
    # While limited even the right password is refused: guessing cannot go on.
    assert attempt(PASSWORD).status_code == 429
    world.clock.advance(timedelta(minutes=4))
    assert attempt(PASSWORD).status_code == 429
    world.clock.advance(timedelta(minutes=2))
    assert attempt(PASSWORD).status_code == 200
    # A good login clears the count.
    assert attempt(WRONG).status_code == 401
    assert attempt(PASSWORD).status_code == 200


def test_logging_in_again_while_a_session_cookie_is_still_valid_works(world: World) -> None:
    client, _, _ = _cookie_login(world, "physio")
    again = client.post("/api/auth/login", json={"username": "physio2", "password": PASSWORD})
    assert again.status_code == 200, again.text


def test_failed_logins_for_one_user_do_not_lock_out_another(world: World) -> None:
    client = world.client()
    for _ in range(6):
        client.post("/api/auth/token", json={"username": "physio", "password": WRONG})
    assert client.post("/api/auth/token",
                       json={"username": "physio2", "password": PASSWORD}).status_code == 200


def test_one_address_can_self_refer_only_so_often_and_a_refused_one_saves_nothing(
        world: World) -> None:
    """Self-referral needs no login; one client address gets a limited number per window,
    then a clear 429 (and no patient, login or episode is made for the refused one)."""
    limit = world.settings.self_referrals_per_window
    public = world.client()

    def self_refer(n: int) -> Response:
        return public.post("/api/self-referrals", json={
            "clinic_id": world.clinics["north"], "display_name": f"Walk-in {n}",
            "login": {"username": f"walkin{n}", "password": PASSWORD}})

    for n in range(limit):
        assert self_refer(n).status_code == 201
    patients, episodes = world.count(Patient), world.count(Episode)
    refused = self_refer(limit)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "too_many_self_referrals"
    assert "ask your clinic to refer you" in error["message"]
    assert (world.count(Patient), world.count(Episode)) == (patients, episodes)
    assert world.count(User, username=f"walkin{limit}") == 0
    # A clinician's referral is not limited by it, and after the window the address may
    # refer itself again.
    refer(world, "Referred meanwhile", "referredmeanwhile")
    world.clock.advance(timedelta(seconds=world.settings.self_referral_window_seconds + 1))
    assert self_refer(limit + 1).status_code == 201


def test_logging_out_revokes_the_bearer_token_at_once(world: World) -> None:
    client = world.client("physio")
    other = world.client("physio")  # another device of the same person keeps its token
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 204
    refused = client.get("/api/me")
    assert refused.status_code == 401, refused.text
    assert other.get("/api/me").status_code == 200


def _page_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert found, "the page has no logout form: log in first"
    return found.group(1)


def test_logging_out_of_the_pages_ends_the_session_on_the_server(world: World) -> None:
    """A copied session cookie is refused once its owner has logged out, and so is the one on
    their other device; logging in again works."""
    from .conftest import page_login

    browser, other_device = page_login(world, "physio"), page_login(world, "physio")
    copied = browser.cookies.get("carepath_session")
    assert browser.get("/worklist").status_code == 200
    out = browser.post("/logout", data={"csrf_token": _page_csrf(browser)},
                       follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    thief = TestClient(world.app, raise_server_exceptions=False)
    thief.cookies.set("carepath_session", copied)
    refused = thief.get("/worklist", follow_redirects=False)
    assert refused.status_code == 303, refused.text
    assert refused.headers["location"].startswith("/login")
    assert thief.get("/api/me").status_code == 401
    assert other_device.get("/worklist", follow_redirects=False).status_code == 303
    again = page_login(world, "physio")
    assert again.get("/worklist").status_code == 200


def test_logging_out_through_the_api_ends_a_cookie_session_only_with_its_csrf_token(
        world: World) -> None:
    client = TestClient(world.app, raise_server_exceptions=False)
    login = client.post("/api/auth/login", json={"username": "physio", "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie = client.cookies.get("carepath_session")
    # Without the token (a cross-site form could send the cookie) nothing ends.
    forged = TestClient(world.app, raise_server_exceptions=False)
    forged.cookies.set("carepath_session", cookie)
    assert forged.post("/api/auth/logout").status_code == 204
    client.cookies.set("carepath_session", cookie)
    assert client.get("/api/me").status_code == 200
    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert out.status_code == 204
    client.cookies.set("carepath_session", cookie)
    assert client.get("/api/me").status_code == 401


def test_passwords_are_stored_only_as_argon2_hashes(world: World) -> None:
    admin = world.client("admin")
    created = admin.post("/api/users", json={"username": "newlead", "password": PASSWORD,
                                             "role": "clinic_lead",
                                             "clinic_id": world.clinics["north"]})
    assert created.status_code == 201, created.text
    refer(world, "Nora", "nora")
    self_referred = world.client().post("/api/self-referrals", json={
        "clinic_id": world.clinics["north"], "display_name": "Olle",
        "login": {"username": "olle", "password": PASSWORD}})
    assert self_referred.status_code == 201, self_referred.text
    with transaction(world.db, write=False) as session:
        hashes = dict(session.exec(select(User.username, User.password_hash)).all())
    for username in ("newlead", "nora", "olle", "physio"):
        assert hashes[username].startswith("$argon2id$"), username
        assert PASSWORD not in hashes[username]
    assert len(set(hashes.values())) == len(hashes), "every hash is salted"
    assert "password" not in created.text
    # The service's own parameters (tests swap in cheap ones): at least OWASP's minimum.
    assert SERVICE_HASHER.type is Type.ID
    assert SERVICE_HASHER.memory_cost >= 19 * 1024 and SERVICE_HASHER.time_cost >= 2


def _cookie_login(world: World, username: str = "physio") -> tuple[TestClient, str, Response]:
    client = world.client()
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"], response


def test_a_cookie_login_sets_an_httponly_samesite_lax_session_cookie(world: World) -> None:
    _, csrf, response = _cookie_login(world)
    header = response.headers["set-cookie"]
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie["carepath_session"]
    assert morsel["httponly"] is True, header
    assert morsel["samesite"].lower() == "lax", header
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == world.settings.session_max_age_seconds
    assert csrf and csrf not in morsel.value


@pytest.mark.parametrize(("csrf_header", "status"), [
    pytest.param(None, 403, id="no CSRF token"),
    pytest.param("made-up", 403, id="a wrong CSRF token"),
    pytest.param("from login", 201, id="the CSRF token from the login"),
])
def test_a_cookie_authenticated_change_needs_the_csrf_token(
        world: World, csrf_header: str | None, status: int) -> None:
    client, csrf, _ = _cookie_login(world)
    assert client.get("/api/me").status_code == 200, "reading needs no CSRF token"
    headers = {} if csrf_header is None else {
        "X-CSRF-Token": csrf if csrf_header == "from login" else csrf_header}
    before = saved_state(world)
    response = client.post("/api/referrals", json={"display_name": "Petra"}, headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert "CSRF" in error_of(response)["message"]
        assert saved_state(world) == before


@pytest.mark.parametrize("tamper", [
    # Not the last character: its low bits are base64 padding and may not change the bytes.
    pytest.param(lambda v: v[:-6] + ("A" if v[-6] != "A" else "B") + v[-5:],
                 id="a changed signature"),
    pytest.param(lambda v: "eyJ1aWQiOjF9" + v[v.index("."):], id="another user id"),
    pytest.param(lambda v: "garbage", id="garbage"),
])
def test_a_tampered_session_cookie_is_ignored(world: World, tamper: Any) -> None:
    client, _, _ = _cookie_login(world)
    value = client.cookies["carepath_session"]
    client.cookies.clear()
    client.cookies.set("carepath_session", tamper(value))
    response = client.get("/api/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_a_bearer_token_lasts_twelve_hours(world: World) -> None:
    client = world.client("physio")
    world.clock.advance(timedelta(hours=11, minutes=59))
    assert client.get("/api/me").status_code == 200
    world.clock.advance(timedelta(minutes=2))
    response = client.get("/api/me")
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize(("secret", "refused"), [
    pytest.param(None, True, id="the default secret"),
    pytest.param(DEFAULT_SECRET, True, id="the default secret, given explicitly"),
    pytest.param("short-secret", True, id="a short secret"),
    pytest.param("x7F" * 16, False, id="48 characters"),
])
def test_production_refuses_to_start_without_a_real_secret_key(
        monkeypatch: pytest.MonkeyPatch, secret: str | None, refused: bool) -> None:
    monkeypatch.delenv("CAREPATH_SECRET_KEY", raising=False)
    given = {} if secret is None else {"secret_key": secret}
    if refused:
        with pytest.raises(ValueError, match="CAREPATH_SECRET_KEY"):
            Settings(mode="production", **given)
    else:
        assert Settings(mode="production", **given).secret_key == secret


# -- Bad input ------------------------------------------------------------------------------

RED_FLAGS_OK = {"age": 45, "red_flags": A["no_red_flags"]}


@dataclass(frozen=True)
class Bad:
    """A bad request and the answer it should get."""

    who: str | None
    method: str
    path: str
    """May name {task_id} (the patient's red-flag screen) and {episode_id} (their episode)."""
    status: int | tuple[int, ...]
    code: str | None = None
    fields: tuple[str, ...] = ()
    """Fields the error must name."""
    json: Any = None
    content: str | None = None
    params: dict[str, Any] = field(default_factory=dict)



BAD_REQUESTS = [
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_request",
                     content='{"data": {"age": 45,'), id="malformed JSON"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_request",
                     json=[RED_FLAGS_OK]), id="a list instead of an object"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_request",
                     ("data",), json={"data": "yes"}), id="answers that are not an object"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_answers",
                     ("age",), json={"data": {**RED_FLAGS_OK, "age": "forty"}}),
                 id="an answer of the wrong type"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_answers",
                     ("age",), json={"data": {**RED_FLAGS_OK, "age": 300}}),
                 id="an answer out of range"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_answers",
                     json={"data": A["first_visit"]}), id="answers to another form"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 422, "invalid_answers",
                     json={"data": {**RED_FLAGS_OK, "diagnosis": "sciatica"}}),
                 id="an unknown answer"),
    pytest.param(Bad("nina", "POST",
                     "/api/tasks/3f1b8f0e-5b5c-4a5e-9a4e-6a7d1c2b9e10/complete", 404,
                     json={"data": RED_FLAGS_OK}), id="an unknown task id"),
    pytest.param(Bad("nina", "POST", "/api/tasks/not-a-task/complete", 404,
                     json={"data": RED_FLAGS_OK}), id="a task id that is no id"),
    pytest.param(Bad(None, "POST", "/api/self-referrals", 422, "invalid_request", ("clinic_id",),
                     json={"clinic_id": 999, "display_name": "Quinn",
                           "login": {"username": "quinn", "password": PASSWORD}}),
                 id="self-referral to an unknown clinic"),
    pytest.param(Bad(None, "POST", "/api/self-referrals", 409, "conflict",
                     json={"clinic_id": 1, "display_name": "Quinn",  # 1: north
                           "login": {"username": "physio", "password": PASSWORD}}),
                 id="self-referral with a taken username"),
    pytest.param(Bad("physio", "POST", "/api/referrals", 409, "conflict",
                     json={"display_name": "Quinn",
                           "login": {"username": "nina", "password": PASSWORD}}),
                 id="referral with a taken username"),
    pytest.param(Bad("admin", "POST", "/api/users", 409, "conflict",
                     json={"username": "physio", "password": PASSWORD, "role": "auditor"}),
                 id="a user with a taken username"),
    pytest.param(Bad("admin", "POST", "/api/users", 422, "invalid_request", ("password",),
                     json={"username": "rita", "password": "short", "role": "auditor"}),
                 id="a user with a short password"),
    pytest.param(Bad("admin", "POST", "/api/users", 422, "invalid_request", ("clinic_id",),
                     json={"username": "rita", "password": PASSWORD,
                           "role": "physiotherapist"}),
                 id="a physiotherapist without a clinic"),
    pytest.param(Bad("nina", "POST", "/api/episodes/{episode_id}/exercise-logs", 422,
                     "invalid_request", ("exercise",),
                     json={"exercise": "levitation", "level": 1, "pain_nrs": 2,
                           "difficulty": "about_right"}), id="an exercise not in the library"),
    pytest.param(Bad("nina", "POST", "/api/episodes/{episode_id}/exercise-logs", 422,
                     "invalid_request", ("pain_nrs",),
                     json={"exercise": "walking", "level": 1, "pain_nrs": 11,
                           "difficulty": "about_right"}), id="pain above 10"),
    pytest.param(Bad("nina", "POST", "/api/episodes/{episode_id}/education/nope/confirm", 404,
                     json={"answers": [0]}), id="confirming a module nobody assigned"),
    pytest.param(Bad("nina", "GET", "/api/episodes/first", 422, "invalid_request"),
                 id="an episode id that is not a number"),
    pytest.param(Bad("nina", "GET", "/api/tasks", 422, "invalid_request", params={"limit": 0}),
                 id="a page of no tasks"),
    # Ids and offsets beyond what the database stores: "not found" or "fix the request".
    pytest.param(Bad("nina", "GET", f"/api/episodes/{2**63}", (404, 422)),
                 id="an episode id beyond 64 bits"),
    pytest.param(Bad("nina", "GET", f"/api/episodes/{2**31}", (404, 422)),
                 id="an episode id beyond 32 bits"),
    pytest.param(Bad("physio", "GET", "/api/tasks", (200, 422), params={"offset": 10**20}),
                 id="a task page offset beyond 64 bits"),
    pytest.param(Bad("auditor", "GET", "/api/audit/events", (200, 422),
                     params={"after_id": 10**20}),
                 id="audit events after an id beyond 64 bits"),
    pytest.param(Bad("manager", "GET", f"/api/models/{2**63}/files", (404, 422)),
                 id="a model version id beyond 64 bits"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 400,
                     content='{"data": {"age": ' + "[" * 20000 + "]" * 20000 + "}}"),
                 id="answers nested 20000 deep"),
    pytest.param(Bad("nina", "POST", "/api/tasks/{task_id}/complete", 400,
                     content='{"data": {"age": 1' + "0" * 5000 + "}}"),
                 id="a number 5000 digits long"),
]


@pytest.fixture
def nina(world: World) -> tuple[str, int]:
    """A patient, Nina, whose red-flag screen is waiting: (task id, episode id)."""
    patient, episode_id = refer(world, "Nina", "nina")
    return find_task(patient, "red_flag_screen")["task_id"], episode_id


@pytest.mark.parametrize("bad", BAD_REQUESTS)
def test_bad_input_gets_a_sentence_never_a_500_and_saves_nothing(
        world: World, nina: tuple[str, int], bad: Bad) -> None:
    task_id, episode_id = nina
    client = world.client(bad.who)
    before = saved_state(world)
    headers = {"content-type": "application/json"} if bad.content is not None else {}
    response = client.request(bad.method, bad.path.format(task_id=task_id, episode_id=episode_id),
                              json=bad.json, content=bad.content, params=bad.params,
                              headers=headers)
    allowed = bad.status if isinstance(bad.status, tuple) else (bad.status,)
    assert response.status_code in allowed, response.text
    assert saved_state(world) == before, "a refused request saved something"
    if response.status_code < 400:
        return
    error = error_of(response)
    if bad.code:
        assert error["code"] == bad.code, error
    named = {f["field"].removeprefix("query.").removeprefix("path.") for f in error["fields"]}
    assert set(bad.fields) <= named, error


def test_an_unknown_answer_is_named_in_the_error_fields(
        world: World, nina: tuple[str, int]) -> None:
    task_id, _ = nina
    response = world.client("nina").post(f"/api/tasks/{task_id}/complete", json={
        "data": {**RED_FLAGS_OK, "diagnosis": "sciatica"}})
    assert response.status_code == 422
    assert [f["field"] for f in error_of(response)["fields"]] == ["diagnosis"]


def test_every_missing_answer_is_named_once(world: World, nina: tuple[str, int]) -> None:
    task_id, _ = nina
    response = world.client("nina").post(f"/api/tasks/{task_id}/complete", json={"data": {}})
    assert response.status_code == 422
    assert sorted(f["field"] for f in error_of(response)["fields"]) == ["age", "red_flags"]


# -- Model uploads --------------------------------------------------------------------------

def reference_bundle() -> dict[str, str]:
    return {name: data.decode("utf-8")
            for name, data in read_bundle_dir(ROOT / "bpmn" / "betterback").items()}


def _with_doctype(bpmn: str, doctype: str) -> str:
    end = bpmn.index("?>") + 2
    return bpmn[:end] + "\n" + doctype + bpmn[end:]


SCRIPT = "<bpmn:script>care_started_at = now()"
HOSTILE_MODELS = [
    pytest.param(lambda bpmn: _with_doctype(bpmn.replace(SCRIPT, SCRIPT + "\nx = '&xxe;'"),
                                            '<!DOCTYPE d [<!ENTITY xxe SYSTEM '
                                            '"file:///etc/passwd">]>'),
                 "betterback.bpmn:", "DOCTYPE", id="an external entity"),
    pytest.param(lambda bpmn: _with_doctype(bpmn, '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
                                            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'),
                 "betterback.bpmn:", "DOCTYPE", id="an entity expansion bomb"),
    pytest.param(lambda bpmn: bpmn.replace(SCRIPT, "<bpmn:script>import os\n"
                                                   "care_started_at = now()"),
                 "betterback.bpmn:plan_care", "import", id="a script that imports os"),
    pytest.param(lambda bpmn: bpmn.replace(SCRIPT, "<bpmn:script>care_started_at = "
                                                   "().__class__.__base__.__subclasses__()"),
                 "betterback.bpmn:plan_care", "__class__", id="a script reaching for dunders"),
    pytest.param(lambda bpmn: bpmn[: len(bpmn) // 2], "betterback.bpmn:", "XML",
                 id="half a file"),
]


@pytest.mark.parametrize(("spoil", "where", "problem"), HOSTILE_MODELS)
def test_a_hostile_model_is_refused_with_the_problem_named(
        world: World, spoil: Any, where: str, problem: str) -> None:
    files = reference_bundle()
    files["betterback.bpmn"] = spoil(files["betterback.bpmn"])
    before = saved_state(world)
    response = world.client("manager").post("/api/models", json={"files": files})
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_model"
    assert any(f["field"] == where and problem in f["message"] for f in error["fields"]), error
    assert saved_state(world) == before


def test_the_reference_bundle_uploads_and_a_changed_bundle_becomes_a_new_active_version(
        world: World) -> None:
    manager = world.client("manager")
    files = reference_bundle()
    same = manager.post("/api/models", json={"files": files})
    assert same.status_code == 201, same.text
    assert world.count(ModelVersion) == 1, "the same files are the same version"
    files["pathway.toml"] = files["pathway.toml"].replace("pi_sessions = 4", "pi_sessions = 6")
    changed = manager.post("/api/models", json={"files": files})
    assert changed.status_code == 201, changed.text
    assert changed.json()["active"] is True and changed.json()["id"] != same.json()["id"]
    versions = manager.get("/api/models").json()
    assert [v["active"] for v in versions] == [True, False]
    stored = manager.get(f"/api/models/{changed.json()['id']}/files").json()
    assert "pi_sessions = 6" in stored["pathway.toml"]
