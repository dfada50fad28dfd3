"""Pathway analytics from the event log: where episodes wait now, how long each step takes,
which way each gateway sends them, and the outcomes by stratum.

Each episode's log is replayed on its model version's Petri net (`pathways.conformance`),
with a time on every token:

- A token gets the time of the logged step that produced it (`episode_started` for the
  first). Silent elements (gateways, scripts, entering a called process) run at once, so
  their outputs keep the time of the token they consumed (the latest one, at a join).
- *Time spent at a step* is from the step becoming ready (the time of the token its
  transition consumes; the latest, when it consumes several) to its `task_completed` or
  `timer_fired`. For a user task this is how long it waited in a worklist; for a timer, how
  long the episode waited for it.
- *A gateway branch taken* is a silent transition of an exclusive or event-based gateway
  that the replay fired to reach the next logged step: the flow from the gateway to the
  element after it. Branches that lead to the end are counted when the episode completes.
- A step the model does not allow where the replay stands (a deviation) is timed from the
  episode's previous logged step (or its start), and the replay carries on from just after
  it; such steps are counted in `Analytics.estimated`.

Versions: an episode that moved (`episode_migrated`) is replayed on the version it was on
(`from_version`) up to the move, then on the version it moved to. A step is counted under
its element id whatever the version, so a step both versions have adds up. The steps that
were ready at the move keep the time they became ready (a migration restarts them at the
same element); a timer the migration restarted (`timers_restarted`) is ready from the move.

*Waiting now* counts, for episodes whose process has not ended (`episode_completed`; a
discharged episode may still wait for its registry follow-up), each open user task (from the
service's projection of ready tasks, which the engine keeps exact) and each timer the replay
leaves a token in front of. Medians and 90th percentiles are nearest-rank over the completed
steps' times, in seconds.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway

from .conformance import (
    STEP_EVENTS,
    LoggedEvent,
    ProcessNet,
    Transition,
    UnsupportedModelError,
    process_net,
)
from .models import PathwayModel

END = "(end)"
"""The target of a gateway branch that leads to the end of its process (and how
`ProcessNet.reach` names the end of the pathway)."""
MAX_SEARCH = 5_000
"""Markings a search for the next logged step may visit before the step counts as a
deviation (the reference pathway needs a few dozen)."""
FOLLOW_UP_WEEKS = (6, 12)
UNSTRATIFIED = "none"


@dataclass(frozen=True)
class ModelShape:
    """What the analytics need of one model version: its net (or why it has none), its
    gateways and its timers."""

    net: ProcessNet | UnsupportedModelError
    gateways: frozenset[str]
    timers: frozenset[str]
    search_memo: dict[tuple[tuple[int, ...], str], tuple[int, ...] | None] = field(
        default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, model: PathwayModel) -> ModelShape:
        net: ProcessNet | UnsupportedModelError
        try:
            net = process_net(model)
        except UnsupportedModelError as err:
            net = err
        gateways, timers = set(), set()
        for spec in model.all_specs():
            for task in spec.task_specs.values():
                if not task.bpmn_id:
                    continue
                if isinstance(task, ExclusiveGateway | InclusiveGateway | EventBasedGateway) \
                        and len(task.outputs) > 1:  # a merge has no choice to count
                    gateways.add(task.bpmn_id)
                if isinstance(getattr(task, "event_definition", None), TimerEventDefinition):
                    timers.add(task.bpmn_id)
        return cls(net, frozenset(gateways), frozenset(timers))


@dataclass(frozen=True)
class EpisodeLog:
    """One episode as the analytics read it."""

    episode_id: int
    version_id: int
    """The version it is on now."""
    stratum: str | None
    events: Sequence[LoggedEvent]
    """Its log in order: steps, start, migrations, endings, follow-ups."""
    open_tasks: Sequence[str] = ()
    """The element ids of its ready user tasks now."""


@dataclass(frozen=True)
class StepStats:
    element: str
    waiting: int
    completed: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class BranchStats:
    gateway: str
    target: str
    """The element the flow leads to, or END."""
    taken: int
    share: float
    """Of the times the replay went through this gateway."""


@dataclass(frozen=True)
class StratumOutcome:
    stratum: str
    episodes: int
    followed_up: Mapping[int, int]
    """Follow-up week -> episodes with that follow-up (and a judgement of improvement)."""
    reached_mcid: Mapping[int, int]
    """Follow-up week -> of those, the episodes that reached the MCID."""
    discharged: int
    median_days_to_discharge: float | None
    escalated: int

    def mcid_share(self, week: int) -> float | None:
        followed = self.followed_up.get(week, 0)
        return self.reached_mcid.get(week, 0) / followed if followed else None


@dataclass(frozen=True)
class Analytics:
    episodes: int
    steps: tuple[StepStats, ...]
    branches: tuple[BranchStats, ...]
    outcomes: tuple[StratumOutcome, ...]
    estimated: int
    """Completed steps the model did not allow where they happened, timed from the episode's
    previous step."""
    migrated: int
    """Episodes that moved between versions."""


def analyse(episodes: Iterable[EpisodeLog], shapes: Mapping[int, ModelShape]) -> Analytics:
    """The analytics over `episodes`; `shapes` has every version they were on."""
    durations: dict[str, list[float]] = defaultdict(list)
    waiting: Counter[str] = Counter()
    branches: Counter[tuple[str, str]] = Counter()
    outcomes: dict[str, _Outcome] = defaultdict(_Outcome)
    count = estimated = migrated = 0
    for episode in episodes:
        count += 1
        replay = _Replay(episode, shapes)
        replay.run()
        for element, seconds in replay.durations:
            durations[element].append(seconds)
        branches.update(replay.branches)
        estimated += replay.estimated
        migrated += replay.migrated
        if not replay.ended:
            waiting.update(set(episode.open_tasks) | replay.waiting_timers())
        outcomes[episode.stratum or UNSTRATIFIED].add(episode.events)
    elements = sorted(set(durations) | set(waiting))
    steps = tuple(StepStats(e, waiting[e], len(durations[e]), *_median_p90(durations[e]))
                  for e in elements)
    through: Counter[str] = Counter()
    for (gateway, _), taken in branches.items():
        through[gateway] += taken
    return Analytics(
        count, steps,
        tuple(BranchStats(g, t, n, n / through[g]) for (g, t), n in sorted(branches.items())),
        tuple(outcome.public(stratum) for stratum, outcome in sorted(outcomes.items())),
        estimated, migrated)


def _median_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return statistics.median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1]


Token = tuple[int, datetime]
"""A place of the net and when the token got there."""


class _Replay:
    """One episode's log on its versions' nets, token times included."""

    def __init__(self, episode: EpisodeLog, shapes: Mapping[int, ModelShape]) -> None:
        self.episode, self.shapes = episode, shapes
        first = next((e for e in episode.events if e.name == "episode_migrated"), None)
        version = first.data.get("from_version") if first is not None else None
        self.shape = shapes.get(version if isinstance(version, int) else episode.version_id) \
            or shapes[episode.version_id]
        self.tokens: list[Token] = []
        self.durations: list[tuple[str, float]] = []
        self.branches: list[tuple[str, str]] = []
        self.estimated = self.migrated = 0
        self.ended = False
        self.last: datetime | None = None

    @property
    def net(self) -> ProcessNet | None:
        net = self.shape.net
        return None if isinstance(net, UnsupportedModelError) else net

    def run(self) -> None:
        for event in self.episode.events:
            if self.last is None:
                self.last = event.at
                if self.net is not None:
                    self.tokens = [(p, event.at) for p in self.net.initial]
            if event.name in STEP_EVENTS and event.element:
                self.step(event.element, event.at)
            elif event.name == "episode_migrated":
                self.migrate(event)
            elif event.name == "episode_completed":
                self.ended = True
                self.finish()

    def step(self, element: str, at: datetime) -> None:
        net = self.net
        path = self.search(element) if net is not None else None
        if net is None or path is None:
            self.estimated += 1
            assert self.last is not None
            self.durations.append((element, (at - self.last).total_seconds()))
            if net is not None:  # carry on from just after the step
                after = next((t for t in net.transitions if t.label == element), None)
                if after is not None:
                    self.tokens = [(p, at) for p in after.produces]
        else:
            for transition_id in path:
                ready = self.fire(net.transitions[transition_id], at)
            self.durations.append((element, (at - ready).total_seconds()))
        self.last = at

    def fire(self, transition: Transition, at: datetime) -> datetime:
        """Fire `transition`; returns when it became ready (its latest consumed token)."""
        consumed: list[datetime] = []
        for place in transition.consumes:
            token = min((t for t in self.tokens if t[0] == place), key=lambda t: t[1])
            self.tokens.remove(token)
            consumed.append(token[1])
        ready = max(consumed) if consumed else at
        if transition.clears:
            self.tokens = [t for t in self.tokens if t[0] not in transition.clears]
        when = at if transition.label is not None else ready
        self.tokens.extend((p, when) for p in transition.produces)
        if transition.label is None and transition.element in self.shape.gateways:
            self.branches.append((transition.element, self.target(transition)))
        return ready

    def target(self, transition: Transition) -> str:
        assert self.net is not None
        place = self.net.places[transition.produces[0]] if transition.produces else "end"
        name = place.rsplit("/", 1)[-1]
        if name in ("end", "") or "<" in name:  # the pathway's end, or its process's
            return END
        return name.rpartition(">")[2]  # into a parallel join: "source>join"

    def search(self, target: str) -> tuple[int, ...] | None:
        """The silent transitions, then the step's own, that take the marking to `target`
        (breadth first, so the fewest silent steps; remembered per marking)."""
        net = self.net
        assert net is not None
        start = tuple(sorted(p for p, _ in self.tokens))
        key = (start, target)
        if key in self.shape.search_memo:
            return self.shape.search_memo[key]
        found: tuple[int, ...] | None = None
        seen = {start}
        queue: deque[tuple[tuple[int, ...], tuple[int, ...]]] = deque([(start, ())])
        while queue and len(seen) <= MAX_SEARCH:
            marking, path = queue.popleft()
            step = next((t for t in net.enabled(marking) if t.label == target), None)
            if step is not None:
                found = (*path, step.id)
                break
            onward = [t for t in net.enabled(marking) if t.label is None and any(
                target in net.reach.get(p, ()) for p in t.produces)]
            # A silent transition nothing competes with loses no path when fired first:
            # firing only it spares the search every interleaving of parallel branches.
            eager = [t for t in onward if t.id in net.eager]
            for transition in eager[:1] or onward:
                after = net.fire(marking, transition)
                if after not in seen:
                    seen.add(after)
                    queue.append((after, (*path, transition.id)))
        self.shape.search_memo[key] = found
        return found

    def finish(self) -> None:
        """Fire the silent transitions to the end, counting the gateway branches on the way."""
        net = self.net
        if net is None or self.last is None:
            return
        for _ in range(len(net.transitions)):
            ready = [t for t in net.enabled(tuple(sorted(p for p, _ in self.tokens)))
                     if t.label is None and any(END in net.reach.get(p, ())
                                                for p in t.produces)]
            if len(ready) != 1:  # done, or a choice the log cannot settle
                return
            self.fire(ready[0], self.last)

    def migrate(self, event: LoggedEvent) -> None:
        """Move to the version the episode moved to; the steps ready before stay ready."""
        self.migrated = 1
        version = event.data.get("to_version")
        shape = self.shapes.get(version if isinstance(version, int) else self.episode.version_id)
        if shape is None:
            return
        ready: dict[str, datetime] = {}
        net = self.net
        if net is not None:
            for place, when in self.tokens:
                for label in net.reach.get(place, ()):
                    ready[label] = min(when, ready.get(label, when))
        for timer in event.data.get("timers_restarted") or ():
            if isinstance(timer, Mapping) and isinstance(timer.get("step"), str):
                ready[timer["step"]] = event.at
        self.shape = shape
        self.tokens = []
        new = self.net
        if new is None:
            return
        places: dict[int, datetime] = {}
        for transition in new.transitions:
            if transition.label in ready:
                for place in transition.consumes:
                    places[place] = ready[transition.label]
        self.tokens = sorted(places.items())
        self.last = event.at

    def waiting_timers(self) -> set[str]:
        """The timers a token waits in front of now."""
        net = self.net
        if net is None:
            return set()
        found: set[str] = set()
        for place, _ in self.tokens:
            reach = net.reach.get(place, frozenset())
            timers = reach & self.shape.timers
            if len(timers) == 1 and not reach & set(self.episode.open_tasks):
                found |= timers
        return found


class _Outcome:
    def __init__(self) -> None:
        self.episodes = self.discharged = self.escalated = 0
        self.followed_up: Counter[int] = Counter()
        self.reached: Counter[int] = Counter()
        self.days_to_discharge: list[float] = []

    def add(self, events: Sequence[LoggedEvent]) -> None:
        self.episodes += 1
        started = next((e.at for e in events if e.name == "episode_started"), None)
        weeks_seen: set[int] = set()
        for event in events:
            if event.name == "follow_up_completed":
                week = event.data.get("follow_up_week")
                improvement = event.data.get("improvement")
                if week in FOLLOW_UP_WEEKS and week not in weeks_seen \
                        and isinstance(improvement, Mapping):
                    judged = next((improvement[k] for k in ("primary_improved", "any_improved")
                                   if k in improvement), None)
                    if isinstance(judged, bool):
                        weeks_seen.add(week)
                        self.followed_up[week] += 1
                        self.reached[week] += judged
            elif event.name == "episode_discharged":
                self.discharged += 1
                if started is not None:
                    self.days_to_discharge.append((event.at - started).total_seconds() / 86400)
            elif event.name == "episode_escalated":
                self.escalated += 1

    def public(self, stratum: str) -> StratumOutcome:
        return StratumOutcome(
            stratum, self.episodes, dict(self.followed_up), dict(self.reached),
            self.discharged,
            statistics.median(self.days_to_discharge) if self.days_to_discharge else None,
            self.escalated)
