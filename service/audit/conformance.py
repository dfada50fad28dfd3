"""Conformance for auditors: each episode's path against its model version
(`pathways.conformance`), one episode at a time or counted per deviation over a period, and
`carepath audit conformance` on the command line."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from pathways.clock import SystemClock
from pathways.conformance import (
    DEVIATION_KINDS,
    ConformanceResult,
    LoggedEvent,
    ProcessNet,
    UnsupportedModelError,
    check_conformance,
    process_net,
)
from service.audit.schemas import (
    ConformancePublic,
    DeviationCountPublic,
    DeviationPublic,
    EpisodeConformancePublic,
    StepDeviationCountPublic,
)
from service.core import access
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import InvalidRequestError, NotFoundError, ServiceError
from service.core.settings import Settings
from service.core.tables import Episode, Event, User
from service.models.registry import EngineRegistry

EVENTS_READ = ("task_completed", "timer_fired", "episode_completed", "episode_migrated")
DEFAULT_PERIOD = timedelta(days=365)


class _Models:
    """Each model version's net and step names, built once per call."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.nets: dict[int, tuple[ProcessNet | UnsupportedModelError, Mapping[str, str]]] = {}

    def of(self, version_id: int) -> tuple[ProcessNet | UnsupportedModelError, Mapping[str, str]]:
        if version_id not in self.nets:
            model = self.ctx.engines.engine_by_id(self.ctx.session, version_id).model
            net: ProcessNet | UnsupportedModelError
            try:
                net = process_net(model)
            except UnsupportedModelError as err:
                net = err
            self.nets[version_id] = (net, model.step_names())
        return self.nets[version_id]


def episode_conformance(ctx: Context, episode_id: int) -> ConformancePublic:
    """One episode's path against its model version (auditors only)."""
    access.require_role(ctx.user, "auditor")
    episode = ctx.session.get(Episode, episode_id)
    if episode is None:
        raise NotFoundError(f"there is no episode {episode_id}")
    results = _judge(ctx, [col(Episode.id) == episode_id])
    return _report(ctx.now, None, None, results, listed=lambda result: True)


def conformance_summary(ctx: Context, start: date | None, end: date | None,
                        clinic_id: int | None) -> ConformancePublic:
    """The episodes that started from `start` to `end` (whole days, UTC; by default the last
    365 days), of one clinic or all: counts per deviation kind and per step, and each episode
    that does not conform (auditors only)."""
    access.require_role(ctx.user, "auditor")
    end = end or ctx.now.date()
    start = start or (end - DEFAULT_PERIOD if end - date.min > DEFAULT_PERIOD else date.min)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    first, last = datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
    in_period = [col(Episode.started_at) >= first, col(Episode.started_at) <= last]
    if clinic_id is not None:
        in_period.append(col(Episode.clinic_id) == clinic_id)
    return _report(ctx.now, start, end, _judge(ctx, in_period),
                   listed=lambda result: result.status != "conforms")


def _judge(ctx: Context, which: list[Any]) -> dict[int, ConformanceResult]:
    """The conformance of each episode matching `which`: its steps in log order (two
    queries, however many episodes)."""
    versions = dict(ctx.session.execute(
        sa.select(col(Episode.id), col(Episode.model_version_id)).where(*which)
        .order_by(col(Episode.id))).all())
    events: dict[int, list[LoggedEvent]] = defaultdict(list)
    for episode_id, name, element, at, data in ctx.session.execute(
            sa.select(col(Event.episode_id), col(Event.name), col(Event.element),
                      col(Event.at), col(Event.data))
            .join(Episode, col(Episode.id) == col(Event.episode_id))
            .where(*which, col(Event.name).in_(EVENTS_READ))
            .order_by(col(Event.episode_id), col(Event.id))).all():
        events[episode_id].append(LoggedEvent(name, element, at, data or {}))
    models = _Models(ctx)
    results = {}
    for episode_id, version_id in versions.items():
        net, names = models.of(version_id)
        results[episode_id] = check_conformance(net, events[episode_id], names)
    return results


def _report(now: datetime, start: date | None, end: date | None,
            results: dict[int, ConformanceResult], listed: Any) -> ConformancePublic:
    by_kind: Counter[str] = Counter()
    by_step: Counter[tuple[str, str, str]] = Counter()
    for result in results.values():
        for deviation in result.deviations:
            by_kind[deviation.kind] += 1
            by_step[(deviation.step, deviation.name, deviation.kind)] += 1
    statuses = Counter(result.status for result in results.values())
    return ConformancePublic(
        start=start, end=end, as_of=now, episodes=len(results),
        conforming=statuses["conforms"], fitting=sum(r.fits for r in results.values()),
        too_complex=statuses["too_complex"], unsupported=statuses["unsupported"],
        by_kind=[DeviationCountPublic(kind=kind, count=by_kind[kind])
                 for kind in DEVIATION_KINDS],
        by_step=[StepDeviationCountPublic(step=step, name=name, kind=kind, count=count)
                 for (step, name, kind), count in sorted(
                     by_step.items(), key=lambda item: (-item[1], item[0]))],
        results=[_episode_public(episode_id, result)
                 for episode_id, result in results.items() if listed(result)])


def _episode_public(episode_id: int, result: ConformanceResult) -> EpisodeConformancePublic:
    return EpisodeConformancePublic(
        episode_id=episode_id, status=result.status, fits=result.fits,
        completed=result.completed, migrated=result.migrated, path=list(result.path),
        note=result.note, deviations=[DeviationPublic(
            kind=d.kind, step=d.step, name=d.name, position=d.position, at=d.at,
            detail=d.detail) for d in result.deviations])


# -- the command line


def _auditor() -> User:
    """Who the command line reads as: the host's operator, with an auditor's rights (never
    stored)."""
    return User(id=None, username="operator", role="auditor",
                full_name="the host's operator (command line)", password_hash="", active=True)


def conformance_command(db: Engine, settings: Settings, episode_id: int | None,
                        fmt: str) -> int:
    """`carepath audit conformance [--episode N] [--format json]`: one episode, or the last
    365 days counted per deviation, as a plain table or JSON. Non-zero with one line on a
    problem."""
    del settings  # the database is all it reads; kept for the same shape as its siblings
    if fmt not in ("table", "json"):
        print(f"carepath: unknown format {fmt!r} (table or json)", file=sys.stderr)
        return 2
    clock = SystemClock()
    try:
        with transaction(db, write=False) as session:
            ctx = Context(session, clock, EngineRegistry(clock), user=_auditor(), db=db)
            report = (episode_conformance(ctx, episode_id) if episode_id is not None
                      else conformance_summary(ctx, None, None, None))
    except ServiceError as err:
        print(f"carepath: {err}", file=sys.stderr)
        return 1
    if fmt == "json":
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        _print_table(report)
    return 0


def _print_table(report: ConformancePublic) -> None:
    period = f"{report.start} to {report.end}: " if report.start else ""
    print(f"{period}{report.episodes} episode(s), {report.conforming} conform, "
          f"{report.fitting} fit the model, {report.too_complex} too complex to align, "
          f"{report.unsupported} on a model that cannot be checked")
    rows = [("kind", "count")] + [(c.kind, str(c.count)) for c in report.by_kind]
    _table(rows)
    if report.by_step:
        print()
        _table([("step", "kind", "count")]
               + [(s.step, s.kind, str(s.count)) for s in report.by_step])
    for result in report.results:
        print(f"\nepisode {result.episode_id}: {result.status}. {result.note}")
        for d in result.deviations:
            print(f"  {d.position or '-':>4}  {d.kind:<12} {d.detail}")


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
