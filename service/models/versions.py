"""Between model versions: what changed (in words, and per diagram element), and moving
running episodes from one version to another, with a dry run first.

A migration plans each chosen episode on the domain's side (pathways.versions): where it is,
where it will be, which timers restart and when they fall due, or why it cannot move. Each
episode then moves in a savepoint of its own, with its audit event: one that fails keeps its
old version and the others go on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel import col, func, select

from pathways.errors import PathwayError
from pathways.models import PathwayModel
from pathways.versions import Change, MigrationPlan, diff_models
from service.care import service as care_service
from service.core import access
from service.core.context import Context
from service.core.db import savepoint
from service.core.errors import InvalidRequestError, NotFoundError, ServiceError
from service.core.tables import Episode, Instance, ModelVersion

MAX_EPISODES = 5_000
"""Episodes one migration request takes on (a larger clinic migrates by step or stratum)."""


@dataclass(frozen=True)
class VersionRef:
    id: int
    name: str
    digest: str
    active: bool


@dataclass(frozen=True)
class VersionDiff:
    old: VersionRef
    new: VersionRef
    changes: tuple[Change, ...]
    markers: dict[str, dict[str, Literal["added", "removed", "changed"]]]
    """BPMN file -> element id -> what happened to it, for drawing on the diagrams (removed
    elements are drawn on the old version's diagram, the others on the new one's)."""
    bpmn_files: tuple[str, ...]


@dataclass(frozen=True)
class TimerMove:
    step: str
    name: str
    due_before: datetime | None
    due_after: datetime | None
    restarted: bool


@dataclass(frozen=True)
class EpisodeMove:
    episode_id: int
    stratum: str | None
    from_version: int
    ok: bool
    reason: str | None
    now_at: tuple[str, ...]
    """Where the episode is now, as step names a manager reads."""
    will_be_at: tuple[str, ...]
    timers: tuple[TimerMove, ...]
    migrated: bool


@dataclass(frozen=True)
class MigrationReport:
    to_version: int
    dry_run: bool
    moves: tuple[EpisodeMove, ...]

    @property
    def moved(self) -> int:
        return sum(1 for move in self.moves if move.migrated)

    @property
    def refused(self) -> int:
        return sum(1 for move in self.moves if not move.ok)


def version(ctx: Context, version_id: int) -> ModelVersion:
    access.require_role(ctx.user, "manager")
    found = ctx.session.get(ModelVersion, version_id)
    if found is None:
        raise NotFoundError(f"there is no model version {version_id}")
    return found


def _model(ctx: Context, found: ModelVersion) -> PathwayModel:
    return ctx.engines.engine_for(found).model


def _ref(found: ModelVersion) -> VersionRef:
    return VersionRef(found.id or 0, found.name, found.digest[:12], found.active)


def version_diff(ctx: Context, old_id: int, new_id: int) -> VersionDiff:
    old, new = version(ctx, old_id), version(ctx, new_id)
    changes = tuple(diff_models(_model(ctx, old), _model(ctx, new)))
    markers: dict[str, dict[str, Literal["added", "removed", "changed"]]] = {}
    change: Change
    for change in changes:
        if change.file.endswith(".bpmn") and change.element:
            markers.setdefault(change.file, {})[change.element] = change.kind
    files = sorted({name for name in (*old.files, *new.files) if name.endswith(".bpmn")})
    return VersionDiff(_ref(old), _ref(new), changes, markers, tuple(files))


def migrate(ctx: Context, to_version: int, episode_ids: Sequence[int] = (),
            step: str | None = None, stratum: str | None = None,
            dry_run: bool = True) -> MigrationReport:
    """Plan (and unless `dry_run`, carry out) moving running episodes to `to_version`: the
    chosen ones, else every running episode on another version of the same process,
    narrowed to those at `step` (a step's id, where an episode waits or has a task) and in
    `stratum`."""
    access.require_role(ctx.user, "manager")
    target = version(ctx, to_version)
    episodes = _candidates(ctx, target, episode_ids, stratum)
    moves = []
    for episode in episodes:
        move = _move(ctx, episode, target, step, dry_run)
        if move is not None:
            moves.append(move)
    return MigrationReport(target.id or 0, dry_run, tuple(moves))


def _candidates(ctx: Context, target: ModelVersion, episode_ids: Sequence[int],
                stratum: str | None) -> list[Episode]:
    if len(episode_ids) > MAX_EPISODES:
        raise InvalidRequestError(f"choose at most {MAX_EPISODES:,} episodes at a time")
    query = (select(Episode).join(Instance, col(Instance.episode_id) == Episode.id)
             .where(*_running_elsewhere(target, any_process=bool(episode_ids)))
             .order_by(col(Episode.id)))
    if episode_ids:
        query = query.where(col(Episode.id).in_(list(episode_ids)))
    if stratum:
        query = query.where(Episode.stratum == stratum)
    found = list(ctx.session.exec(query.limit(MAX_EPISODES + 1)).all())
    if len(found) > MAX_EPISODES:
        raise InvalidRequestError(f"more than {MAX_EPISODES:,} episodes match; narrow the "
                                  f"migration by step or stratum")
    missing = sorted(set(episode_ids) - {e.id for e in found})
    if missing:
        raise InvalidRequestError(
            f"episode(s) {', '.join(map(str, missing))} cannot move: not found, not running, "
            f"or already on version {target.id}",
            [{"field": "episodes", "message": "choose running episodes on another version"}])
    return found


def _move(ctx: Context, episode: Episode, target: ModelVersion, step: str | None,
          dry_run: bool) -> EpisodeMove | None:
    from_version = episode.model_version_id
    old_version = ctx.session.get(ModelVersion, from_version)
    if old_version is not None and old_version.process_id != target.process_id:
        return _refused(episode, f"version {target.id} runs another process "
                                 f"({target.process_id}, not {old_version.process_id})")
    try:
        if step is not None:  # the plan says where the episode is: only then can it be chosen
            plan = care_service.move_to_version(ctx, episode, target, dry_run=True)
            if step not in plan.steps_before:
                return None
            if dry_run or not plan.ok:
                return _described(ctx, episode, from_version, target, plan, migrated=False)
        if dry_run:
            plan = care_service.move_to_version(ctx, episode, target, dry_run=True)
            return _described(ctx, episode, from_version, target, plan, migrated=False)
        with savepoint(ctx.session):
            plan = care_service.move_to_version(ctx, episode, target, dry_run=False)
        return _described(ctx, episode, from_version, target, plan, migrated=plan.ok)
    except (ServiceError, PathwayError) as err:
        return _refused(episode, str(err), from_version)


def _described(ctx: Context, episode: Episode, from_version: int, target: ModelVersion,
               plan: MigrationPlan, migrated: bool) -> EpisodeMove:
    old = ctx.engines.engine_by_id(ctx.session, from_version).model.step_names()
    new = _model(ctx, target).step_names()
    return EpisodeMove(
        episode_id=episode.id or 0, stratum=episode.stratum, from_version=from_version,
        ok=plan.ok, reason=plan.reason,
        now_at=tuple(old.get(s, s) for s in plan.steps_before),
        will_be_at=tuple(new.get(s, s) for s in plan.steps_after),
        timers=tuple(TimerMove(t.element, t.name, t.due_before, t.due_after, t.restarted)
                     for t in plan.timers),
        migrated=migrated)


def _refused(episode: Episode, reason: str, from_version: int | None = None) -> EpisodeMove:
    return EpisodeMove(episode_id=episode.id or 0, stratum=episode.stratum,
                       from_version=from_version or episode.model_version_id, ok=False,
                       reason=reason, now_at=(), will_be_at=(), timers=(), migrated=False)


@dataclass(frozen=True)
class RunningEpisode:
    id: int
    stratum: str | None
    version_id: int


@dataclass(frozen=True)
class MigrationPage:
    """The migration form for one target version and, after a submit, its plan or outcome."""

    target: VersionRef
    running: tuple[RunningEpisode, ...]
    """Running episodes on other versions of the process (the first MAX_LISTED), to choose."""
    running_count: int
    steps: tuple[tuple[str, str], ...]
    """(step id, name) of every step an episode can wait at (people's tasks and timers) in
    the versions those episodes run on."""
    chosen: tuple[int, ...] = ()
    step: str | None = None
    stratum: str | None = None
    report: MigrationReport | None = None


MAX_LISTED = 200


def migration_page(ctx: Context, version_id: int, episode_ids: Sequence[int] = (),
                   step: str | None = None, stratum: str | None = None,
                   dry_run: bool | None = None) -> MigrationPage:
    target = version(ctx, version_id)
    report = None
    if dry_run is not None:
        report = migrate(ctx, version_id, episode_ids, step, stratum, dry_run)
    rows = ctx.session.exec(
        select(Episode.id, Episode.stratum, Episode.model_version_id)
        .join(Instance, col(Instance.episode_id) == Episode.id)
        .where(*_running_elsewhere(target)).order_by(col(Episode.id))
        .limit(MAX_LISTED + 1)).all()
    count = len(rows) if len(rows) <= MAX_LISTED else int(ctx.session.exec(
        select(func.count()).select_from(Episode)
        .join(Instance, col(Instance.episode_id) == Episode.id)
        .where(*_running_elsewhere(target))).one())
    steps: dict[str, str] = {}
    for other_id in sorted({row[2] for row in rows}):
        steps.update(ctx.engines.engine_by_id(ctx.session, other_id).model.waiting_step_names())
    return MigrationPage(
        target=_ref(target),
        running=tuple(RunningEpisode(row[0] or 0, row[1], row[2]) for row in rows[:MAX_LISTED]),
        running_count=count, steps=tuple(sorted(steps.items(), key=lambda item: item[1])),
        chosen=tuple(episode_ids), step=step, stratum=stratum, report=report)


def _running_elsewhere(target: ModelVersion, any_process: bool = False) -> list[Any]:
    """Where-clauses (over episodes joined with their instances) for the running episodes on
    a version other than `target`: of the same process, unless chosen one by one (a chosen
    episode of another process is then refused with the reason)."""
    clauses: list[Any] = [Instance.status == "running", Episode.status == "active",
                          col(Episode.model_version_id) != target.id]
    if not any_process:
        clauses.append(col(Episode.model_version_id).in_(
            select(ModelVersion.id).where(ModelVersion.process_id == target.process_id)))
    return clauses
