"""The compact state codec against SpiffWorkflow's own serializer, at every step of every
reference case: the same tasks, states, data, timers and tree, whichever way it is read."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from pathways import cases as cases_module
from pathways.cases import load_cases, run_case
from pathways.engine import PathwayEngine
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel
from pathways.workflow import spiff_serializer

from .conftest import BETTERBACK_DIR

CASES = load_cases(BETTERBACK_DIR)
SPIFF = spiff_serializer()


def _spiff_state(workflow: BpmnWorkflow) -> dict[str, Any]:
    """SpiffWorkflow's serialization without the spec, tasks keyed by id."""
    dct = SPIFF.to_dict(workflow)
    for key in ("spec", "subprocess_specs", "typename"):
        dct.pop(key, None)
    return dct


def _tasks_by_id(flow: dict[str, Any]) -> dict[str, Any]:
    """Tasks as SpiffWorkflow would restore them: state, spec, tree, flags, stored data (as
    JSON: a tuple a script made is a list once saved, whichever serializer saves it)."""
    return {task_id: json.loads(json.dumps([
        t["state"], t["task_spec"], t["parent"], t["children"], t["triggered"],
        t["internal_data"], t["data"], t["delta"]])) for task_id, t in flow["tasks"].items()}


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _order_of_changes(flow: dict[str, Any]) -> list[str]:
    return sorted(flow["tasks"], key=lambda i: (flow["tasks"][i]["last_state_change"], i))


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    tasks_a, tasks_b = _tasks_by_id(a), _tasks_by_id(b)
    assert tasks_a.keys() == tasks_b.keys()
    for task_id, task in tasks_a.items():
        assert task == tasks_b[task_id], task_id
    for key in ("data", "correlations", "success", "completed", "last_task", "root"):
        assert _json(a.get(key)) == _json(b.get(key)), key
    # Only the order of state changes survives (ranks), and that order must be kept.
    assert _order_of_changes(a) == _order_of_changes(b)


def _check_codec(engine: PathwayEngine, instance: PathwayInstance) -> None:
    text = instance.state_json()
    live = _spiff_state(instance.workflow)
    restored = engine.restore(text).workflow
    again = _spiff_state(restored)
    _same(live, again)
    assert set(live["subprocesses"]) == set(again["subprocesses"])
    for key, sub in live["subprocesses"].items():
        _same(sub, again["subprocesses"][key])
    assert live["bpmn_events"] == again["bpmn_events"]
    # Catch events (timers) waiting in the live workflow wait in the restored one.
    assert sorted(map(str, restored.event_manager.tasks)) == sorted(
        map(str, instance.workflow.event_manager.tasks))
    # The saved ids are the live ids, 22 characters each.
    short = {base64.urlsafe_b64encode(UUID(i).bytes).decode()[:22] for i in live["tasks"]}
    assert all(s in text for s in short)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_codec_keeps_what_spiffworkflow_keeps_at_every_step(
        case: dict[str, Any], betterback: PathwayModel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    checked = []
    round_trip = cases_module._round_trip

    def checking(engine: PathwayEngine,
                 instance: PathwayInstance) -> tuple[PathwayInstance, list[str]]:
        _check_codec(engine, instance)
        checked.append(1)
        return round_trip(engine, instance)

    monkeypatch.setattr(cases_module, "_round_trip", checking)
    steps = list(run_case(betterback, case))
    assert all(not step.problems for step in steps)
    assert len(checked) >= len(case["steps"])
