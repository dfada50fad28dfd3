"""A compact, lossless encoding of SpiffWorkflow's serialized workflow dict.

SpiffWorkflow writes every task as a dict with three 36-character UUIDs (id, parent,
children), spelled-out key names, a float timestamp and empty containers. For a pathway of
50-60 tasks that is most of the saved state. This codec stores each task as a short list:

    [spec, state, parent, id, changed_rank, triggered, internal_data, data_or_delta]

with the spec as an index into the process's sorted task-spec names, the parent as an index
into the list (children are rebuilt from parents, in order), the id as 22 base64 characters
and empty values as 0. Decoding gives SpiffWorkflow the same workflow back, except that
state-change timestamps keep only their order (all SpiffWorkflow uses them for); the tests
round-trip after every step of every pathway case.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

SpecNames = Callable[[str | None], list[str]]
"""Sorted task-spec names of a process (None: the top process, else a subprocess spec name)."""

_TOP_KEYS = ("data", "correlations", "success", "completed", "bpmn_events")


def _short(uuid: str) -> str:
    return base64.urlsafe_b64encode(UUID(uuid).bytes).decode()[:22]


def _long(short: str) -> str:
    return str(UUID(bytes=base64.urlsafe_b64decode(short + "==")))


_EMPTY = 1
"""Payload marker: the task's data is empty (SpiffWorkflow would list every parent key as
deleted, for each predicted task)."""

_WAITING_FOR_DATA = TaskState.PREDICTED_MASK
"""A child in one of these states has not inherited its parent's data yet."""


def drop_spent_data(workflow: BpmnWorkflow) -> None:
    """Clear the data of completed tasks nothing will read again.

    A completed task's data is read when a child inherits it (children still predicted) and,
    for the last task of a (sub)workflow, when it completes. Everything else is history,
    which the service keeps in its event log and task submissions, not in the state.
    """
    for task_id, sub in list(workflow.subprocesses.items()):
        parent = workflow.get_task_from_id(task_id)
        if sub.is_completed() and parent is not None and parent.state == TaskState.COMPLETED:
            # The call activity has taken the subprocess's result: nothing reads it again.
            workflow.delete_subprocess(parent)
    for flow in [workflow, *workflow.subprocesses.values()]:
        last = flow.last_task
        for task in flow.tasks.values():
            if task.state != TaskState.COMPLETED or task is last or not task.data:
                continue
            if any(child.state & _WAITING_FOR_DATA for child in task.children):
                continue
            task.data = {}


def empty_task_ids(workflow: BpmnWorkflow) -> set[str]:
    flows = [workflow, *workflow.subprocesses.values()]
    return {str(t.id) for flow in flows for t in flow.tasks.values() if not t.data}


def encode(workflow: dict[str, Any], spec_names: SpecNames,
           empty: set[str] | None = None) -> dict[str, Any]:
    """Compact form of `BpmnWorkflowSerializer.to_dict` output; `empty` names tasks whose data
    is empty (see `empty_task_ids`)."""
    empty = empty or set()
    out = _encode_tasks(workflow, spec_names(None), empty)
    out["subprocesses"] = {
        _short(task_id): dict(_encode_tasks(sub, spec_names(sub["spec"]), empty),
                              spec=sub["spec"], parent_task_id=_short(sub["parent_task_id"]))
        for task_id, sub in workflow.get("subprocesses", {}).items()
    }
    return out


def decode(compact: dict[str, Any], spec_names: SpecNames) -> dict[str, Any]:
    workflow = _decode_tasks(compact, spec_names(None))
    workflow["typename"] = "BpmnWorkflow"
    workflow["subprocesses"] = {}
    for task_id, sub in compact.get("subprocesses", {}).items():
        restored = _decode_tasks(sub, spec_names(sub["spec"]))
        restored.update(spec=sub["spec"], parent_task_id=_long(sub["parent_task_id"]),
                        typename="BpmnSubWorkflow")
        workflow["subprocesses"][_long(task_id)] = restored
    return workflow


def _encode_tasks(workflow: dict[str, Any], names: list[str], empty: set[str]) -> dict[str, Any]:
    index_of_spec = {name: i for i, name in enumerate(names)}
    tasks = workflow["tasks"]
    order = _tree_order(tasks, workflow["root"])
    position = {task_id: i for i, task_id in enumerate(order)}
    base = min(t["last_state_change"] for t in tasks.values())
    # Only the order of state changes matters to SpiffWorkflow (joins sort by it): keep ranks.
    ranks = {stamp: i for i, stamp in enumerate(sorted({t["last_state_change"]
                                                          for t in tasks.values()}))}
    rows = []
    for task_id in order:
        task = tasks[task_id]
        parent = task["parent"]
        if parent is None:
            payload = task["data"] or 0
        elif task_id in empty:
            payload = _EMPTY
        else:
            delta = task["delta"]
            payload = [delta["updates"], delta["deletions"]] if (
                delta["updates"] or delta["deletions"]) else 0
        rows.append([
            index_of_spec[task["task_spec"]],
            task["state"],
            position[parent] if parent is not None else -1,
            _short(task_id),
            ranks[task["last_state_change"]],
            1 if task["triggered"] else 0,
            task["internal_data"] or 0,
            payload,
        ])
    out = {key: workflow[key] for key in _TOP_KEYS if key in workflow}
    out["tasks"] = rows
    out["base"] = base
    last = workflow.get("last_task")
    out["last"] = position.get(last, -1) if last is not None else None
    return out


def _decode_tasks(compact: dict[str, Any], names: list[str]) -> dict[str, Any]:
    rows = compact["tasks"]
    ids = [_long(row[3]) for row in rows]
    base = compact["base"]
    children: list[list[str]] = [[] for _ in rows]
    for i, row in enumerate(rows):
        if row[2] >= 0:
            children[row[2]].append(ids[i])
    tasks: dict[str, Any] = {}
    for i, (spec, state, parent, _id, changed, triggered, internal, payload) in enumerate(rows):
        is_root = parent < 0
        delta: dict[str, Any] = {"updates": {}, "deletions": []}
        if payload == _EMPTY and not is_root:
            delta = {}  # falsy: SpiffWorkflow then takes `data` ({}) as it is
        elif not is_root and payload:
            delta = {"updates": payload[0], "deletions": payload[1]}
        tasks[ids[i]] = {
            "id": ids[i],
            "parent": None if is_root else ids[parent],
            "children": children[i],
            "last_state_change": base + changed / 1000,  # ranks 1 ms apart keep the order
            "state": state,
            "task_spec": names[spec],
            "triggered": bool(triggered),
            "internal_data": internal or {},
            "data": (payload or {}) if is_root else {},
            "delta": {} if is_root else delta,
            "typename": "Task",
        }
    workflow = {key: compact[key] for key in _TOP_KEYS if key in compact}
    workflow["tasks"] = tasks
    workflow["root"] = ids[0]
    last = compact.get("last")
    workflow["last_task"] = ids[last] if isinstance(last, int) and last >= 0 else None
    return workflow


def _tree_order(tasks: dict[str, Any], root: str) -> list[str]:
    """Parents before children, children in their stored order (so order survives decode)."""
    order, stack = [], [root]
    while stack:
        task_id = stack.pop()
        order.append(task_id)
        stack.extend(reversed(tasks[task_id]["children"]))
    return order
