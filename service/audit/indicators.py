"""Guideline-adherence indicators and digital engagement for auditors: per clinic, and per
clinician; and the episodes that breach one indicator, with the reason.

Reads the episodes that started in a period, their events and logged exercise sessions
(three queries, whatever the number of episodes), and hands them to `pathways.adherence`,
which judges each episode once and does the counting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from pathways import adherence
from pathways.adherence_records import (
    EVENTS_READ,
    EVENTS_WITH_DATA,
    AdherenceSettings,
    EpisodeEvent,
    EpisodeRecord,
)
from service.audit.schemas import (
    ClinicianIndicatorsPublic,
    ClinicIndicatorsPublic,
    EngagementMeasurePublic,
    EngagementPublic,
    IndicatorPublic,
    IndicatorsPublic,
    StopReasonPublic,
    StratumTallyPublic,
)
from service.core import access
from service.core.context import Context
from service.core.db import raw_json, raw_time
from service.core.errors import InvalidRequestError
from service.core.tables import Clinic, Episode, Event, ExerciseLog, User
from service.models import registry as models_registry

DEFAULT_PERIOD = timedelta(days=365)


@dataclass(frozen=True)
class Breach:
    """One episode that breaches an indicator, and why (the auditors' drill-down)."""

    episode_id: int
    clinic_id: int
    clinician_id: int | None
    """Who recorded the first visit (the clinician the episode counts for); None before it."""
    reason: str
    """A plain sentence: "MRI requested at the first visit without a red flag"."""


def adherence_indicators(ctx: Context, start: date | None, end: date | None,
                         clinic_id: int | None) -> IndicatorsPublic:
    """The indicators and digital engagement over episodes that started in [start, end]
    (whole days, UTC), of one clinic or of each; by default over the last 365 days."""
    start, end = _period(ctx, start, end)
    clinics = clinic_names(ctx, clinic_id)
    by_clinic = _judged_by_clinic(ctx, start, end, clinic_id)
    # The indicators' names give the active model's numbers; each episode is judged by its own.
    named = model_settings(ctx, models_registry.active_version_id(ctx.session))
    names = _clinician_names(ctx, [j.episode.first_visit_by for group in by_clinic.values()
                                   for j in group])
    return IndicatorsPublic(start=start, end=end, as_of=ctx.now, clinics=[
        _clinic_public(clinic, name, by_clinic.get(clinic, []), names, named)
        for clinic, name in clinics.items()])


def indicator_breaches(ctx: Context, indicator: int, start: date, end: date,
                       clinic_id: int | None) -> list[Breach]:
    """The episodes that started in [start, end] (of one clinic or of each) and breach
    `indicator` (1-12), each with the reason, by clinic then episode."""
    if indicator not in {i.id for i in adherence.INDICATORS}:
        raise InvalidRequestError(f"there is no indicator {indicator}",
                                  [{"field": "indicator", "message": "must be 1 to 12"}])
    start, end = _period(ctx, start, end)
    clinic_names(ctx, clinic_id)
    breaches = []
    for clinic, judged in sorted(_judged_by_clinic(ctx, start, end, clinic_id).items()):
        for one in judged:
            finding = one.finding(indicator)
            if finding.verdict is False:
                breaches.append(Breach(one.episode.episode_id or 0, clinic,
                                       one.episode.first_visit_by, finding.reason))
    return breaches


def _period(ctx: Context, start: date | None, end: date | None) -> tuple[date, date]:
    access.require_role(ctx.user, "auditor")
    end = end or ctx.now.date()
    # The earliest date there is when the default would go before it (a very early `end`).
    start = start or (end - DEFAULT_PERIOD if end - date.min > DEFAULT_PERIOD else date.min)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    return start, end


def _judged_by_clinic(ctx: Context, start: date, end: date, clinic_id: int | None
                      ) -> dict[int, list[adherence.Judged]]:
    """Each clinic's episodes that started in [start, end], judged once as of now."""
    first, last = datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
    in_period = [col(Episode.started_at) >= first, col(Episode.started_at) <= last]
    if clinic_id is not None:
        in_period.append(col(Episode.clinic_id) == clinic_id)
    return {clinic: [adherence.judge(episode, ctx.now) for episode in episodes]
            for clinic, episodes in _episodes_by_clinic(ctx, in_period).items()}


def _episodes_by_clinic(ctx: Context, in_period: list[Any]
                        ) -> dict[int, list[EpisodeRecord]]:
    """The episodes matching `in_period` with the events the indicators read, in log order,
    and their logged exercise sessions: three queries, however many episodes there are. Most
    of the time goes to Python per row, not to the database, so rows are read with Core (no
    ORM objects), only the events whose data is read bring it, and of a completed task only
    its role comes (extracted by the database)."""
    events: dict[int, list[EpisodeEvent]] = defaultdict(list)
    # Times and data come raw and are converted here: SQLAlchemy's per-value processors
    # (SQLite's datetime parsing, JSON) cost more than the rest of the read at 10,000 episodes.
    data = sa.case((col(Event.name).in_(sorted(EVENTS_WITH_DATA)),
                    sa.type_coerce(col(Event.data), sa.Text)), else_=sa.null())
    role = sa.case((col(Event.name) == "task_completed", col(Event.data)["role"].as_string()),
                   else_=sa.null())
    for episode_id, name, at, actor_id, values, task_role in ctx.session.connection().execute(
            sa.select(col(Event.episode_id), col(Event.name),
                      sa.type_coerce(col(Event.at), sa.Text), col(Event.actor_id), data, role)
            .join(Episode, col(Episode.id) == col(Event.episode_id))
            .where(*in_period, col(Event.name).in_(sorted(EVENTS_READ)))
            .order_by(col(Event.episode_id), col(Event.id))).all():
        events[episode_id].append(EpisodeEvent(
            name, raw_time(at),
            {"role": task_role} if task_role else raw_json(values) if values else _NO_DATA,
            actor_id))
    sessions: dict[int, list[datetime]] = defaultdict(list)
    for episode_id, logged_at in ctx.session.connection().execute(
            sa.select(col(ExerciseLog.episode_id), col(ExerciseLog.logged_at))
            .join(Episode, col(Episode.id) == col(ExerciseLog.episode_id))
            .where(*in_period).order_by(col(ExerciseLog.logged_at))).all():
        sessions[episode_id].append(logged_at)
    by_clinic: dict[int, list[EpisodeRecord]] = defaultdict(list)
    settings: dict[int, AdherenceSettings] = {}
    for episode_id, clinic_id, stratum, started_at, version_id in ctx.session.execute(
            sa.select(col(Episode.id), col(Episode.clinic_id), col(Episode.stratum),
                      col(Episode.started_at), col(Episode.model_version_id))
            .where(*in_period).order_by(col(Episode.id))).all():
        if version_id not in settings:
            settings[version_id] = model_settings(ctx, version_id)
        by_clinic[clinic_id].append(EpisodeRecord(
            started_at, stratum, events[episode_id], settings[version_id],
            sessions.get(episode_id, ()), episode_id))
    return by_clinic


_NO_DATA: dict[str, Any] = {}


def model_settings(ctx: Context, version_id: int) -> AdherenceSettings:
    """The indicators' numbers as a model version's pathway.toml sets them (its follow-up
    weeks, its windows, its number of psychologically informed sessions)."""
    engine = ctx.engines.engine_by_id(ctx.session, version_id)
    return AdherenceSettings.of_model(engine.model.settings)


def clinic_names(ctx: Context, clinic_id: int | None = None) -> dict[int, str]:
    """Clinic id -> name: the one asked for, or every clinic."""
    query = select(Clinic.id, Clinic.name).order_by(col(Clinic.id))
    if clinic_id is not None:
        query = query.where(Clinic.id == clinic_id)
    clinics = {id_: name for id_, name in ctx.session.exec(query).all() if id_ is not None}
    if clinic_id is not None and not clinics:
        raise InvalidRequestError(f"there is no clinic {clinic_id}",
                                  [{"field": "clinic_id", "message": "no such clinic"}])
    return clinics


def _clinician_names(ctx: Context, user_ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = ctx.session.exec(select(User.id, User.full_name, User.username)
                            .where(col(User.id).in_(wanted))).all()
    return {id_: full_name or username for id_, full_name, username in rows if id_ is not None}


def _clinic_public(clinic_id: int, name: str, judged: list[adherence.Judged],
                   names: dict[int, str], named: AdherenceSettings) -> ClinicIndicatorsPublic:
    by_clinician: dict[int, list[adherence.Judged]] = defaultdict(list)
    for one in judged:
        if one.episode.first_visit_by is not None:
            by_clinician[one.episode.first_visit_by].append(one)
    clinicians = [ClinicianIndicatorsPublic(
        user_id=user_id, name=names.get(user_id, f"user {user_id}"),
        episodes=len(theirs), indicators=_indicators(adherence.summarise(theirs, named)))
        for user_id, theirs in sorted(by_clinician.items())]
    report = adherence.summarise(judged, named)
    return ClinicIndicatorsPublic(clinic_id=clinic_id, name=name, episodes=len(judged),
                                  indicators=_indicators(report),
                                  engagement=_engagement(report.engagement),
                                  clinicians=clinicians)


def _indicators(report: adherence.Report) -> list[IndicatorPublic]:
    return [IndicatorPublic(
        id=result.indicator.id, name=result.name, numerator=result.tally.numerator,
        denominator=result.tally.denominator, rate=result.tally.rate,
        available=result.indicator.available, note=result.note,
        by_stratum=[_stratum_public(stratum, tally)
                    for stratum, tally in result.by_stratum.items()])
        for result in report.indicators]


def _engagement(engaged: adherence.EngagementResult) -> EngagementPublic:
    return EngagementPublic(
        episodes=engaged.episodes,
        measures=[EngagementMeasurePublic(
            id=m.id, name=m.name, numerator=m.tally.numerator, denominator=m.tally.denominator,
            rate=m.tally.rate) for m in engaged.measures],
        stopped=[StopReasonPublic(reason=reason, name=engaged.reasons[reason], episodes=count)
                 for reason, count in engaged.stopped.items()])


def _stratum_public(stratum: str, tally: adherence.Tally) -> StratumTallyPublic:
    return StratumTallyPublic(stratum=stratum, numerator=tally.numerator,
                              denominator=tally.denominator, rate=tally.rate)
