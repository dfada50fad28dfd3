"""Run pathway cases (answers in, expected route, tasks and events out) against a model.

Cases live beside the model (`cases.yaml`, format described at its top). The test suite
asserts on every step; `carepath simulate` prints them. Every step is followed by a
save/restore round trip, so each case also proves the state survives persistence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from .clock import ManualClock
from .education import default_catalogue
from .engine import PathwayEngine
from .events import DomainEvent
from .instance import PathwayInstance
from .models import PathwayModel

START_DATA = {"referral": {"source": "self"}}


@dataclass
class StepResult:
    number: int
    action: str
    at: str
    events: list[DomainEvent]
    ready: list[str]
    waiting: list[str]
    problems: list[str] = field(default_factory=list)


def load_cases(bundle: Path) -> list[dict[str, Any]]:
    path = bundle / "cases.yaml"
    if not path.is_file():
        return []
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text())["cases"]
    return cases


def run_case(model: PathwayModel, case: dict[str, Any]) -> Iterator[StepResult]:
    clock = ManualClock()
    engine = PathwayEngine(model, clock)
    instance = engine.start(START_DATA, settings=case.get("settings"))
    yield _result(0, "episode started", instance, clock, instance.take_events())
    for number, step in enumerate(expand_steps(case["steps"]), 1):
        action, events = _run_step(step, instance, clock)
        result = _result(number, action, instance, clock, events)
        result.problems = _check(step, result, instance, clock)
        instance, round_trip_problems = _round_trip(engine, instance)
        result.problems += round_trip_problems
        yield result
        if result.problems:
            return
    if instance.is_completed != case.get("completed", instance.is_completed):
        final = StepResult(len(expand_steps(case["steps"])) + 1, "end of case",
                           clock.now().isoformat(), [], [], [])
        final.problems = [f"expected completed={case['completed']}, got {instance.is_completed}"]
        yield final


def expand_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps with each `repeat: N` (and its `steps:`) written out N times, so a case can run a
    full-length programme without copying a week twelve times."""
    out: list[dict[str, Any]] = []
    for step in steps:
        if "repeat" in step:
            out += expand_steps(step["steps"]) * int(step["repeat"])
        else:
            out.append(step)
    return out


def _result(number: int, action: str, instance: PathwayInstance, clock: ManualClock,
            events: list[DomainEvent]) -> StepResult:
    return StepResult(
        number, action, clock.now().isoformat(), events,
        sorted(f"{t.name} ({t.role})" for t in instance.ready_tasks()),
        [f"{w.name} at {w.due_at.isoformat()}" for w in instance.waiting_timers()],
    )


def _run_step(step: dict[str, Any], instance: PathwayInstance,
              clock: ManualClock) -> tuple[str, list[DomainEvent]]:
    if "advance_days" in step:
        clock.advance(timedelta(days=step["advance_days"]))
        return f"{step['advance_days']} days pass", instance.fire_due_timers()
    if "read_education" in step:
        events: list[DomainEvent] = []
        read = []
        while tasks := [t for t in instance.ready_tasks()
                        if t.education_module and t.role == "patient"]:
            task = tasks[0]
            module = default_catalogue().get(task.education_module or "")
            answers = [q.answer for q in module.check_questions]
            events += instance.complete_task(
                task.id, {"answers": answers, "confirmed_read": True}, actor=task.role)
            read.append(module.id)
        return f"patient reads {', '.join(read)}", events
    name, role = step["complete"], step["as"]
    tasks = [t for t in instance.ready_tasks() if t.name == name and t.role == role]
    if not tasks:
        ready = sorted(f"{t.name} ({t.role})" for t in instance.ready_tasks())
        raise AssertionError(f"{name} is not ready for {role}; ready: {ready}")
    return f"{role} completes {name}", instance.complete_task(tasks[0].id, step["with"],
                                                             actor=role)


def _check(step: dict[str, Any], result: StepResult, instance: PathwayInstance,
           clock: ManualClock) -> list[str]:
    problems = _missing_events(step.get("events", []), result.events)
    names = {e.name for e in result.events}
    problems += [f"event {name} happened, expected not" for name in step.get("no_events", [])
                 if name in names]
    if "ready" in step:
        ready = sorted(t.name for t in instance.ready_tasks())
        if ready != sorted(step["ready"]):
            problems.append(f"ready tasks are {ready}, expected {sorted(step['ready'])}")
    for name, hours in step.get("due_hours", {}).items():
        due = next((t.due_at for t in instance.ready_tasks() if t.name == name), None)
        if due != clock.now() + timedelta(hours=hours):
            problems.append(f"{name} is due {due}, expected in {hours} hours")
    return problems


def _missing_events(expected: list[Any], events: list[DomainEvent]) -> list[str]:
    position = 0
    for item in expected:
        name, data = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        for index in range(position, len(events)):
            if events[index].name == name and _matches(data, events[index].data):
                position = index + 1
                break
        else:
            seen = [e.name for e in events]
            return [f"expected event {name} {data or ''} (in order); got {seen}"]
    return []


def _matches(expected: Any, actual: Any) -> bool:
    """`expected` is a subset of `actual`: dicts by key, lists item by item (same length),
    everything else by equality."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(_matches(e, a) for e, a in zip(expected, actual, strict=True)))
    return bool(expected == actual)


def _round_trip(engine: PathwayEngine,
                instance: PathwayInstance) -> tuple[PathwayInstance, list[str]]:
    text = instance.state_json()
    restored = engine.restore(text)
    problems = []
    # Encode the restored workflow afresh (state_json() would hand back the text it came from).
    if json.dumps(restored.state(), separators=(",", ":")) != text:
        problems.append("state changed in a save/restore round trip")
    if sorted(t.id for t in restored.ready_tasks()) != sorted(t.id for t in instance.ready_tasks()):
        problems.append("ready tasks changed in a save/restore round trip")
    if restored.waiting_timers() != instance.waiting_timers():
        problems.append("timers changed in a save/restore round trip")
    return restored, problems
