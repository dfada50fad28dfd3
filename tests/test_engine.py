"""The engine wrapper as a caller sees it: starting, completing, errors, timers, state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import yaml

from pathways.clock import ManualClock
from pathways.education import default_catalogue
from pathways.engine import PathwayEngine
from pathways.errors import (
    FormValidationError,
    StateMismatchError,
    TaskNotFoundError,
    TaskNotReadyError,
)
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel, load_bundle, load_bundle_dir, read_bundle_dir

from .conftest import BETTERBACK_DIR

ANSWERS = yaml.safe_load((BETTERBACK_DIR / "cases.yaml").read_text())["answers"]
NO_FLAGS = {"age": 40, "red_flags": ANSWERS["no_red_flags"]}


def _task(instance: PathwayInstance, name: str) -> str:
    return next(t.id for t in instance.ready_tasks() if t.name == name)


def _to_first_visit(instance: PathwayInstance, start_back: str = "medium_start_back") -> None:
    instance.complete_task(_task(instance, "red_flag_screen"), NO_FLAGS)
    instance.complete_task(_task(instance, "intake_questionnaires"),
                           {"start_back": ANSWERS[start_back],
                            "proms": ANSWERS["baseline_proms"]})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(betterback: PathwayModel, clock: ManualClock) -> PathwayEngine:
    return PathwayEngine(betterback, clock)


def test_a_new_episode_starts_with_the_red_flag_screen_for_the_patient(
        engine: PathwayEngine, clock: ManualClock) -> None:
    instance = engine.start({"referral": {"source": "self"}})
    [task] = instance.ready_tasks()
    assert (task.name, task.role, task.form) == ("red_flag_screen", "patient", "red_flag_screen")
    assert task.form_schema is not None and "red_flags" in task.form_schema["properties"]
    assert task.due_at == clock.now() + timedelta(days=3)
    assert instance.ready_tasks(role="physiotherapist") == []


@pytest.mark.parametrize(("answers", "field", "message"), [
    ({"age": 40}, "red_flags", "an answer is required"),
    ({"age": 400, "red_flags": ANSWERS["no_red_flags"]}, "age", "at most 120"),
    ({"age": "forty", "red_flags": ANSWERS["no_red_flags"]}, "age", "must be integer"),
    ({**NO_FLAGS, "shoe_size": 44}, "shoe_size", "not part of the form"),
    ({"age": 40, "red_flags": {**ANSWERS["no_red_flags"], "fever": "yes"}}, "red_flags.fever",
     "must be boolean"),
])
def test_bad_answers_get_field_level_messages_and_change_nothing(
        engine: PathwayEngine, answers: dict[str, Any], field: str, message: str) -> None:
    instance = engine.start()
    before = instance.state_json()
    task_id = _task(instance, "red_flag_screen")
    with pytest.raises(FormValidationError) as caught:
        instance.complete_task(task_id, answers)
    assert any(e.field == field and message in e.message for e in caught.value.errors), (
        caught.value.errors)
    assert instance.state_json() == before
    assert _task(instance, "red_flag_screen") == task_id


def test_completing_a_task_twice_says_someone_already_did_it(engine: PathwayEngine) -> None:
    instance = engine.start()
    task_id = _task(instance, "red_flag_screen")
    saved = instance.state_json()
    instance.complete_task(task_id, NO_FLAGS)
    with pytest.raises(TaskNotReadyError, match="already done"):
        instance.complete_task(task_id, NO_FLAGS)
    # A second worker holding the old state loses the race the same way once it reloads.
    assert engine.restore(saved).task(task_id).name == "red_flag_screen"


@pytest.mark.parametrize("task_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_task_is_not_found(engine: PathwayEngine, task_id: str) -> None:
    with pytest.raises(TaskNotFoundError, match="no task"):
        engine.start().complete_task(task_id, {})


def test_a_task_without_a_form_takes_no_answers(engine: PathwayEngine) -> None:
    from pathways.forms import validate_submission

    with pytest.raises(FormValidationError, match="takes no answers"):
        validate_submission(None, None, {"x": 1})
    assert validate_submission(None, None, {}) == {}


def test_free_text_notes_are_validated_but_kept_out_of_the_state(engine: PathwayEngine) -> None:
    instance = engine.start()
    _to_first_visit(instance)
    visit = dict(ANSWERS["first_visit"], assessment="A long private note " * 40)
    instance.complete_task(_task(instance, "first_visit"), visit)
    assert "A long private note" not in instance.state_json()
    assert "non_specific_lbp" in instance.state_json()


def test_timers_wait_for_the_clock_and_fire_when_due(engine: PathwayEngine,
                                                      clock: ManualClock) -> None:
    instance = engine.start()
    _to_first_visit(instance)
    instance.complete_task(_task(instance, "first_visit"), ANSWERS["first_visit"])
    timers = {t.name: t.due_at for t in instance.waiting_timers()}
    assert timers == {"exercise_week": clock.now() + timedelta(days=7),
                      "follow_up_2w_timer": clock.now() + timedelta(days=14)}
    assert instance.next_wake_at() == clock.now() + timedelta(days=7)
    clock.advance(timedelta(days=6, hours=23))
    assert instance.fire_due_timers() == []
    clock.advance(timedelta(hours=1))
    names = [e.name for e in instance.fire_due_timers()]
    assert names == ["timer_fired"]
    assert "weekly_check_in" in [t.name for t in instance.ready_tasks()]


def test_the_weekly_cycle_runs_52_weeks_and_the_state_does_not_grow(
        betterback: PathwayModel, clock: ManualClock) -> None:
    engine = PathwayEngine(betterback, clock)
    instance = engine.start(settings={"programme_weeks": 52, "registry_follow_up_months": []})
    _to_first_visit(instance)
    instance.complete_task(_task(instance, "first_visit"), ANSWERS["first_visit"])
    sizes = {}
    for week in range(1, 53):
        clock.advance(timedelta(days=7))
        instance.fire_due_timers()
        for task in instance.ready_tasks():
            if task.name.startswith("follow_up"):
                instance.complete_task(task.id, {"proms": ANSWERS["improved_proms"],
                                                 "red_flags": ANSWERS["no_new_flags"]})
        events = instance.complete_task(
            _task(instance, "weekly_check_in"),
            {"sessions_done": 3, "week_pain_nrs": 4, "pain_during": 3, "pain_settled": True,
             "painful_exercises": [], "too_hard_exercises": [], "red_flags": {
                 key: False for key in ("bladder_bowel_change", "saddle_numbness",
                                        "bilateral_leg_symptoms", "fever",
                                        "unexplained_weight_loss")}})
        instance = engine.restore(instance.state_json())
        sizes[week] = len(instance.state_json())
    assert "exercise_completed" in [e.name for e in events]
    assert sizes[52] <= sizes[1] * 1.2, sizes


def test_an_episode_restored_after_a_restart_goes_on_reading_its_modules(
        clock: ManualClock) -> None:
    """The model parsed afresh (a restarted service) must still move a patient who is in the
    middle of the education loop on to the next module."""
    before = PathwayEngine(load_bundle_dir(BETTERBACK_DIR), clock).start()
    _to_first_visit(before)
    before.complete_task(_task(before, "first_visit"), ANSWERS["first_visit"])
    instance = PathwayEngine(load_bundle_dir(BETTERBACK_DIR), clock).restore(
        before.state_json())
    read = []
    while any(t.name == "read_module" for t in instance.ready_tasks()):
        task = instance.task(_task(instance, "read_module"))
        module = default_catalogue().get(task.education_module or "")
        instance.complete_task(task.id, {"answers": [q.answer for q in module.check_questions],
                                         "confirmed_read": True})
        read.append(module.id)
    assert len(read) >= 3 and len(set(read)) == len(read), read  # one module after another


def test_state_is_plain_json_without_the_spec(engine: PathwayEngine) -> None:
    instance = engine.start()
    state = json.loads(instance.state_json())
    assert state["format"] == "carepath-state/1"
    assert "spec" not in state["workflow"] and "betterback_lbp" not in instance.state_json()


def test_state_from_another_model_version_is_refused(engine: PathwayEngine) -> None:
    files = read_bundle_dir(BETTERBACK_DIR)
    files["pathway.toml"] = files["pathway.toml"].replace(b"pi_sessions = 4", b"pi_sessions = 5")
    other = PathwayEngine(load_bundle(files))
    with pytest.raises(StateMismatchError, match="another model version"):
        other.restore(engine.start().state_json())
    with pytest.raises(StateMismatchError):
        engine.restore('{"workflow": {}}')


def test_settings_are_read_only_to_models_and_overrides_must_exist(
        engine: PathwayEngine) -> None:
    with pytest.raises(ValueError, match="unknown settings"):
        engine.start(settings={"programme_wekes": 3})
    with pytest.raises(ValueError, match="reserved names"):
        engine.start({"settings": {}})
    assert engine.sandbox is not None
