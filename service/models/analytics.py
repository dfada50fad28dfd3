"""A model version's analytics for managers: where its episodes wait, how long each step
takes, which way its gateways send them and the outcomes by stratum, over the episodes that
started in a period (at one clinic or all), as a page context, JSON and CSV.

Reads the episodes, their events and their open tasks in three queries, rows raw (Core, no
ORM objects, times and JSON converted here), and hands them to `pathways.analytics`."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from pathways.analytics import END, Analytics, EpisodeLog, ModelShape, analyse
from pathways.conformance import LoggedEvent
from service.audit.indicators import DEFAULT_PERIOD, clinic_names
from service.core import access
from service.core.context import Context
from service.core.db import raw_json, raw_time
from service.core.errors import InvalidRequestError, NotFoundError
from service.core.tables import Episode, Event, ModelVersion, ReadyTask
from service.models.schemas import (
    BranchAnalyticsPublic,
    ModelAnalyticsPublic,
    StepAnalyticsPublic,
    StratumOutcomePublic,
)

EVENTS_READ = ("episode_started", "task_completed", "timer_fired", "episode_migrated",
               "episode_completed", "episode_discharged", "episode_escalated",
               "follow_up_completed")
EVENTS_WITH_DATA = ("episode_migrated", "follow_up_completed")


def model_analytics(ctx: Context, version_id: int, start: date | None, end: date | None,
                    clinic_id: int | None) -> ModelAnalyticsPublic:
    """The analytics of the episodes now on `version_id` that started in [start, end]
    (whole days, UTC; by default the last 365 days), of one clinic or all (managers)."""
    access.require_role(ctx.user, "manager")
    if ctx.session.get(ModelVersion, version_id) is None:
        raise NotFoundError(f"there is no model version {version_id}")
    end = end or ctx.now.date()
    start = start or (end - DEFAULT_PERIOD if end - date.min > DEFAULT_PERIOD else date.min)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    if clinic_id is not None:
        clinic_names(ctx, clinic_id)
    first, last = datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
    which = [col(Episode.model_version_id) == version_id, col(Episode.started_at) >= first,
             col(Episode.started_at) <= last]
    if clinic_id is not None:
        which.append(col(Episode.clinic_id) == clinic_id)
    logs = _episode_logs(ctx, which)
    shapes: dict[int, ModelShape] = {}
    names: dict[str, str] = {}
    for version in {version_id, *_versions_moved_from(logs)}:
        model = ctx.engines.engine_by_id(ctx.session, version).model
        shapes[version] = ModelShape.of(model)
        names = {**model.step_names(), **names}  # this version's names win
    result = analyse(logs, shapes)
    return _public(version_id, start, end, clinic_id, ctx.now, result, names)


def _episode_logs(ctx: Context, which: list[Any]) -> list[EpisodeLog]:
    connection = ctx.session.connection()
    data = sa.case((col(Event.name).in_(EVENTS_WITH_DATA),
                    sa.type_coerce(col(Event.data), sa.Text)), else_=sa.null())
    events: dict[int, list[LoggedEvent]] = defaultdict(list)
    for episode_id, name, element, at, values in connection.execute(
            sa.select(col(Event.episode_id), col(Event.name), col(Event.element),
                      sa.type_coerce(col(Event.at), sa.Text), data)
            .join(Episode, col(Episode.id) == col(Event.episode_id))
            .where(*which, col(Event.name).in_(EVENTS_READ))
            .order_by(col(Event.episode_id), col(Event.id))).all():
        events[episode_id].append(LoggedEvent(name, element, raw_time(at),
                                              raw_json(values) if values else {}))
    open_tasks: dict[int, list[str]] = defaultdict(list)
    for episode_id, task in connection.execute(
            sa.select(col(ReadyTask.episode_id), col(ReadyTask.name))
            .join(Episode, col(Episode.id) == col(ReadyTask.episode_id)).where(*which)).all():
        open_tasks[episode_id].append(task)
    rows = connection.execute(
        sa.select(col(Episode.id), col(Episode.model_version_id), col(Episode.stratum))
        .where(*which).order_by(col(Episode.id))).all()
    return [EpisodeLog(episode_id, version, stratum, events[episode_id],
                       open_tasks.get(episode_id, ()))
            for episode_id, version, stratum in rows if episode_id is not None]


def _versions_moved_from(logs: list[EpisodeLog]) -> set[int]:
    return {version for log in logs for event in log.events
            if event.name == "episode_migrated"
            for version in (event.data.get("from_version"), event.data.get("to_version"))
            if isinstance(version, int)}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _public(version_id: int, start: date, end: date, clinic_id: int | None, now: datetime,
            result: Analytics, names: dict[str, str]) -> ModelAnalyticsPublic:
    def name(element: str) -> str:
        return "the end of its process" if element == END else names.get(element, element)

    outcomes = []
    for o in result.outcomes:
        outcomes.append(StratumOutcomePublic(
            stratum=o.stratum, episodes=o.episodes,
            followed_up_6w=o.followed_up.get(6, 0), reached_mcid_6w=o.reached_mcid.get(6, 0),
            mcid_share_6w=o.mcid_share(6), followed_up_12w=o.followed_up.get(12, 0),
            reached_mcid_12w=o.reached_mcid.get(12, 0), mcid_share_12w=o.mcid_share(12),
            discharged=o.discharged,
            median_days_to_discharge=None if o.median_days_to_discharge is None
            else round(o.median_days_to_discharge, 1),
            escalated=o.escalated))
    return ModelAnalyticsPublic(
        version_id=version_id, start=start, end=end, clinic_id=clinic_id, as_of=now,
        episodes=result.episodes, migrated=result.migrated, estimated=result.estimated,
        steps=[StepAnalyticsPublic(element=s.element, name=name(s.element), waiting=s.waiting,
                                   completed=s.completed, median_hours=_hours(s.median_seconds),
                                   p90_hours=_hours(s.p90_seconds)) for s in result.steps],
        branches=[BranchAnalyticsPublic(gateway=b.gateway, gateway_name=name(b.gateway),
                                        target=b.target, target_name=name(b.target),
                                        taken=b.taken, share=round(b.share, 4))
                  for b in result.branches],
        outcomes=outcomes)


def analytics_csv(report: ModelAnalyticsPublic) -> str:
    """The same numbers as one CSV: a `table` column says which table a row belongs to."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "element", "name", "target", "target_name", "waiting",
                     "completed", "median_hours", "p90_hours", "taken", "share"])
    for s in report.steps:
        writer.writerow(["step", s.element, s.name, "", "", s.waiting, s.completed,
                         _cell(s.median_hours), _cell(s.p90_hours), "", ""])
    for b in report.branches:
        writer.writerow(["branch", b.gateway, b.gateway_name, b.target, b.target_name, "", "",
                         "", "", b.taken, b.share])
    writer.writerow([])
    writer.writerow(["table", "stratum", "episodes", "followed_up_6w", "reached_mcid_6w",
                     "mcid_share_6w", "followed_up_12w", "reached_mcid_12w", "mcid_share_12w",
                     "discharged", "median_days_to_discharge", "escalated"])
    for o in report.outcomes:
        writer.writerow(["outcome", o.stratum, o.episodes, o.followed_up_6w, o.reached_mcid_6w,
                         _cell(o.mcid_share_6w), o.followed_up_12w, o.reached_mcid_12w,
                         _cell(o.mcid_share_12w), o.discharged,
                         _cell(o.median_days_to_discharge), o.escalated])
    return out.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@dataclass(frozen=True)
class AnalyticsPage:
    """The page: the numbers, the version's diagrams to draw them on, the clinics to
    choose from, and what the diagram script reads (its JSON island)."""

    report: ModelAnalyticsPublic
    bpmn_files: tuple[str, ...]
    clinics: dict[int, str]
    overlay: dict[str, Any]


def analytics_page(ctx: Context, report: ModelAnalyticsPublic) -> AnalyticsPage:
    version = ctx.session.get(ModelVersion, report.version_id)
    files = tuple(sorted(name for name in (version.files if version else {})
                         if name.endswith(".bpmn")))
    overlay = {
        "steps": {s.element: {"waiting": s.waiting, "completed": s.completed,
                              "median_hours": s.median_hours, "p90_hours": s.p90_hours}
                  for s in report.steps},
        "branches": [{"gateway": b.gateway, "target": b.target, "taken": b.taken,
                      "share": b.share} for b in report.branches],
    }
    return AnalyticsPage(report, files, clinic_names(ctx), overlay)
