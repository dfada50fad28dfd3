"""SpiffWorkflow's BPMN workflow with a faster walk over the task tree.

SpiffWorkflow walks the task tree with a general iterator (filters as objects, depth
bookkeeping, `task.children` resolving UUIDs through a dict on every visit) several times per
completed task: once for the waiting tasks after every task that completes, once per
unstructured join, once per engine-step round. On a pathway of 50 tasks that walk is most of
an engine step. These subclasses answer the common queries (state, manual, spec name) with a
plain depth-first walk that visits the same tasks in the same order, and fall back to
SpiffWorkflow's iterator for anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_FAST_KEYS = frozenset({"state", "manual", "spec_name"})
MAX_DEPTH = 1000
"""SpiffWorkflow's iterator stops descending at this depth; so does this walk."""


def walk(workflow: Any, first: Task | None = None, state: int = TaskState.ANY_MASK,
         manual: bool | None = None, spec_name: str | None = None,
         into_subprocesses: bool = True) -> Iterator[Task]:
    """Tasks below `first` (default: the root) matching the filters, depth first, children in
    order, a call activity's subprocess before its own children: SpiffWorkflow's
    `BpmnTaskIterator` order. As there, the walk does not descend below tasks in states the
    query cannot lead to (nothing definite follows a predicted task), nor into a finished
    subprocess when only finished states are asked for."""
    if state & TaskState.PREDICTED_MASK:
        min_state = TaskState.MAYBE
    elif state & TaskState.DEFINITE_MASK:
        min_state = TaskState.FUTURE
    else:
        min_state = TaskState.COMPLETED
    subprocesses = workflow.top_workflow.subprocesses if into_subprocesses else {}
    finished_only = state <= TaskState.FINISHED_MASK
    stack: list[tuple[Task, int]] = [(first or workflow.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        sub = subprocesses.get(task.id) if subprocesses else None
        if (task._children or sub is not None) and depth < MAX_DEPTH and (
                sub is not None or task._state >= min_state):
            lookup = task.workflow.tasks
            stack.extend((lookup[child], depth + 1) for child in reversed(task._children))
            if sub is not None and not (task._state >= TaskState.FINISHED_MASK
                                        and finished_only):
                stack.append((sub.task_tree, depth + 1))
        if not task._state & state:
            continue
        spec = task.task_spec
        if (manual is None or spec.manual == manual) and (spec_name is None
                                                           or spec.name == spec_name):
            yield task


class _FastQueries:
    """The two overrides both workflow classes share."""

    def get_tasks_iterator(self, first_task: Task | None = None, **kwargs: Any) -> Any:
        if kwargs.keys() <= _FAST_KEYS:
            return walk(self, first_task, **kwargs)
        return super().get_tasks_iterator(first_task, **kwargs)  # type: ignore[misc]

    def update_waiting_tasks(self) -> None:
        # SpiffWorkflow's own walk here stays inside this (sub)workflow. Lazily, as there: a
        # task another update has moved on from is no longer WAITING when the walk gets to it.
        for task in walk(self, state=TaskState.WAITING, into_subprocesses=False):
            task.task_spec._update(task)


class PathwaySubWorkflow(_FastQueries, BpmnSubWorkflow):  # type: ignore[misc]
    """A called process (call activity) of a pathway."""


class PathwayWorkflow(_FastQueries, BpmnWorkflow):  # type: ignore[misc]
    """A pathway instance's workflow."""

    def create_subprocess(self, my_task: Task, spec_name: str) -> PathwaySubWorkflow:
        subprocess = PathwaySubWorkflow(self.subprocess_specs[spec_name],
                                        parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess
