"""The fast task walk and parallel-join check give SpiffWorkflow's own answers, at every step
of every reference case (pathways/workflow.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from pathways import cases as cases_module
from pathways import workflow as workflow_module
from pathways.cases import load_cases, run_case
from pathways.engine import PathwayEngine
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel
from pathways.workflow import walk

from .conftest import BETTERBACK_DIR

CASES = load_cases(BETTERBACK_DIR)
QUERIES: list[dict[str, Any]] = [
    {}, {"state": TaskState.READY}, {"state": TaskState.WAITING},
    {"state": TaskState.READY, "manual": True}, {"state": TaskState.READY, "manual": False},
    {"state": TaskState.COMPLETED}, {"state": TaskState.NOT_FINISHED_MASK},
    {"state": TaskState.PREDICTED_MASK}, {"spec_name": "care_join"},
]


def _ids(tasks: Any) -> list[str]:
    return [str(task.id) for task in tasks]


def _same_walks(instance: PathwayInstance) -> None:
    workflow = instance.workflow
    for query in QUERIES:
        assert _ids(walk(workflow, **query)) == _ids(
            BpmnTaskIterator(workflow.task_tree, **query)), query
        for _ in range(2):  # the second from the remembered order
            assert _ids(workflow.get_tasks(**query)) == _ids(
                BpmnTaskIterator(workflow.task_tree, **query)), query
        assert _ids(walk(workflow, into_subprocesses=False, **query)) == _ids(
            TaskIterator(workflow.task_tree, **query)), query
        for sub in workflow.subprocesses.values():
            assert _ids(walk(sub, **query)) == _ids(BpmnTaskIterator(sub.task_tree, **query))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_walk_and_the_join_check_answer_as_spiffworkflow_does(
        case: dict[str, Any], betterback: PathwayModel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[bool] = []
    fast_check = workflow_module._parallel_join_check

    def both(spec: Any, my_task: Task) -> bool:
        fast = fast_check(spec, my_task)
        assert fast == ParallelGateway._check_threshold_unstructured(spec, my_task)
        checks.append(fast)
        return fast

    listed: list[int] = []
    remembered = workflow_module._FastQueries.get_tasks

    def get_tasks(self: Any, first_task: Task | None = None, **kwargs: Any) -> list[Task]:
        # Every list SpiffWorkflow asks for mid-step, from the remembered order or not,
        # against SpiffWorkflow's own iterator.
        tasks = remembered(self, first_task, **kwargs)
        start = first_task or self.task_tree
        assert _ids(tasks) == _ids(BpmnTaskIterator(start, **kwargs)), kwargs
        listed.append(1)
        return tasks

    walks = []
    round_trip = cases_module._round_trip

    def walking(engine: PathwayEngine,
                instance: PathwayInstance) -> tuple[PathwayInstance, list[str]]:
        _same_walks(instance)
        walks.append(1)
        return round_trip(engine, instance)

    monkeypatch.setattr(workflow_module, "_parallel_join_check", both)
    monkeypatch.setattr(workflow_module._FastQueries, "get_tasks", get_tasks)
    monkeypatch.setattr(cases_module, "_round_trip", walking)
    steps = list(run_case(betterback, case))
    assert all(not step.problems for step in steps)
    assert walks and listed, "no step was checked"
    if any(s.get("complete") == "first_visit" for s in case["steps"]):
        # The care branches join at care_join; it is checked after every task meanwhile.
        assert checks, "the parallel join was never checked"


def test_state_changes_skip_only_the_log_record_nobody_reads(
        betterback: PathwayModel, caplog: pytest.LogCaptureFixture) -> None:
    """With SpiffWorkflow's task logger off, a state change sets the state and its time and
    builds no log record; with it on, SpiffWorkflow's own method runs and logs as shipped."""
    instance = PathwayEngine(betterback).start({"referral": {"source": "clinician"}})
    assert Task._set_state is workflow_module._set_state
    task = next(t for t in instance.workflow.tasks.values() if t.state == TaskState.FUTURE)
    before = task.last_state_change
    with caplog.at_level(logging.WARNING, logger="spiff.task"):
        task._set_state(TaskState.WAITING)
    assert task.state == TaskState.WAITING and task.last_state_change >= before
    assert not caplog.records
    with caplog.at_level(logging.INFO, logger="spiff.task"):
        task._set_state(TaskState.FUTURE)
    assert task.state == TaskState.FUTURE
    assert [r.getMessage() for r in caplog.records] == ["State changed to FUTURE"]
    assert caplog.records[0].task_id == task.id  # SpiffWorkflow's extras, as shipped
