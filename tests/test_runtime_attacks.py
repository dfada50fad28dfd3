"""Runtime attacks: resource attacks that pass deploy-time validation are stopped at run time
with the episode rolled back to where it was.

The models come from the templates in hostile_models_support.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pathways.clock import ManualClock
from pathways.engine import PathwayEngine
from pathways.errors import StepFailedError
from pathways.instance import PathwayInstance
from pathways.models import load_bundle_dir, validate_paths

from .hostile_models_support import pain_band, rule_step, script_step, timer_step, write_bundle

# --- run time: attacks that pass validation are stopped and the episode rolled back --------


@dataclass(frozen=True)
class RuntimeAttack:
    bpmn: str
    dmn: str | None
    answers: dict[str, Any]
    element: str
    """The element the failure is reported at."""
    reason: str


RUNTIME_ATTACKS = {
    "cpu-bomb-script": RuntimeAttack(
        script_step("n = 0\nwhile True:\n    n += 1"), None, {"pain_level": 3},
        "compute", "stopped after 100000 loop steps"),
    "memory-bomb-script": RuntimeAttack(
        script_step("summary = 'a' * 10**10"), None, {"pain_level": 3},
        "compute", "a value of 10000000000 items is larger than the limit of 100000"),
    "string-doubling-script": RuntimeAttack(
        script_step("summary = 'ab'\nwhile True:\n    summary = summary + summary"), None,
        {"pain_level": 3}, "compute", "items is larger than the limit of 100000"),
    "timer-helper-raises": RuntimeAttack(
        timer_step("iso_duration(days=review_in_days)"), None,
        {"pain_level": 3, "review_in_days": -1},
        "wait", "iso_duration days must be a whole number of zero or more"),
    "memory-bomb-timer": RuntimeAttack(
        timer_step("'P' + 'D' * 10**10"), None, {"pain_level": 3},
        "wait", "larger than the limit of 100000"),
    "memory-bomb-dmn-cell": RuntimeAttack(
        rule_step(), pain_band([("? in ['mild'] * 10**9", '"mild"')]), {"pain_level": 3},
        "band", "larger than the limit of 100000"),
    "type-error-dmn-cell": RuntimeAttack(
        rule_step(), pain_band([("> 'moderate'", '"severe"')]), {"pain_level": 3},
        "band", "'>' not supported between instances of 'int' and 'str'"),
}


def started(tmp_path: Path, attack: RuntimeAttack) -> tuple[Path, PathwayEngine,
                                                            PathwayInstance]:
    bundle = write_bundle(tmp_path / "bundle", attack.bpmn, attack.dmn)
    engine = PathwayEngine(load_bundle_dir(bundle), ManualClock())
    instance = engine.start()
    instance.take_events()
    return bundle, engine, instance


@pytest.mark.parametrize("attack", RUNTIME_ATTACKS.values(), ids=RUNTIME_ATTACKS.keys())
def test_runtime_attack_is_stopped_and_the_episode_rolled_back(
        tmp_path: Path, attack: RuntimeAttack) -> None:
    bundle, engine, instance = started(tmp_path, attack)
    assert validate_paths([bundle]) == []  # the attack passes deploy-time validation
    [check_in] = instance.ready_tasks()
    before = instance.state_json()

    with pytest.raises(StepFailedError) as failed:
        instance.complete_task(check_in.id, attack.answers, actor="patient-1")

    assert failed.value.element == attack.element
    assert str(failed.value).startswith(f"the pathway could not continue at '{attack.element}'")
    assert instance.state_json() == before
    assert [t.id for t in instance.ready_tasks()] == [check_in.id]
    assert instance.take_events() == []
    assert [t.id for t in engine.restore(before).ready_tasks()] == [check_in.id]


@pytest.mark.parametrize("attack", [
    pytest.param(attack, id=name, marks=[])
    for name, attack in RUNTIME_ATTACKS.items()])
def test_runtime_failure_says_why(tmp_path: Path, attack: RuntimeAttack) -> None:
    _, _, instance = started(tmp_path, attack)
    [check_in] = instance.ready_tasks()
    with pytest.raises(StepFailedError) as failed:
        instance.complete_task(check_in.id, attack.answers)
    assert attack.reason in failed.value.detail


def test_after_a_failed_step_the_patient_can_resubmit(tmp_path: Path) -> None:
    _, engine, instance = started(tmp_path, RUNTIME_ATTACKS["timer-helper-raises"])
    [check_in] = instance.ready_tasks()
    with pytest.raises(StepFailedError):
        instance.complete_task(check_in.id, {"pain_level": 3, "review_in_days": -1})

    instance.complete_task(check_in.id, {"pain_level": 3, "review_in_days": 7})

    assert instance.ready_tasks() == []
    assert instance.next_wake_at() == engine.clock.now() + timedelta(days=7)


@pytest.mark.parametrize("output", [
    pytest.param("{'mild', 'severe'}", id="set"),
    pytest.param("[(band := []), band.append(band)][0]", id="self-containing-list"),
])
def test_decision_output_that_cannot_be_saved_fails_the_step(tmp_path: Path,
                                                             output: str) -> None:
    attack = RuntimeAttack(rule_step(), pain_band([("< 4", output)]), {"pain_level": 3},
                           "band", "")
    bundle, _, instance = started(tmp_path, attack)
    assert validate_paths([bundle]) == []
    [check_in] = instance.ready_tasks()
    before = instance.state_json()
    with pytest.raises(StepFailedError):
        instance.complete_task(check_in.id, attack.answers)
    assert instance.state_json() == before
