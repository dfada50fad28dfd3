"""The pathway engine: runs a validated model with the sandbox, an injected clock and a
serializer that keeps the spec out of the saved state.

In the spirit of spiff-example-cli's engine.py: the parts (model, clock, sandbox) come in
through the constructor; `start` and `restore` hand out `PathwayInstance`s.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from . import clock as clock_module
from . import statecodec
from .clock import Clock, SystemClock
from .errors import StateMismatchError
from .instance import PathwayInstance
from .models import PathwayModel
from .sandbox import Limits, Sandbox, SandboxError
from .script_helpers import HELPERS
from .workflow import PathwayWorkflow, quiet_state_changes, speed_up_joins, spiff_serializer

STATE_FORMAT = "carepath-state/1"


_NO_NAMES: Mapping[str, Any] = MappingProxyType({})
_instance_names: ContextVar[Mapping[str, Any]] = ContextVar("carepath_names", default=_NO_NAMES)


@contextmanager
def instance_names(names: Mapping[str, Any]) -> Iterator[None]:
    """Read-only names (the instance's `settings`) every expression of this instance sees."""
    token = _instance_names.set(names)
    try:
        yield
    finally:
        _instance_names.reset(token)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's script environment, with every evaluation going through the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        extra = dict(_instance_names.get())
        extra.update(external_context or {})
        return self.sandbox.evaluate(expression, context, extra)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        self.sandbox.execute(script, context, _instance_names.get())
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise SandboxError("service tasks are not supported by carepath models")


class SandboxScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """SpiffWorkflow's script engine over the sandbox. SpiffWorkflow's DMN engine parses each
    rule cell on every evaluation (to tell `5` from `< 5`); the answer is remembered here."""

    def __init__(self, environment: SandboxEnvironment) -> None:
        super().__init__(environment=environment)
        self._parsed: dict[str, SyntaxError | None] = {}

    def validate(self, expression: str) -> None:
        if expression not in self._parsed:
            if len(self._parsed) > 10_000:  # the model's cells are far fewer; stay bounded
                self._parsed.clear()
            try:
                ast.parse(expression)
                self._parsed[expression] = None
            except SyntaxError as err:
                self._parsed[expression] = err
        error = self._parsed[expression]
        if error is not None:
            raise SyntaxError(*error.args)


_SERIALIZER = spiff_serializer()


def _connect_loops(processes: list[BpmnProcessSpec]) -> None:
    """Let each multi-instance task hear its instances complete, as SpiffWorkflow's own spec
    deserializer does. Its parser leaves that to the first instance a loop creates, so an
    episode restored in the middle of a loop on a freshly parsed model (after a restart, or on
    another version after a migration) would never leave the loop."""
    for process in processes:
        for spec in process.task_specs.values():
            if isinstance(spec, LoopTask):
                child = process.task_specs[spec.task_spec]
                if not child.completed_event.is_connected(spec.merge_child):
                    child.completed_event.connect(spec.merge_child)


class PathwayEngine:
    """Starts and restores instances of one model version."""

    def __init__(self, model: PathwayModel, clock: Clock | None = None,
                 limits: Limits | None = None, rollback: bool = True) -> None:
        """`rollback=False` skips saving the state after every step (what lets a failed step
        be rolled back): for in-memory runs that never save, such as what-if simulations,
        where a failed step ends that patient's run."""
        clock_module.install()
        quiet_state_changes()
        if model.spec is None:
            raise ValueError(f"model '{model.name}' has no process to run")
        self.spec = model.spec
        self.model = model
        speed_up_joins([*model.spec.task_specs.values(),
                        *(t for sub in model.subprocess_specs.values()
                          for t in sub.task_specs.values())])
        _connect_loops(model.all_specs())
        self.clock: Clock = clock or SystemClock()
        self.sandbox = Sandbox(HELPERS, limits)
        self.script_engine = SandboxScriptEngine(SandboxEnvironment(self.sandbox))
        self.serializer = _SERIALIZER
        self.rollback = rollback
        self._names: dict[str | None, list[str]] = {}
        self.cycle_anchors = frozenset(
            spec.name
            for spec in self.spec.task_specs.values()
            if (getattr(spec, "extensions", None) or {}).get("properties", {}).get("cycle")
            == "true"
        )

    def start(self, data: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None,
              actor: str | None = None) -> PathwayInstance:
        """Start an instance: `data` becomes task data, `settings` override the model's."""
        initial = dict(data or {})
        clashes = sorted(set(initial) & (set(HELPERS) | {"settings"}))
        if clashes:
            raise ValueError(f"start data may not use the reserved names {', '.join(clashes)}")
        overrides = dict(settings or {})
        unknown = sorted(set(overrides) - set(self.model.settings))
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}; the model has "
                             f"{', '.join(sorted(self.model.settings))}")
        workflow = PathwayWorkflow(self.spec, self.model.subprocess_specs,
                                   script_engine=self.script_engine)
        instance = PathwayInstance(self, workflow, clean_state=None, overrides=overrides)
        instance.begin(initial, actor)
        return instance

    def restore(self, state: str | Mapping[str, Any]) -> PathwayInstance:
        """Rebuild an instance from `PathwayInstance.state_json()` (spec comes from the model)."""
        text = state if isinstance(state, str) else json.dumps(state)
        workflow, overrides = self.workflow_from_json(text)
        return PathwayInstance(self, workflow, clean_state=text, overrides=overrides)

    def _spec_names(self, process: str | None) -> list[str]:
        names = self._names.get(process)
        if names is None:
            spec = self.spec if process is None else self.model.subprocess_specs[process]
            names = self._names[process] = sorted(spec.task_specs)
        return names

    # -- serialization without the spec (engine-notes: 15 KB of 20 KB is the spec)
    def workflow_to_dict(self, workflow: BpmnWorkflow,
                         overrides: Mapping[str, Any]) -> dict[str, Any]:
        statecodec.drop_spent_data(workflow)
        compact = statecodec.encode(workflow, self._spec_names, self.serializer.registry)
        return {"format": STATE_FORMAT, "model": self.model.digest, "settings": dict(overrides),
                "workflow": compact}

    def workflow_from_json(self, text: str) -> tuple[BpmnWorkflow, dict[str, Any]]:
        try:
            state = json.loads(text)
        except ValueError:
            raise StateMismatchError("saved state is not JSON") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise StateMismatchError("saved state is not carepath state")
        if state.get("model") != self.model.digest:
            raise StateMismatchError("saved state belongs to another model version")
        try:
            workflow = statecodec.decode(state["workflow"], self.spec,
                                         self.model.subprocess_specs, self._spec_names,
                                         self.serializer.registry, self.script_engine)
        except (KeyError, IndexError, TypeError, ValueError):
            raise StateMismatchError("saved state does not fit this model version") from None
        return workflow, dict(state.get("settings") or {})
