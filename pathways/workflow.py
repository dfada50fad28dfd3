"""SpiffWorkflow's BPMN workflow with a faster walk over the task tree.

SpiffWorkflow walks the task tree with a general iterator (filters as objects, depth
bookkeeping, `task.children` resolving UUIDs through a dict on every visit) several times per
completed task: once for the waiting tasks after every task that completes, once per
unstructured join, once per engine-step round. On a pathway of 50 tasks that walk is most of
an engine step. These subclasses answer the common queries (state, manual, spec name) with a
plain depth-first walk that visits the same tasks in the same order, and fall back to
SpiffWorkflow's iterator for anything else; lists asked for while the tree keeps its shape
come from a remembered order (`TaskTable` counts the changes of shape). A waiting parallel
join is checked after every
completed task too: `speed_up_joins` gives it the same check with cheaper ancestor tests.
And SpiffWorkflow describes every task state change for its log even when nothing logs it:
`quiet_state_changes` skips that description while its logger is off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from types import MethodType
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_FAST_KEYS = frozenset({"state", "manual", "spec_name"})


def walk(workflow: Any, first: Task | None = None, state: int = TaskState.ANY_MASK,
         manual: bool | None = None, spec_name: str | None = None,
         into_subprocesses: bool = True) -> Iterator[Task]:
    """Tasks below `first` (default: the root) matching the filters, depth first, children in
    order, a call activity's subprocess before its own children: SpiffWorkflow's
    `BpmnTaskIterator` order. As there, the walk does not descend below tasks in states the
    query cannot lead to (nothing definite follows a predicted task), nor into a finished
    subprocess when only finished states are asked for. Unlike there, it has no depth limit
    (SpiffWorkflow stops at depth 1000 and silently misses what lies deeper; cycle anchors
    keep our trees shallow)."""
    min_state = _lowest_state_leading_to(state)
    subprocesses = workflow.top_workflow.subprocesses if into_subprocesses else {}
    finished_only = state <= TaskState.FINISHED_MASK
    stack = [first or workflow.task_tree]
    pop, extend = stack.pop, stack.extend
    while stack:
        task = pop()
        spec = task.task_spec
        sub = (subprocesses.get(task.id)
               if subprocesses and isinstance(spec, SubWorkflowTask) else None)
        if sub is not None:
            extend(map(task.workflow.tasks.__getitem__, reversed(task._children)))
            if not (task._state >= TaskState.FINISHED_MASK and finished_only):
                stack.append(sub.task_tree)
        elif task._children and task._state >= min_state:
            extend(map(task.workflow.tasks.__getitem__, reversed(task._children)))
        if task._state & state and (manual is None or spec.manual == manual) and (
                spec_name is None or spec.name == spec_name):
            yield task


def _lowest_state_leading_to(state: int) -> int:
    """Below a task in a lower state no task of `state` can be (nothing definite follows a
    predicted task): the walk does not descend there."""
    lowest: int = (TaskState.MAYBE if state & TaskState.PREDICTED_MASK
                   else TaskState.FUTURE if state & TaskState.DEFINITE_MASK
                   else TaskState.COMPLETED)
    return lowest


class TaskTable(dict):  # type: ignore[type-arg]
    """A workflow's tasks by id, counting additions and removals. A task tree changes shape
    only when a task is added to or removed from its workflow's table (SpiffWorkflow appends
    to a parent's children as it adds the child, and removes it as it drops it), so an
    order worked out for one count stays right until the count moves."""

    changes = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        self.changes += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.changes += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self.changes += 1
        return super().pop(*args)

    def clear(self) -> None:
        self.changes += 1
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changes += 1
        super().update(*args, **kwargs)

    def setdefault(self, *args: Any) -> Any:
        self.changes += 1
        return super().setdefault(*args)

    def popitem(self) -> Any:
        self.changes += 1
        return super().popitem()


class _Preorder:
    """The whole tree in walk order, and for each task where its subtree ends: a walk that
    does not descend below a task jumps there. Valid for one TaskTable count."""

    __slots__ = ("table", "changes", "root", "tasks", "ends")

    def __init__(self, workflow: Any) -> None:
        self.table, self.changes = workflow.tasks, workflow.tasks.changes
        self.root = workflow.task_tree
        lookup = self.table.__getitem__
        self.tasks: list[Task] = []
        self.ends: list[int] = []
        stack: list[Any] = [self.root]
        pop, push, extend = stack.pop, stack.append, stack.extend
        while stack:
            item = pop()
            if item.__class__ is int:  # a marker: the subtree of the task at this position is done
                self.ends[item] = len(self.tasks)
                continue
            position = len(self.tasks)
            self.tasks.append(item)
            self.ends.append(position + 1)
            if item._children:
                push(position)
                extend(map(lookup, reversed(item._children)))

    def valid_for(self, workflow: Any) -> bool:
        table = workflow.tasks
        return (table is self.table and table.changes == self.changes
                and workflow.task_tree is self.root)


class _FastQueries:
    """The overrides both workflow classes share."""

    tasks: TaskTable
    top_workflow: Any
    _preorder: _Preorder | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tasks = TaskTable(self.tasks)

    def get_tasks(self, first_task: Task | None = None, **kwargs: Any) -> list[Task]:
        """As SpiffWorkflow's (a list of what the walk yields), from a remembered order while
        the tree keeps its shape: SpiffWorkflow asks this about a dozen times per completed
        task, most of them between two changes of shape. Not with called processes running
        (the walk then also goes into them)."""
        table = self.tasks
        if (first_task is None and kwargs.keys() <= _FAST_KEYS
                and isinstance(table, TaskTable) and not self.top_workflow.subprocesses):
            return self._listed(**kwargs)
        return list(self.get_tasks_iterator(first_task, **kwargs))

    def _listed(self, state: int = TaskState.ANY_MASK, manual: bool | None = None,
                spec_name: str | None = None) -> list[Task]:
        order = self._preorder
        if order is None or not order.valid_for(self):
            order = self._preorder = _Preorder(self)
        tasks, ends = order.tasks, order.ends
        min_state = _lowest_state_leading_to(state)
        found = []
        index, count = 0, len(tasks)
        while index < count:
            task = tasks[index]
            task_state = task._state
            if task_state & state:
                spec = task.task_spec
                if (manual is None or spec.manual == manual) and (
                        spec_name is None or spec.name == spec_name):
                    found.append(task)
            index = index + 1 if task_state >= min_state else ends[index]
        return found

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


def speed_up_joins(specs: Iterable[Any]) -> None:
    """Give each parallel gateway of these task specs a faster join check (same answers)."""
    for spec in specs:
        if isinstance(spec, ParallelGateway):
            spec._check_threshold_unstructured = MethodType(_parallel_join_check, spec)


def _parallel_join_check(spec: Any, my_task: Task) -> bool:
    """SpiffWorkflow's ParallelGateway._check_threshold_unstructured, with its ancestor tests
    (`is_descendant_of`, recursive, called twice per task) done once per task on id lists.
    May the join at `my_task` fire: has a token arrived on every incoming flow?"""
    lookup = my_task.workflow.tasks
    waiting_inputs = set(spec.inputs)

    def ancestors(task: Task) -> list[Task]:
        chain, node = [], lookup.get(task._parent)
        while node is not None:
            chain.append(node)
            node = lookup.get(node._parent)
        return chain

    mine = {task.id for task in ancestors(my_task)}
    for task in my_task.workflow.get_tasks(spec_name=spec.name):
        up = ancestors(task)
        if any(node is my_task for node in up):
            # A later pass of a loop: it does not wait for this one; the nearest input
            # below it (or it itself) counts as arrived.
            for node in [task, *up]:
                if node.task_spec in waiting_inputs:
                    waiting_inputs.remove(node.task_spec)
                    break
        elif task.id in mine:
            continue  # an earlier pass of a loop: ignore its inputs
        elif up and up[0].state == TaskState.COMPLETED and up[0].task_spec in waiting_inputs:
            waiting_inputs.remove(up[0].task_spec)
    return not waiting_inputs


_SPIFF_TASK_LOG = logging.getLogger("spiff.task")
_SPIFF_SET_STATE = Task._set_state


def _set_state(task: Task, value: int) -> None:
    """Task._set_state as SpiffWorkflow ships it, less the log record's description (two
    state-name lookups that each build a dict, and a dict of extras) when its logger would
    drop the record anyway: about a tenth of a weekly check-in's engine step, 28 changes."""
    if _SPIFF_TASK_LOG.isEnabledFor(logging.INFO):
        _SPIFF_SET_STATE(task, value)
    elif value != task._state:
        task.last_state_change = time.time()
        task._state = value


def quiet_state_changes(enabled: bool = True) -> None:
    """Install `_set_state` on SpiffWorkflow's Task (idempotent); `enabled=False` puts the
    shipped one back (bench/engine.py times SpiffWorkflow alone with it)."""
    Task._set_state = _set_state if enabled else _SPIFF_SET_STATE


def spiff_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer, writing our workflows as the classes they extend (and
    reading them back as those): for comparing against SpiffWorkflow alone."""
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    serializer.registry.typenames[PathwayWorkflow] = "BpmnWorkflow"
    serializer.registry.typenames[PathwaySubWorkflow] = "BpmnSubWorkflow"
    return serializer
