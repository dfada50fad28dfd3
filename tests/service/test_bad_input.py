"""Bad input answered with a sentence, never a 500, never half-saved.

Malformed, out-of-range or conflicting requests, and hostile model uploads, are refused with
the one error shape (see `error_checks`) and leave the database as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pathways.models import read_bundle_dir
from service.core.settings import ROOT
from service.core.tables import ModelVersion

from ..hostile_models_support import timer_step, write_bundle
from .conftest import PASSWORD, A, World, find_task, refer
from .error_checks import error_of, saved_state

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
    pytest.param(Bad("nina", "GET", "/api/tasks", 422, "invalid_request", ("role",),
                     params={"role": "nurse"}), id="tasks of a role nobody has"),
    pytest.param(Bad("physio", "GET", "/api/tasks", 422, "invalid_request", ("role",),
                     params={"role": "clinic_lead"}),
                 id="a physiotherapist asking for the clinic lead's tasks"),
    pytest.param(Bad("nina", "GET", "/api/tasks", 422, "invalid_request", ("role",),
                     params={"role": "physiotherapist"}),
                 id="a patient asking for the physiotherapists' tasks"),
    pytest.param(Bad("physio", "GET", "/api/tasks", 422, "invalid_request", ("stratum",),
                     params={"stratum": "severe"}), id="tasks of a stratum there is not"),
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


# -- Settings


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("CAREPATH_THREADS", "-1", "CAREPATH_THREADS: Input should be greater than or equal to 0 "
                               "(given: '-1')"),
    ("CAREPATH_WORKERS", "two", "CAREPATH_WORKERS: Input should be a valid integer"),
    ("CAREPATH_MODE", "production", "CAREPATH_SECRET_KEY must be set"),
    ("CAREPATH_MODE", "test", "CAREPATH_MODE: Input should be 'development' or 'production'"),
])
def test_a_bad_setting_stops_the_command_line_with_one_line_naming_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str,
        value: str, says: str) -> None:
    from service.cli import main
    from service.core.settings import get_settings

    monkeypatch.setenv(variable, value)
    monkeypatch.delenv("CAREPATH_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as stopped:
            main(["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("carepath: configuration error: "), lines
    assert says in lines[0]


def test_a_clash_the_database_catches_is_a_409_page_or_json_never_a_500(world: World) -> None:
    from sqlalchemy.exc import IntegrityError

    def clash() -> None:  # what a unique constraint says when two requests insert at once
        raise IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))

    world.app.add_api_route("/api/clash", clash)
    world.app.add_api_route("/clash", clash)
    api, page = world.client().get("/api/clash"), world.client().get("/clash")
    assert api.status_code == page.status_code == 409
    assert "saved at the same moment" in error_of(api)["message"]
    assert page.headers["content-type"].startswith("text/html")
    assert "saved at the same moment" in page.text


def test_a_failing_engine_step_answers_422_and_the_whole_request_is_rolled_back(
        world: World, tmp_path: Path) -> None:
    # A model that passes deploy-time validation, whose timer fails at run time on a bad
    # answer (a negative number of days).
    bundle = write_bundle(tmp_path / "bundle", timer_step("iso_duration(days=review_in_days)"))
    files = {name: data.decode("utf-8") for name, data in read_bundle_dir(bundle).items()}
    deployed = world.client("manager").post("/api/models", json={"files": files})
    assert deployed.status_code == 201, deployed.text
    patient, _episode_id = refer(world, "Nina", "nina")
    task = find_task(patient, "check_in")
    before = saved_state(world)

    response = patient.post(f"/api/tasks/{task['task_id']}/complete",
                            json={"data": {"pain_level": 3, "review_in_days": -1}})

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "pathway_step_failed", error
    assert "could not continue at 'wait'" in error["message"], error
    assert saved_state(world) == before, "the failed step left something saved"
    assert find_task(patient, "check_in")["task_id"] == task["task_id"]
