"""The reference pathway, case by case (bpmn/betterback/cases.yaml), with a save/restore round
trip after every step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from pathways.clock import ManualClock
from pathways.education import default_catalogue
from pathways.engine import PathwayEngine
from pathways.events import DomainEvent
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel

from .conftest import BETTERBACK_DIR

CASES = yaml.safe_load((BETTERBACK_DIR / "cases.yaml").read_text())["cases"]


def _matches(expected: Any, actual: Any) -> bool:
    """`expected` is a subset of `actual` (dicts by key, everything else by equality)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _assert_events(expected: list[Any], events: list[DomainEvent], step: int) -> None:
    position = 0
    for item in expected:
        name, data = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        for index in range(position, len(events)):
            if events[index].name == name and _matches(data, events[index].data):
                position = index + 1
                break
        else:
            seen = [(e.name, e.data) for e in events]
            pytest.fail(f"step {step}: expected event {name} {data or ''} in order; got {seen}")


def _round_trip(engine: PathwayEngine, instance: PathwayInstance) -> PathwayInstance:
    text = instance.state_json()
    restored = engine.restore(text)
    assert restored.state_json() == text
    assert [t.id for t in restored.ready_tasks()] == [t.id for t in instance.ready_tasks()]
    assert restored.waiting_timers() == instance.waiting_timers()
    return restored


def _run_step(step: dict[str, Any], instance: PathwayInstance,
              clock: ManualClock) -> list[DomainEvent]:
    if "advance_days" in step:
        clock.advance(timedelta(days=step["advance_days"]))
        return instance.fire_due_timers()
    if "read_education" in step:
        events: list[DomainEvent] = []
        while reading := [t for t in instance.ready_tasks() if t.name == "read_module"]:
            task = reading[0]
            assert task.role == "patient"
            module = default_catalogue().get(task.education_module or "")
            answers = [q.answer for q in module.check_questions]
            events += instance.complete_task(task.id, {"answers": answers,
                                                       "confirmed_read": True}, actor="patient")
        return events
    matching = [t for t in instance.ready_tasks() if t.name == step["complete"]]
    ready = sorted(t.name for t in instance.ready_tasks())
    assert matching, f"{step['complete']} is not ready; ready: {ready}"
    task = matching[0]
    assert task.role == step["as"], f"{task.name} belongs to {task.role}, not {step['as']}"
    return instance.complete_task(task.id, step["with"], actor=step["as"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pathway_case(case: dict[str, Any], betterback: PathwayModel) -> None:
    clock = ManualClock()
    engine = PathwayEngine(betterback, clock)
    instance = engine.start({"referral": {"source": "self"}}, settings=case.get("settings"))
    assert [e.name for e in instance.take_events()] == ["episode_started"]
    assert [t.name for t in instance.ready_tasks()] == ["red_flag_screen"]
    for number, step in enumerate(case["steps"], 1):
        events = _run_step(step, instance, clock)
        _assert_events(step.get("events", []), events, number)
        if "ready" in step:
            assert sorted(t.name for t in instance.ready_tasks()) == sorted(step["ready"]), (
                f"step {number}")
        for name, hours in step.get("due_hours", {}).items():
            task = next(t for t in instance.ready_tasks() if t.name == name)
            assert task.due_at == clock.now() + timedelta(hours=hours)
        instance = _round_trip(engine, instance)
    assert instance.is_completed == case["completed"]
