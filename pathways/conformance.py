"""Conformance: does the path an episode took (the steps its event log records) fit its model,
and where it does not, which steps were missing, unexpected, out of order or late.

The model is read as a Petri net (`process_net`): a place per point a token can wait at, a
transition per thing that can happen. Exclusive gateways are choices, parallel gateways split
and join, loops are cycles, called processes and embedded subprocesses are copied in at each
call, multi-instance activities repeat their body zero or more times, and a terminate end
event empties its process. Steps are *visible* when the engine logs them: a user task's
`task_completed` and a timer's `timer_fired`, both with the element id. Everything else
(scripts, business rules, gateways, start and end events, entering a called process) leaves
no event of its own and is *silent*.

A path fits when the token game can replay it, firing silent transitions freely (`replays`).
When it cannot, a shortest-path search over (marking, position in the path) finds the
cheapest alignment (`align`): a step the log and the model share costs nothing, a step only
in the log (unexpected) or only in the model (missing) costs one, a silent step next to
nothing. The search is bounded: past `MAX_STATES` states it stops and says the path is too
complex to align. Late steps come from the log alone: the engine records each user task's due
time when it becomes ready (its `due_in`) and both the due time and the completion time in
`task_completed`; a step completed after its due time was late.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
)
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import (
    AdHocSubprocess,
    EventSubprocess,
    SubWorkflowTask,
)
from SpiffWorkflow.specs.base import TaskSpec

from .events import DomainEvent
from .models import PathwayModel

STEP_EVENTS = {"task_completed": "task", "timer_fired": "timer"}
"""The events that record a step, and what kind of step: their `element` is its id."""
MAX_STATES = 200_000
"""Search states an alignment may explore before it gives up (a few seconds at most)."""
MAX_CALL_DEPTH = 10
MEMO_SIZE = 50_000

DEVIATION = 1_000_000
"""The cost of one missing or unexpected step. Silent steps cost 1 (so the search prefers the
shortest way through the model), far below one deviation however long the path."""
_SILENT = 1
_TERMINATE = 1_000
"""Ending the pathway early through a terminate end event costs more than any other silent
step: when a deviation can be explained either way, the explanation that does not leave the
pathway early wins."""

DeviationKind = Literal["missing", "unexpected", "wrong_order", "late"]
DEVIATION_KINDS: tuple[DeviationKind, ...] = ("missing", "unexpected", "wrong_order", "late")
Status = Literal["conforms", "deviates", "too_complex", "unsupported"]


class Unknown(enum.Enum):
    """How an episode ended, when its log does not say (logs written before the engine
    recorded it)."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN
Ending = str | None | Unknown
"""A finished episode's terminate end event, None when it ended normally, or UNKNOWN."""


class UnsupportedModelError(Exception):
    """The model uses an element the conformance check cannot represent."""

    def __init__(self, element: str | None, message: str) -> None:
        self.element = element
        super().__init__(f"{element}: {message}" if element else message)


# -- the model as a Petri net


@dataclass(frozen=True)
class Transition:
    id: int
    label: str | None
    """The visible step (its BPMN element id), or None for a silent one."""
    element: str | None
    """The BPMN element it comes from (gateways and scripts too), for explanations."""
    consumes: tuple[int, ...]
    produces: tuple[int, ...]
    clears: frozenset[int] = frozenset()
    """A terminate end event's: every place of its process, emptied when it fires."""
    cost: int = _SILENT


@dataclass(frozen=True)
class ProcessNet:
    """A model version as a Petri net: place names, transitions, the initial marking and the
    final place (a finished episode has tokens only there)."""

    places: tuple[str, ...]
    transitions: tuple[Transition, ...]
    initial: tuple[int, ...]
    final: int
    """Where a token ends when the process ends normally."""
    by_place: Mapping[int, tuple[Transition, ...]] = field(repr=False)
    """Transitions by the smallest place they consume (to find the enabled ones fast)."""
    eager: frozenset[int] = frozenset()
    """Silent transitions that no other transition competes with for a token (a script, a
    parallel split, entering a called process): once enabled they stay enabled and disable
    nothing, so firing them at once loses no path and saves the search from trying every
    order of them across parallel branches."""
    reach: Mapping[int, frozenset[str]] = field(default_factory=dict, repr=False)
    """Place -> the steps (and `_END`) a token there can reach through silent transitions
    alone, ignoring what other tokens a join waits for."""
    memo: dict[tuple[tuple[int, ...], str], dict[tuple[int, ...], int]] = field(
        default_factory=dict, repr=False, compare=False)
    """Silent closures already computed (episodes of one model share most markings)."""

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(t.label for t in self.transitions if t.label is not None)

    def enabled(self, marking: tuple[int, ...],
                among: Mapping[int, tuple[Transition, ...]] | None = None
                ) -> Iterator[Transition]:
        present = set(marking)
        for place in sorted(present):
            for transition in (among or self.by_place).get(place, ()):
                if all(p in present for p in transition.consumes) and _has_all(
                        marking, transition.consumes):
                    yield transition

    def fire(self, marking: tuple[int, ...], transition: Transition) -> tuple[int, ...]:
        tokens = list(marking)
        for place in transition.consumes:
            tokens.remove(place)
        if transition.clears:
            tokens = [p for p in tokens if p not in transition.clears]
        tokens.extend(transition.produces)
        return tuple(sorted(tokens))

    def settle(self, marking: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """Fire eager transitions until none is enabled; the marking and their cost."""
        cost = 0
        for _ in range(len(self.transitions) * 4):  # a silent cycle of them cannot spin
            ready = next(self.enabled(marking, self._eager_by_place), None)
            if ready is None:
                break
            marking, cost = self.fire(marking, ready), cost + ready.cost
        return marking, cost

    @cached_property
    def _eager_by_place(self) -> dict[int, tuple[Transition, ...]]:
        return {p: tuple(t for t in ts if t.id in self.eager) for p, ts in self.by_place.items()}

    terminal: Mapping[str, int] = field(default_factory=dict)
    """Terminate end event -> where the token ends when it ends the process (apart from the
    normal end, so a log that says how the episode ended can be held to it)."""

    def ends(self, terminated_by: str | None | Unknown) -> frozenset[int]:
        """The places a finished episode may end in: the normal end, the terminate end event
        the log names, or (for a log that does not say) any of them."""
        if terminated_by is UNKNOWN:
            return frozenset({self.final, *self.terminal.values()})
        if terminated_by is None:
            return frozenset({self.final})
        return frozenset({self.terminal[terminated_by]}) if terminated_by in self.terminal \
            else frozenset()

    def is_final(self, marking: tuple[int, ...], ends: frozenset[int]) -> bool:
        return bool(marking) and all(p in ends for p in marking)


def _has_all(marking: tuple[int, ...], places: tuple[int, ...]) -> bool:
    if len(set(places)) == len(places):
        return True
    return all(marking.count(p) >= places.count(p) for p in set(places))


def is_visible(task_spec: TaskSpec) -> bool:
    """Whether the engine logs this element as a step: people's tasks (`task_completed`) and
    timers (`timer_fired`)."""
    if getattr(task_spec, "manual", False):
        return True
    return isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition)


def process_net(model: PathwayModel) -> ProcessNet:
    """The model's main process, with everything it calls copied in, as a Petri net. Raises
    UnsupportedModelError for elements it cannot represent (inclusive gateways, boundary
    events, event and ad hoc subprocesses, a process that calls itself)."""
    if model.spec is None:
        raise UnsupportedModelError(None, "the bundle has no process")
    builder = _NetBuilder(model.subprocess_specs)
    start, end = builder.place("start"), builder.place("end")
    builder.process(model.spec, start, end, model.spec.name, ())
    return builder.build((start,), end)


class _NetBuilder:
    def __init__(self, subprocess_specs: Mapping[str, BpmnProcessSpec]) -> None:
        self.subprocess_specs = subprocess_specs
        self.places: list[str] = []
        self.transitions: list[dict[str, Any]] = []

    def place(self, name: str) -> int:
        self.places.append(name)
        return len(self.places) - 1

    def transition(self, label: str | None, element: str | None, consumes: Sequence[int],
                   produces: Sequence[int], cost: int = _SILENT) -> dict[str, Any]:
        made: dict[str, Any] = {"label": label, "element": element, "consumes": tuple(consumes),
                "produces": tuple(produces), "clears": frozenset(),
                "cost": 0 if label is not None else cost, "scope_is_top": False}
        self.transitions.append(made)
        return made

    def build(self, initial: tuple[int, ...], final: int) -> ProcessNet:
        terminal: dict[str, int] = {}
        for made in self.transitions:
            if made["clears"] and made["scope_is_top"]:
                element = made["element"]
                if element not in terminal:
                    terminal[element] = self.place(f"end:{element}")
                made["produces"] = (terminal[element],)
            del made["scope_is_top"]
        transitions = tuple(Transition(i, **t) for i, t in enumerate(self.transitions))
        by_place: dict[int, list[Transition]] = {}
        for transition in transitions:
            by_place.setdefault(min(transition.consumes), []).append(transition)
        consumers: dict[int, int] = {}
        for transition in transitions:
            for place in set(transition.consumes):
                consumers[place] = consumers.get(place, 0) + 1
        eager = frozenset(t.id for t in transitions if t.label is None and not t.clears
                          and all(consumers[p] == 1 for p in t.consumes))
        return ProcessNet(tuple(self.places), transitions, initial, final,
                          {p: tuple(ts) for p, ts in by_place.items()}, eager,
                          _silent_reach(len(self.places), transitions,
                                        {final, *terminal.values()}), terminal=terminal)

    def process(self, spec: BpmnProcessSpec, entry: int, exit_: int, path: str,
                calls: tuple[str, ...]) -> None:
        """Places and transitions for one run of `spec`, from `entry` to `exit_`."""
        if spec.name in calls:
            raise UnsupportedModelError(spec.name, "a process that calls itself cannot be "
                                                   "checked")
        if len(calls) >= MAX_CALL_DEPTH:
            raise UnsupportedModelError(spec.name, "called processes are nested too deeply")
        calls = (*calls, spec.name)
        first_place = len(self.places)
        children = {s.task_spec for s in spec.task_specs.values() if isinstance(s, LoopTask)}
        nodes = [s for name, s in spec.task_specs.items()
                 if s.bpmn_id is not None and name not in children]
        inbox: dict[tuple[str, str], int] = {}
        for node in nodes:
            inputs = [i for i in node.inputs if i.bpmn_id is not None]
            if isinstance(node, ParallelGateway) and len(inputs) > 1:
                for source in inputs:  # a join waits for a token from each incoming flow
                    inbox[(source.name, node.name)] = self.place(f"{path}/{source.name}>"
                                                                 f"{node.name}")
            else:  # anything else starts on a token from any incoming flow
                shared = self.place(f"{path}/{node.name}")
                for source in node.inputs:
                    inbox[(source.name, node.name)] = shared

        def target(source: TaskSpec, output: TaskSpec) -> int:
            return exit_ if output.bpmn_id is None else inbox[(source.name, output.name)]

        start = spec.task_specs["Start"]
        for output in start.outputs:
            self.transition(None, output.bpmn_id, [entry], [target(start, output)])
        terminates = []
        for node in nodes:
            consumes = sorted({inbox[(i.name, node.name)] for i in node.inputs})
            produces = [target(node, o) for o in node.outputs]
            made = self.node(spec, node, consumes, produces, path, calls)
            if made is not None:
                terminates.append(made)
        scope = frozenset(range(first_place, len(self.places)))
        for made in terminates:
            made["clears"] = scope
            made["scope_is_top"] = not calls[:-1]

    def node(self, spec: BpmnProcessSpec, node: TaskSpec, consumes: list[int],
             produces: list[int], path: str, calls: tuple[str, ...]) -> dict[str, Any] | None:
        """Transitions for one element; returns a terminate end event's transition (its
        places to clear are known once its process is built)."""
        element = node.bpmn_id
        if isinstance(node, InclusiveGateway | BoundaryEvent | BoundaryEventSplit
                      | BoundaryEventJoin | EventSubprocess | AdHocSubprocess):
            raise UnsupportedModelError(element, f"a {type(node).__name__} cannot be checked "
                                                 "for conformance yet")
        if isinstance(node, ExclusiveGateway | EventBasedGateway):
            for output in produces:
                self.transition(None, element, consumes, [output])
        elif isinstance(node, LoopTask):
            body = spec.task_specs[node.task_spec]
            begin = self.place(f"{path}/{node.name}[begin]")
            done = self.place(f"{path}/{node.name}[done]")
            self.transition(None, element, consumes, [begin])
            self.node(spec, body, [begin], [done], path, calls)
            self.transition(None, element, [done], [begin])  # once more
            self.transition(None, element, [done], produces)
            if isinstance(node, MultiInstanceTask):  # over an empty collection: not at all
                self.transition(None, element, consumes, produces)
        elif isinstance(node, SubWorkflowTask):
            called = self.subprocess_specs.get(node.spec)
            if called is None:
                raise UnsupportedModelError(element, f"calls {node.spec}, which the bundle "
                                                     "does not have")
            begin = self.place(f"{path}/{node.name}>{node.spec}")
            done = self.place(f"{path}/{node.name}<{node.spec}")
            self.transition(None, element, consumes, [begin])
            self.process(called, begin, done, f"{path}/{node.name}", calls)
            self.transition(None, element, [done], produces)
        elif isinstance(node, EndEvent) and isinstance(node.event_definition,
                                                       TerminateEventDefinition):
            return self.transition(None, element, consumes, produces, cost=_TERMINATE)
        else:
            self.transition(element if is_visible(node) else None, element, consumes,
                            produces)
        return None


# -- the path an episode took


@dataclass(frozen=True)
class LoggedEvent:
    """One row of an episode's event log, as conformance reads it."""

    name: str
    element: str | None
    at: datetime
    data: Mapping[str, Any]

    @classmethod
    def of(cls, event: DomainEvent) -> LoggedEvent:
        return cls(event.name, event.element, datetime.fromisoformat(event.at), event.data)


@dataclass(frozen=True)
class Step:
    """A step the log records: a completed user task or a fired timer."""

    element: str
    kind: Literal["task", "timer"]
    at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class EpisodePath:
    steps: tuple[Step, ...]
    completed: bool
    """The engine logged `episode_completed`: the path must reach the model's end."""
    migrated: bool
    """The episode moved to another model version on the way (`episode_migrated`)."""
    terminated_by: Ending = UNKNOWN
    """The terminate end event that ended it (`episode_completed`'s `terminated_by`)."""


def episode_path(events: Iterable[LoggedEvent]) -> EpisodePath:
    """The steps of an episode's log, in log order."""
    steps: list[Step] = []
    completed = migrated = False
    terminated_by: Ending = UNKNOWN
    for event in events:
        kind = STEP_EVENTS.get(event.name)
        if kind is not None and event.element:
            due = event.data.get("due_at") if kind == "task" else None
            steps.append(Step(event.element, "task" if kind == "task" else "timer", event.at,
                              _time(due)))
        if event.name == "episode_completed":
            completed = True
            if "terminated_by" in event.data:
                by = event.data["terminated_by"]
                terminated_by = by if isinstance(by, str) else None
        migrated = migrated or event.name == "episode_migrated"
    return EpisodePath(tuple(steps), completed, migrated, terminated_by)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# -- replay and alignment

MoveKind = Literal["sync", "log", "model"]
Marking = tuple[int, ...]
_END = "(end)"
"""The closure target of a completed episode: the model's end."""


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    step: str
    """The step's element id."""
    position: int
    """Index into the path: the step moved (sync, log), or the step the model move came
    before (`len(path)` for after the last)."""


@dataclass(frozen=True)
class Alignment:
    moves: tuple[Move, ...]
    cost: int
    explored: int

    @property
    def deviations(self) -> int:
        """Log and model moves: pm4py's alignment cost over 10,000."""
        return sum(1 for m in self.moves if m.kind != "sync")


class TooComplexError(Exception):
    """The search explored its limit of states without finishing."""

    def __init__(self, explored: int) -> None:
        self.explored = explored
        super().__init__(f"too complex to align: {explored} states explored")


class _Search:
    """Moves of the model from a marking, a visible step at a time.

    Silent transitions are fired only towards the step wanted next: one whose tokens can
    reach (through silent transitions alone) a transition of that step, or the end. Any
    firing sequence can be reordered so that before each visible step only the silent
    transitions it depends on have fired (a Petri net's transitions never need another to
    fire *less*), so no path is lost, and the choices and interleavings of the other
    parallel branches are left for later instead of multiplied at every step."""

    def __init__(self, net: ProcessNet, max_states: int, ending: Ending) -> None:
        self.net, self.max_states = net, max_states
        self.ends = net.ends(ending)
        self.explored = 0
        self.reaches = net.reach

    def count(self) -> None:
        self.explored += 1
        if self.explored > self.max_states:
            raise TooComplexError(self.explored)

    def wanted(self, marking: Marking) -> set[str]:
        """The steps the model could take next from `marking`, at most."""
        found: set[str] = set()
        for place in set(marking):
            found |= self.reaches[place]
        found.discard(_END)
        return found

    def closure(self, marking: Marking, target: str) -> dict[Marking, int]:
        """Markings reachable by silent transitions towards `target`, with their cost."""
        key = (marking, target)
        if key in self.net.memo:
            return self.net.memo[key]
        best = {marking: 0}
        queue = [(0, marking)]
        while queue:
            cost, current = heapq.heappop(queue)
            if cost > best[current]:
                continue
            for transition in self.net.enabled(current):
                if transition.label is not None or target not in self.reaches_of(transition):
                    continue
                self.count()
                after, settling = self.net.settle(self.net.fire(current, transition))
                total = cost + transition.cost + settling
                if total < best.get(after, total + 1):
                    best[after] = total
                    heapq.heappush(queue, (total, after))
        if len(self.net.memo) >= MEMO_SIZE:
            self.net.memo.clear()
        self.net.memo[key] = best
        return best

    def reaches_of(self, transition: Transition) -> frozenset[str]:
        found: set[str] = set()
        for place in transition.produces:
            found |= self.reaches[place]
        return frozenset(found)

    def steps(self, marking: Marking, label: str) -> Iterable[tuple[Marking, int]]:
        """Markings after the model takes step `label` (silent transitions before it and
        eager ones after it included), with their cost."""
        for before, cost in self.closure(marking, label).items():
            for transition in self.net.enabled(before):
                if transition.label == label:
                    after, settling = self.net.settle(self.net.fire(before, transition))
                    yield after, cost + settling

    def end_cost(self, marking: Marking) -> int | None:
        """The cost of reaching the model's end from `marking` silently, if it can."""
        costs = [cost for after, cost in self.closure(marking, _END).items()
                 if self.net.is_final(after, self.ends)]
        return min(costs) if costs else None


def _silent_reach(places: int, transitions: Sequence[Transition],
                  finals: set[int]) -> dict[int, frozenset[str]]:
    """Place -> the steps (and `_END`) a token there can reach through silent transitions
    alone, ignoring what other tokens a join waits for."""
    reach: dict[int, set[str]] = {p: set() for p in range(places)}
    for final in finals:
        reach[final].add(_END)
    for transition in transitions:
        if transition.label is not None:
            for place in transition.consumes:
                reach[place].add(transition.label)
    changed = True
    while changed:
        changed = False
        for transition in transitions:
            if transition.label is not None:
                continue
            onward: set[str] = set()
            for place in transition.produces:
                onward |= reach[place]
            for place in transition.consumes:
                if not onward <= reach[place]:
                    reach[place] |= onward
                    changed = True
    return {p: frozenset(r) for p, r in reach.items()}


def replays(net: ProcessNet, labels: Sequence[str], completed: bool,
            max_states: int = MAX_STATES, ending: Ending = UNKNOWN) -> bool:
    """The token game: can the model play the path step by step, firing silent transitions
    in between, and (for a completed episode) end?"""
    search = _Search(net, max_states, ending)
    seen: set[tuple[Marking, int]] = set()
    stack = [(net.settle(net.initial)[0], 0)]
    while stack:
        marking, position = stack.pop()
        if (marking, position) in seen:
            continue
        seen.add((marking, position))
        search.count()
        if position == len(labels):
            if not completed or search.end_cost(marking) is not None:
                return True
            continue
        stack += [(after, position + 1) for after, _ in search.steps(marking, labels[position])]
    return False


def align(net: ProcessNet, labels: Sequence[str], completed: bool,
          max_states: int = MAX_STATES, ending: Ending = UNKNOWN) -> Alignment:
    """The cheapest alignment of the path with the model: Dijkstra over (marking, position),
    a visible step at a time (costs are small integers, the first goal reached is optimal).
    For an episode still running, the model need not end: the path is aligned as a prefix."""
    search = _Search(net, max_states, ending)
    start = (net.settle(net.initial)[0], 0)
    best: dict[tuple[Marking, int], int] = {start: 0}
    back: dict[tuple[Marking, int], tuple[tuple[Marking, int], Move]] = {}
    order = itertools.count()
    queue: list[tuple[int, int, tuple[Marking, int], bool]] = [(0, next(order), start, False)]
    while queue:
        cost, _, state, ended = heapq.heappop(queue)
        if ended:
            return Alignment(_moves(back, state), cost, search.explored)
        if cost > best.get(state, cost):
            continue
        search.count()
        marking, position = state
        if position == len(labels):
            end = 0 if not completed else search.end_cost(marking)
            if end is not None:
                heapq.heappush(queue, (cost + end, next(order), state, True))
        successors: list[tuple[int, tuple[Marking, int], Move]] = []
        if position < len(labels):
            successors.append((DEVIATION, (marking, position + 1),
                               Move("log", labels[position], position)))
        for label in sorted(search.wanted(marking)):
            for after, step_cost in search.steps(marking, label):
                if position < len(labels) and label == labels[position]:
                    successors.append((step_cost, (after, position + 1),
                                       Move("sync", label, position)))
                successors.append((DEVIATION + step_cost, (after, position),
                                   Move("model", label, position)))
        for step_cost, successor, move in successors:
            total = cost + step_cost
            if total < best.get(successor, total + 1):
                best[successor] = total
                back[successor] = (state, move)
                heapq.heappush(queue, (total, next(order), successor, False))
    raise TooComplexError(search.explored)  # the model's end cannot be reached at all


def _moves(back: Mapping[tuple[Marking, int], tuple[tuple[Marking, int], Move]],
           state: tuple[Marking, int]) -> tuple[Move, ...]:
    moves = []
    while state in back:
        state, move = back[state]
        moves.append(move)
    return tuple(reversed(moves))


# -- deviations


@dataclass(frozen=True)
class Deviation:
    kind: DeviationKind
    step: str
    """The step's BPMN element id."""
    name: str
    position: int | None
    """Where in the path (1 = the first logged step): the logged step for unexpected, wrong
    order and late; for missing, the logged step it should have come before (one past the
    last when it is missing at the end)."""
    at: datetime | None
    """When the logged step happened (None for a missing step)."""
    detail: str


@dataclass(frozen=True)
class ConformanceResult:
    status: Status
    fits: bool
    """The model allows the path (steps and order); lateness does not count."""
    path: tuple[str, ...]
    completed: bool
    migrated: bool
    deviations: tuple[Deviation, ...]
    note: str
    explored: int = 0

    def count(self, kind: DeviationKind) -> int:
        return sum(1 for d in self.deviations if d.kind == kind)


def check_conformance(net: ProcessNet | UnsupportedModelError, events: Iterable[LoggedEvent],
                      names: Mapping[str, str] | None = None,
                      max_states: int = MAX_STATES) -> ConformanceResult:
    """An episode's conformance with its model's net (or the reason the model has none)."""
    path = episode_path(events)
    names = names or {}
    labels = tuple(s.element for s in path.steps)
    late = _late_steps(path.steps, names)
    migrated = (" The episode moved to another model version on the way; the whole path is "
                "judged against the version it is on now." if path.migrated else "")
    if isinstance(net, UnsupportedModelError):
        return ConformanceResult("unsupported", False, labels, path.completed, path.migrated,
                                 late, f"The model cannot be checked: {net}.")
    try:
        if replays(net, labels, path.completed, max_states, path.terminated_by):
            status: Status = "deviates" if late else "conforms"
            return ConformanceResult(status, True, labels, path.completed, path.migrated,
                                     late, _summary(True, late) + migrated)
        alignment = align(net, labels, path.completed, max_states, path.terminated_by)
    except TooComplexError as err:
        return ConformanceResult("too_complex", False, labels, path.completed, path.migrated,
                                 late, f"The path does not fit and is too complex to align "
                                       f"({err.explored} states explored; the limit is "
                                       f"{max_states}).{migrated}", err.explored)
    found = sorted((*_flow_deviations(alignment.moves, path.steps, names), *late),
                   key=lambda d: (d.position or 0, DEVIATION_KINDS.index(d.kind)))
    return ConformanceResult("deviates", False, labels, path.completed, path.migrated,
                             tuple(found), _summary(False, found) + migrated,
                             alignment.explored)


def _summary(fits: bool, deviations: Sequence[Deviation]) -> str:
    counts = {k: sum(1 for d in deviations if d.kind == k) for k in DEVIATION_KINDS}
    words = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
    if fits:
        return ("The path fits the model." if not words
                else f"The path fits the model; steps completed late: {counts['late']}.")
    return f"The path does not fit the model: {words}."


def _flow_deviations(moves: Sequence[Move], steps: Sequence[Step],
                     names: Mapping[str, str]) -> list[Deviation]:
    """Log moves are unexpected steps, visible model moves missing ones; a step that is both
    (logged where the model did not allow it, and missing where it did) was done in the
    wrong order."""
    logged = [m for m in moves if m.kind == "log"]
    missing = [m for m in moves if m.kind == "model"]
    found: list[Deviation] = []
    for move in missing:
        twin = min((m for m in logged if m.step == move.step),
                   key=lambda m: abs(m.position - move.position), default=None)
        name = names.get(move.step, move.step)
        if twin is None:
            found.append(Deviation("missing", move.step, name, move.position + 1, None,
                                   f"{name}: the model expects it here, the log does not "
                                   "have it"))
            continue
        logged.remove(twin)
        where = "earlier" if twin.position < move.position else "later"
        found.append(Deviation("wrong_order", twin.step, name, twin.position + 1,
                               steps[twin.position].at,
                               f"{name}: done {where} than the model allows (the model "
                               f"expects it before logged step {move.position + 1})"))
    for move in logged:
        name = names.get(move.step, move.step)
        found.append(Deviation("unexpected", move.step, name, move.position + 1,
                               steps[move.position].at,
                               f"{name}: the model does not allow it here"))
    return found


def _late_steps(steps: Sequence[Step], names: Mapping[str, str]) -> tuple[Deviation, ...]:
    late = []
    for position, step in enumerate(steps, 1):
        if step.due_at is not None and step.at > step.due_at:
            name = names.get(step.element, step.element)
            late.append(Deviation("late", step.element, name, position, step.at,
                                  f"{name}: completed {_duration(step.at - step.due_at)} "
                                  f"after it was due ({step.due_at.isoformat()})"))
    return tuple(late)


def _duration(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    hours, minutes = seconds // 3600, seconds % 3600 // 60
    parts = [f"{days} day{'s' * (days != 1)}" if days else "",
             f"{hours} hour{'s' * (hours != 1)}" if hours else "",
             f"{minutes} minute{'s' * (minutes != 1)}" if minutes and not days else ""]
    return " ".join(p for p in parts if p) or "less than a minute"
