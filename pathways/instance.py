"""One running pathway instance: ready tasks, completing them, timers, events and state.

Every change happens inside `_step`, which rolls the workflow back to the last saved state on
any failure (engine-notes: never save a workflow after an exception).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .clock import use_clock
from .errors import StepFailedError, TaskNotFoundError, TaskNotReadyError
from .events import DomainEvent
from .forms import task_data_part, validate_submission
from .plaindata import plain_copy
from .properties import TaskProperties
from .sandbox import SandboxError, freeze
from .task_views import Progress, ReadyTask, WaitingTimer

if TYPE_CHECKING:
    from .engine import PathwayEngine

_READY_AT = "carepath_ready_at"
_DUE_AT = "carepath_due_at"
_STEP_ERRORS = (SpiffWorkflowException, SandboxError, ValueError, TypeError, KeyError,
                RecursionError)
"""What a failed step raises (from the engine, the sandbox, or a value that cannot be saved)."""


class PathwayInstance:
    def __init__(self, engine: PathwayEngine, workflow: BpmnWorkflow,
                 clean_state: str | None, overrides: Mapping[str, Any]) -> None:
        self.engine = engine
        self.workflow = workflow
        self.overrides = dict(overrides)
        merged = dict(engine.model.settings)
        merged.update(overrides)
        self.settings: Mapping[str, Any] = freeze(merged)
        self._clean_state = clean_state
        self._events: list[DomainEvent] = []
        self._ready: list[ReadyTask] | None = None

    @contextmanager
    def _bound(self) -> Iterator[None]:
        """The clock and the read-only names (settings) this instance's expressions see."""
        from .engine import instance_names

        with use_clock(self.engine.clock), instance_names({"settings": self.settings}):
            yield

    # -- reading
    @property
    def is_completed(self) -> bool:
        return bool(self.workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The data of the most recently completed task: the episode's current picture."""
        last = self.workflow.last_task
        return dict(last.data) if last is not None else {}

    def ready_tasks(self, role: str | None = None) -> list[ReadyTask]:
        if self._ready is None:  # described once per state: every change runs in _step
            with self._bound():
                self._ready = [self._describe(t) for t in self._ready_manual()]
        return [t for t in self._ready if role is None or t.role == role]

    def task(self, task_id: str) -> ReadyTask:
        with self._bound():
            return self._describe(self._find_ready(task_id))

    def task_data(self, task_id: str) -> dict[str, Any]:
        """Data a ready task sees (for showing context next to its form)."""
        return dict(self._find_ready(task_id).data)

    def waiting_timers(self) -> list[WaitingTimer]:
        timers = []
        for task in self._all_tasks():
            definition = getattr(task.task_spec, "event_definition", None)
            if task.state != TaskState.WAITING or not isinstance(definition,
                                                                 TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if isinstance(value, dict):
                value = value.get("next")
            if isinstance(value, str):
                spec = task.task_spec
                timers.append(WaitingTimer(str(task.id), spec.bpmn_id,
                                           spec.bpmn_name or spec.bpmn_id,
                                           TimerEventDefinition.get_datetime(value)))
        return sorted(timers, key=lambda t: t.due_at)

    def progress(self) -> Progress:
        """Finished and current elements of this instance and the processes it called."""
        done: set[str] = set()
        current: set[str] = set()
        for task in self._all_tasks():
            bpmn_id = task.task_spec.bpmn_id
            if bpmn_id is None:  # SpiffWorkflow's own bookkeeping tasks
                continue
            if task.state == TaskState.COMPLETED:
                done.add(bpmn_id)
            elif task.state == TaskState.WAITING and isinstance(task.task_spec, Join):
                continue  # a join waiting for other branches is not where anyone is
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
                current.add(bpmn_id)
        return Progress(done=tuple(sorted(done - current)), current=tuple(sorted(current)))

    def next_wake_at(self) -> datetime | None:
        timers = self.waiting_timers()
        return timers[0].due_at if timers else None

    def take_events(self) -> list[DomainEvent]:
        """Events produced since the last call (the service appends them to its log)."""
        events, self._events = self._events, []
        return events

    # -- changing
    def begin(self, initial: Mapping[str, Any], actor: str | None) -> None:
        """Start the workflow with `initial` data (called once, by the engine)."""
        for task in self.workflow.get_tasks(state=TaskState.READY):
            task.data.update(plain_copy(dict(initial)))
        with self._bound(), self._step():
            self._emit("episode_started", None, actor, plain_copy(dict(initial)))
            self._advance(actor)

    def complete_task(self, task_id: str, data: Mapping[str, Any],
                      actor: str | None = None) -> list[DomainEvent]:
        """Complete a ready task with form data; returns the events it produced."""
        with self._bound():
            task = self._find_ready(task_id)
            props = TaskProperties.of(task.task_spec)
            schema = self.engine.model.forms.get(props.form) if props.form else None
            answers = validate_submission(props.form, schema, data)
            described = self._describe(task)
            with self._step():
                task.data.update(plain_copy(task_data_part(schema, answers)))
                task.run()
                for key in (_READY_AT, _DUE_AT):  # now in the task_completed event
                    task.internal_data.pop(key, None)
                now = self.engine.clock.now()
                self._emit("task_completed", task.task_spec.bpmn_id, actor, {
                    "task": task.task_spec.bpmn_id, "title": described.title,
                    "role": described.role, "form": props.form,
                    "due_at": described.due_at.isoformat() if described.due_at else None,
                    "overdue": described.is_overdue(now),
                })
                self._declared_events(task, actor)
                self._advance(actor)
        return self.take_events()

    def fire_due_timers(self) -> list[DomainEvent]:
        """Fire every timer due by the clock's now; returns the events produced."""
        with self._bound(), self._step():
            now = self.engine.clock.now()
            due = [t for t in self.waiting_timers() if t.due_at <= now]
            for timer in due:
                # A timer is due at its due time (SpiffWorkflow alone waits until just after).
                self.workflow.get_task_from_id(UUID(timer.task_id)).internal_data[
                    "event_fired"] = True
                self._emit("timer_fired", timer.name, None,
                           {"timer": timer.name, "due_at": timer.due_at.isoformat()})
            if due:
                self._advance(None)
        return self.take_events()

    def settle(self, change: Callable[[], None] | None = None) -> list[DomainEvent]:
        """Run `change` on the workflow (with this instance's clock and settings bound), then
        the engine until only people's tasks and timers are left; returns the events produced.
        For changes made from outside the instance (a migration restarts the tasks a new
        version changed); rolled back on failure like every step."""
        with self._bound(), self._step():
            if change is not None:
                change()
            self._advance(None)
        return self.take_events()

    def state(self) -> dict[str, Any]:
        """Plain-JSON state without the spec; restore it with `PathwayEngine.restore`."""
        return self.engine.workflow_to_dict(self.workflow, self.overrides)

    def state_json(self) -> str:
        """The state as JSON text (computed by the last step; nothing changes in between)."""
        if self._clean_state is None:
            self._clean_state = json.dumps(self.state(), separators=(",", ":"))
        return self._clean_state

    # -- internals
    @contextmanager
    def _step(self) -> Iterator[None]:
        """Run a change; on failure put the workflow back as it was last saved.

        The new state is serialised inside the step, so a value that cannot be saved fails
        the step (and is rolled back) instead of leaving an episode that cannot be stored.
        An engine without rollback saves nothing: a failure leaves the instance unusable."""
        if not self.engine.rollback:
            self._ready = None
            try:
                yield
            except _STEP_ERRORS as err:
                self._events = []
                raise _step_failed(err) from None
            return
        if self._clean_state is None:
            self._clean_state = json.dumps(self.state(), separators=(",", ":"))
        self._ready = None
        try:
            yield
            new_state = json.dumps(self.state(), separators=(",", ":"))
        except _STEP_ERRORS as err:
            self.workflow, _ = self.engine.workflow_from_json(self._clean_state)
            self._events = []
            raise _step_failed(err) from None
        self._clean_state = new_state

    def _advance(self, actor: str | None) -> None:
        """Run engine tasks until only people's tasks and timers are left."""
        callback = self._engine_task_done(actor)
        while True:
            self.workflow.do_engine_steps(did_complete_task=callback)
            if self._restart_cycles():
                continue
            if not self._ready_engine_tasks():
                break
        self._stamp_due_times()
        if self.workflow.is_completed():
            # Which terminate end event ended it, if one did (None: the process's normal
            # end): the log alone then tells conformance how the episode finished.
            self._emit("episode_completed", None, actor,
                       {"terminated_by": self._terminated_by()})

    def _terminated_by(self) -> str | None:
        for task in self.workflow.tasks.values():
            if task.state == TaskState.COMPLETED and isinstance(
                    getattr(task.task_spec, "event_definition", None),
                    TerminateEventDefinition):
                return str(task.task_spec.bpmn_id)
        return None

    def _engine_task_done(self, actor: str | None) -> Callable[[Task], None]:
        def done(task: Task) -> None:
            self._declared_events(task, actor)

        return done

    def _declared_events(self, task: Task, actor: str | None) -> None:
        props = TaskProperties.of(task.task_spec)
        events = props.events()
        if not events:
            return
        conditions = props.event_conditions()
        for name, keys in events.items():
            condition = conditions.get(name)
            if condition and not self._evaluate(condition, task.data):
                continue
            payload = {key: plain_copy(task.data.get(key)) for key in keys}
            self._emit(name, task.task_spec.bpmn_id, actor, payload)

    def _restart_cycles(self) -> bool:
        """Continue-as-new for loops: when a cycle anchor is reached again, reset the branch to
        its first visit with the latest data, dropping the finished iteration. The saved state
        then holds one iteration, however many weeks run (engine-notes: loops freeze near 200
        iterations and grow 2 KB each)."""
        anchors = self.engine.cycle_anchors
        if not anchors:
            return False
        by_spec: dict[str, list[Task]] = {}
        for task in self.workflow.tasks.values():
            if task.task_spec.name in anchors:
                by_spec.setdefault(task.task_spec.name, []).append(task)
        restarted = False
        for tasks in by_spec.values():
            if len(tasks) < 2:
                continue
            # Only a visit the flow has really reached counts: predicted (MAYBE/LIKELY)
            # copies of the anchor also appear below gateways that have not run yet.
            reached = [t for t in tasks if t.parent is not None
                       and t.parent.state == TaskState.COMPLETED
                       and not t.has_state(TaskState.PREDICTED_MASK | TaskState.FINISHED_MASK)]
            first = next((t for t in tasks if t.state == TaskState.COMPLETED), None)
            newest = max(reached, key=_depth, default=None)
            if first is None or newest is None or not newest.is_descendant_of(first):
                continue
            data = plain_copy(newest.parent.data)
            # The anchor re-inherits its parent's data when it is reset, so the parent (the
            # task that first led into the loop) takes the latest data: the new start.
            first.parent.data = plain_copy(data)
            dropped = self.workflow.reset_from_task_id(first.id, data=data)
            for task in dropped:  # SpiffWorkflow leaves dropped catch events registered
                self.workflow.event_manager.remove_task(task)
            restarted = True
        return restarted

    def _ready_engine_tasks(self) -> list[Task]:
        return [t for t in self._all_tasks()
                if t.state == TaskState.READY and not t.task_spec.manual]

    def _ready_manual(self) -> list[Task]:
        return [t for t in self._all_tasks()
                if t.state == TaskState.READY and t.task_spec.manual]

    def _all_tasks(self) -> Iterator[Task]:
        yield from self.workflow.tasks.values()
        for subprocess in self.workflow.subprocesses.values():
            yield from subprocess.tasks.values()

    def _find_ready(self, task_id: str) -> Task:
        try:
            uuid = UUID(str(task_id))
        except ValueError:
            raise TaskNotFoundError(str(task_id)) from None
        try:
            task = self.workflow.get_task_from_id(uuid)
        except SpiffWorkflowException:
            task = None
        if task is None:
            raise TaskNotFoundError(str(task_id))
        if task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReadyError(str(task_id), TaskState.get_name(task.state))
        return task

    def _stamp_due_times(self) -> None:
        now = self.engine.clock.now()
        for task in self._ready_manual():
            if _READY_AT in task.internal_data:
                continue
            task.internal_data[_READY_AT] = now.isoformat()
            due_in = TaskProperties.of(task.task_spec).due_in
            if due_in:
                duration = self._evaluate(due_in, task.data)
                delta = _duration(duration)
                task.internal_data[_DUE_AT] = (now + delta).isoformat()

    def _describe(self, task: Task) -> ReadyTask:
        spec = task.task_spec
        props = TaskProperties.of(spec)
        module = None
        if props.raw.get("education_module"):
            module = self._evaluate(props.raw["education_module"], task.data)
        form = props.form
        return ReadyTask(
            id=str(task.id),
            name=spec.bpmn_id,
            title=spec.bpmn_name or spec.bpmn_id,
            role=props.role(spec),
            form=form,
            form_schema=self.engine.model.forms.get(form) if form else None,
            ready_at=_parse_time(task.internal_data.get(_READY_AT)),
            due_at=_parse_time(task.internal_data.get(_DUE_AT)),
            education_module=module if isinstance(module, str) else None,
            alert=props.alert,
            process=task.workflow.spec.name,
        )

    def _evaluate(self, expression: str, data: Mapping[str, Any]) -> Any:
        return self.engine.sandbox.evaluate(expression, data, {"settings": self.settings})

    def _emit(self, name: str, element: str | None, actor: str | None,
              data: dict[str, Any]) -> None:
        at = self.engine.clock.now().isoformat()
        self._events.append(DomainEvent(name, at, element, actor, data))


def _depth(task: Task) -> int:
    depth, node = 0, task
    while node.parent is not None:
        depth, node = depth + 1, node.parent
    return depth


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError("due_in must give an ISO 8601 duration such as 'P2D'")
    parsed = TimerEventDefinition.parse_iso_duration(value)
    delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed)
    return delta


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _sandbox_cause(err: BaseException) -> SandboxError | None:
    """The sandbox's own reason, wherever SpiffWorkflow wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, SandboxError):
            return current
        seen.add(id(current))
        current = (getattr(current, "exception", None) or current.__cause__
                   or current.__context__)
    return None


def _step_failed(err: Exception) -> StepFailedError:
    element = None
    task = getattr(err, "task", None)
    if task is not None:
        element = getattr(task.task_spec, "bpmn_id", None)
    cause = _sandbox_cause(err)
    message = str(cause) if cause is not None else str(err)
    return StepFailedError(element, message.splitlines()[0] if message else type(err).__name__)
