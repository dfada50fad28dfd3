"""SpiffWorkflow alone, as shipped, for bench/engine.py to compare carepath's step with: its
own serializer, no cycle restarts, no pruning, none of carepath's shortcuts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from bench.stats import BenchError
from pathways.clock import ManualClock, use_clock
from pathways.engine import instance_names
from pathways.workflow import quiet_state_changes, spiff_serializer

if TYPE_CHECKING:
    from bench.engine import Answers

WEEK = timedelta(days=7)


def raw_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer: raw steps read a carepath workflow back as the plain
    BpmnWorkflow it extends, and run SpiffWorkflow alone."""
    return spiff_serializer()


@contextmanager
def bound(clock: ManualClock, settings: Mapping[str, Any]) -> Iterator[None]:
    """What carepath binds around every step: the injected clock and the `settings` name.
    The model's scripts read settings[...], so a raw step needs them too."""
    with use_clock(clock), instance_names({"settings": settings}):
        yield


def ready_named(workflow: BpmnWorkflow, name: str) -> Any:
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        if task.task_spec.bpmn_id == name:
            return task
    return None


def raw_step(serializer: BpmnWorkflowSerializer, text: str, engine: PythonScriptEngine,
             answers: Mapping[str, Any]) -> tuple[str, list[float]]:
    """deserialize_json, run weekly_check_in, do_engine_steps, serialize_json: (json, phases).
    SpiffWorkflow as shipped: without the state-change shortcut carepath installs."""
    quiet_state_changes(enabled=False)
    try:
        return _raw_step(serializer, text, engine, answers)
    finally:
        quiet_state_changes()


def _raw_step(serializer: BpmnWorkflowSerializer, text: str, engine: PythonScriptEngine,
              answers: Mapping[str, Any]) -> tuple[str, list[float]]:
    t0 = time.perf_counter()
    workflow = serializer.deserialize_json(text)
    workflow.script_engine = engine
    t1 = time.perf_counter()
    _check_in(workflow, answers)
    t2 = time.perf_counter()
    out: str = serializer.serialize_json(workflow)
    t3 = time.perf_counter()
    return out, [t3 - t0, t1 - t0, t2 - t1, t3 - t2]


def _check_in(workflow: BpmnWorkflow, answers: Mapping[str, Any]) -> None:
    """The step both raw references time: the weekly check-in with `answers`, then the
    engine steps after it."""
    task = ready_named(workflow, "weekly_check_in")
    if task is None:
        raise BenchError("weekly_check_in is not READY in the raw workflow")
    task.data.update(answers)
    task.run()
    workflow.do_engine_steps()


def raw_week(workflow: BpmnWorkflow, clock: ManualClock, settings: Mapping[str, Any],
             answers: Answers) -> None:
    """SpiffWorkflow alone: no cycle restarts, no pruning. Its timers fire only strictly
    after their due time, so this clock moves 7 days and 1 second a week."""
    clock.advance(WEEK + timedelta(seconds=1))
    with bound(clock, settings):
        workflow.refresh_timers()
        workflow.do_engine_steps()
        while True:
            tasks = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id != "discharge"]
            if not tasks:
                return
            task, name = tasks[0], tasks[0].task_spec.bpmn_id
            if name == "weekly_check_in":
                task.data.update(answers.by_task[name])
            elif name.startswith("follow_up_"):
                task.data.update(answers.follow_up)
            elif name == "exercise_alert_review":
                task.data.update(answers.alert_review)
            else:
                raise BenchError(f"unexpected ready task {name} in the raw workflow")
            task.run()
            workflow.do_engine_steps()


def raw_finished_programme(workflow: BpmnWorkflow) -> bool:
    done = any(t.task_spec.bpmn_id == "finish_exercise" and t.state == TaskState.COMPLETED
               for t in workflow.tasks.values())
    return done and ready_named(workflow, "discharge") is not None


SPEC_KEYS = ("spec", "subprocess_specs")
"""What a SpiffWorkflow application stores once per model, not in every instance's state."""


def split_spec(text: str) -> tuple[str, str]:
    """The state of `text` without the spec, and the spec parts as JSON of their own (kept
    apart, as an application keeps them in a table of their own, once per model)."""
    doc = json.loads(text)
    spec = {key: doc.pop(key) for key in SPEC_KEYS}
    return json.dumps(doc), json.dumps(spec)


def raw_step_spec_apart(serializer: BpmnWorkflowSerializer, text: str, spec: str,
                        engine: PythonScriptEngine,
                        answers: Mapping[str, Any]) -> tuple[str, list[float]]:
    """raw_step with the spec stored apart, as SpiffWorkflow applications store it: the state
    and the spec's JSON are parsed and restored together with from_dict (which takes the
    spec's dicts apart as it reads them, so they are parsed afresh each time, as an application
    reading them from its table does); saved with to_dict and the spec parts dropped before
    the JSON. SpiffWorkflow's converters still turn the spec from and into dicts at every
    step: its serializer has no way round that."""
    quiet_state_changes(enabled=False)
    try:
        t0 = time.perf_counter()
        workflow = serializer.from_dict({**json.loads(text), **json.loads(spec)})
        workflow.script_engine = engine
        t1 = time.perf_counter()
        _check_in(workflow, answers)
        t2 = time.perf_counter()
        doc = serializer.to_dict(workflow)
        for key in SPEC_KEYS:
            del doc[key]
        out = json.dumps(doc)
        t3 = time.perf_counter()
        return out, [t3 - t0, t1 - t0, t2 - t1, t3 - t2]
    finally:
        quiet_state_changes()
