"""A compact, lossless encoding of a SpiffWorkflow workflow's state, without its spec.

SpiffWorkflow's serializer writes every task as a dict with three 36-character UUIDs (id, parent,
children), spelled-out key names, a float timestamp and empty containers. For a pathway of
50-60 tasks that is most of the saved state. This codec stores each task as a short list:

    [spec, state, parent, id, changed_rank, triggered, internal_data, data_or_delta]

with the spec as an index into the process's sorted task-spec names, the parent as an index
into the list (children are rebuilt from parents, in order), the id as 22 base64 characters
and empty values as 0. Decoding gives SpiffWorkflow the same workflow back, except that
state-change timestamps keep only their order (all SpiffWorkflow uses them for); the tests
round-trip after every step of every pathway case, and check the codec against
SpiffWorkflow's own serializer at each of those steps.

The codec reads and builds the task objects itself rather than going through the
serializer's dicts: that also skips converting the whole spec on every save, which the
state leaves out anyway (about half the cost of a save).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.helpers.dictionary import DictionaryConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from .workflow import PathwaySubWorkflow, PathwayWorkflow, TaskTable

SpecNames = Callable[[str | None], list[str]]
"""Sorted task-spec names of a process (None: the top process, else a subprocess spec name)."""


def _short(uuid: UUID) -> str:
    return base64.urlsafe_b64encode(uuid.bytes).decode()[:22]


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
    _drop_orphaned_subprocesses(workflow)
    for task_id in list(workflow.subprocesses):
        sub = workflow.subprocesses.get(task_id)
        if sub is None:
            continue  # deleted with the called process that held it
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


def _drop_orphaned_subprocesses(workflow: BpmnWorkflow) -> None:
    """Forget subprocesses whose task is gone. SpiffWorkflow cancels a running multi-instance
    task by dropping its instances before it cancels them, so the subprocess of an instance
    (an embedded subprocess inside a called process, when an episode leaves the pathway while
    a module is being read) stays registered, cancelled, with no task that could reach it."""
    def task_exists(task_id: UUID) -> bool:
        return task_id in workflow.tasks or any(
            task_id in sub.tasks for sub in workflow.subprocesses.values())

    while orphans := [task_id for task_id in workflow.subprocesses if not task_exists(task_id)]:
        for task_id in orphans:
            del workflow.subprocesses[task_id]


def encode(workflow: BpmnWorkflow, spec_names: SpecNames,
           registry: DictionaryConverter) -> dict[str, Any]:
    """The compact state of a live workflow (straight from its tasks: SpiffWorkflow's own
    `to_dict` would also convert the whole spec, which the state leaves out)."""
    out = _encode_flow(workflow, spec_names(None), registry)
    out["bpmn_events"] = registry.convert(workflow.bpmn_events)
    out["subprocesses"] = {
        _short(task_id): dict(_encode_flow(sub, spec_names(sub.spec.name), registry),
                                   spec=sub.spec.name, parent_task_id=_short(task_id))
        for task_id, sub in workflow.subprocesses.items()
    }
    return out


def decode(compact: dict[str, Any], spec: BpmnProcessSpec,
           subprocess_specs: Mapping[str, BpmnProcessSpec], spec_names: SpecNames,
           registry: DictionaryConverter, script_engine: Any) -> PathwayWorkflow:
    """A live workflow from `encode`'s output; the spec comes from the model."""
    workflow = PathwayWorkflow(spec, dict(subprocess_specs), script_engine=script_engine,
                               deserializing=True)
    _decode_flow(workflow, compact, spec_names(None), registry, workflow)
    workflow.bpmn_events = registry.restore(compact.get("bpmn_events", []))
    pending = dict(compact.get("subprocesses", {}))
    flows: list[Any] = [workflow]
    while flows and pending:  # a called process may call another: parents come first
        flow = flows.pop(0)
        for task in list(flow.tasks.values()):
            sub = pending.pop(_short(task.id), None)
            if sub is None or not isinstance(task.task_spec, SubWorkflowTask):
                continue
            subprocess = PathwaySubWorkflow(subprocess_specs[sub["spec"]], task.id, workflow,
                                            deserializing=True)
            _decode_flow(subprocess, sub, spec_names(sub["spec"]), registry, workflow)
            workflow.subprocesses[task.id] = subprocess
            subprocess.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
            flows.append(subprocess)
    if pending:
        raise ValueError("saved state has a subprocess without its call activity")
    # Keep the saved order (decoding goes parents first), so a restored state encodes the same.
    saved = {key: i for i, key in enumerate(compact.get("subprocesses", {}))}
    restored = sorted(workflow.subprocesses.items(), key=lambda item: saved[_short(item[0])])
    workflow.subprocesses.clear()
    workflow.subprocesses.update(restored)
    return workflow


def _encode_flow(flow: Any, names: list[str], registry: DictionaryConverter) -> dict[str, Any]:
    index_of_spec = {name: i for i, name in enumerate(names)}
    order = _tree_order(flow)
    position = {task.id: i for i, task in enumerate(order)}
    stamps = [task.last_state_change for task in order]
    # Only the order of state changes matters to SpiffWorkflow (joins sort by it): keep ranks.
    ranks = {stamp: i for i, stamp in enumerate(sorted(set(stamps)))}
    rows = []
    for task in order:
        data = task.data
        if task._parent is None:
            payload: Any = data or 0
        elif not data:
            payload = _EMPTY
        else:
            parent = flow.tasks[task._parent].data
            updates = {key: value for key, value in data.items()
                       if key not in parent or value != parent[key]}
            deletions = [key for key in parent if key not in data]
            payload = [updates, deletions] if updates or deletions else 0
        rows.append([
            index_of_spec[task.task_spec.name],
            task._state,
            position[task._parent] if task._parent is not None else -1,
            _short(task.id),
            ranks[task.last_state_change],
            1 if task.triggered else 0,
            registry.convert(task.internal_data) if task.internal_data else 0,
            payload,
        ])
    last = flow.last_task
    return {
        "data": registry.convert(registry.clean(flow.data)),
        "correlations": flow.correlations,
        "success": flow.success,
        "completed": flow.completed,
        "tasks": rows,
        "base": min(stamps),
        "last": position.get(last.id, -1) if last is not None else None,
    }


def _decode_flow(flow: Any, compact: dict[str, Any], names: list[str],
                 registry: DictionaryConverter, top: PathwayWorkflow) -> None:
    rows = compact["tasks"]
    base = compact["base"]
    specs = flow.spec.task_specs
    tasks: list[Task] = []
    lookup: dict[UUID, Task] = {}
    for spec_index, state, parent, short, changed, triggered, internal, payload in rows:
        task = Task.__new__(Task)
        task.id = UUID(bytes=base64.urlsafe_b64decode(short + "=="))
        task.workflow = flow
        task.task_spec = specs[names[spec_index]]
        task._state = state
        task._children = []
        task.triggered = bool(triggered)
        task.thread_id = Task.thread_id_pool
        task.last_state_change = base + changed / 1000  # ranks 1 ms apart keep the order
        task.internal_data = registry.restore(internal) if internal else {}
        if parent < 0:
            task._parent = None
            task.data = payload or {}
        else:
            parent_task = tasks[parent]
            task._parent = parent_task.id
            parent_task._children.append(task.id)
            if payload == _EMPTY:
                task.data = {}
            else:
                # As SpiffWorkflow restores a delta: a shallow merge of the parent's data.
                data = DeepMerge.merge({}, parent_task.data)
                if payload:
                    data.update(payload[0])
                    for key in payload[1]:
                        data.pop(key, None)
                task.data = data
        if isinstance(task.task_spec, CatchingEvent) and state == TaskState.WAITING:
            top.event_manager.add_task(task)
        tasks.append(task)
        lookup[task.id] = task
    flow.tasks = TaskTable(lookup)
    flow.task_tree = tasks[0]
    flow.success = compact["success"]
    flow.completed = compact.get("completed", False)
    flow.correlations = compact.get("correlations", {})
    last = compact.get("last")
    flow.last_task = tasks[last] if isinstance(last, int) and last >= 0 else None
    flow.data = registry.restore(compact.get("data", {}))


def _tree_order(flow: Any) -> list[Task]:
    """Parents before children, children in their stored order (so order survives decode)."""
    order, stack = [], [flow.task_tree]
    lookup = flow.tasks
    while stack:
        task = stack.pop()
        order.append(task)
        stack.extend(lookup[child] for child in reversed(task._children))
    return order
