"""Guideline-adherence indicators for auditors: per clinic, and per clinician.

Reads the episodes that started in a period and their events (two queries, whatever the
number of episodes), and hands them to `pathways.adherence`, which does the counting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
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
    IndicatorPublic,
    IndicatorsPublic,
    StratumTallyPublic,
)
from service.core import access
from service.core.context import Context
from service.core.errors import InvalidRequestError
from service.core.tables import Clinic, Episode, Event, User
from service.models import registry as models_registry

DEFAULT_PERIOD = timedelta(days=365)


def adherence_indicators(ctx: Context, start: date | None, end: date | None,
                         clinic_id: int | None) -> IndicatorsPublic:
    """The indicators over episodes that started in [start, end] (whole days, UTC), of one
    clinic or of each; by default over the last 365 days."""
    access.require_role(ctx.user, "auditor")
    end = end or ctx.now.date()
    # The earliest date there is when the default would go before it (a very early `end`).
    start = start or (end - DEFAULT_PERIOD if end - date.min > DEFAULT_PERIOD else date.min)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    clinics = _clinics(ctx, clinic_id)
    first, last = datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
    in_period = [col(Episode.started_at) >= first, col(Episode.started_at) <= last]
    if clinic_id is not None:
        in_period.append(col(Episode.clinic_id) == clinic_id)
    by_clinic = _episodes_by_clinic(ctx, in_period)
    # The indicators' names give the active model's numbers; each episode is judged by its own.
    named = model_settings(ctx, models_registry.active_version_id(ctx.session))
    names = _clinician_names(ctx, [e.first_visit_by for group in by_clinic.values()
                                   for e in group])
    return IndicatorsPublic(start=start, end=end, as_of=ctx.now, clinics=[
        _clinic_public(ctx.now, clinic, name, by_clinic[clinic], names, named)
        for clinic, name in clinics.items()])


def _episodes_by_clinic(ctx: Context, in_period: list[Any]
                        ) -> dict[int, list[EpisodeRecord]]:
    """The episodes matching `in_period` with the events the indicators read, in log order:
    two queries, however many episodes there are. Most of the time goes to Python per row,
    not to the database, so rows are read with Core (no ORM objects), and only the events
    whose data is read bring it."""
    events: dict[int, list[EpisodeEvent]] = defaultdict(list)
    data = sa.case((col(Event.name).in_(sorted(EVENTS_WITH_DATA)), col(Event.data)),
                   else_=sa.null())
    for episode_id, name, at, actor_id, values in ctx.session.connection().execute(
            sa.select(col(Event.episode_id), col(Event.name), col(Event.at),
                      col(Event.actor_id), data)
            .join(Episode, col(Episode.id) == col(Event.episode_id))
            .where(*in_period, col(Event.name).in_(sorted(EVENTS_READ)))
            .order_by(col(Event.episode_id), col(Event.id))).all():
        events[episode_id].append(EpisodeEvent(name, at, values or {}, actor_id))
    by_clinic: dict[int, list[EpisodeRecord]] = defaultdict(list)
    settings: dict[int, AdherenceSettings] = {}
    for episode_id, clinic_id, stratum, started_at, version_id in ctx.session.execute(
            sa.select(col(Episode.id), col(Episode.clinic_id), col(Episode.stratum),
                      col(Episode.started_at), col(Episode.model_version_id))
            .where(*in_period).order_by(col(Episode.id))).all():
        if version_id not in settings:
            settings[version_id] = model_settings(ctx, version_id)
        by_clinic[clinic_id].append(
            EpisodeRecord(started_at, stratum, events[episode_id], settings[version_id]))
    return by_clinic


def model_settings(ctx: Context, version_id: int) -> AdherenceSettings:
    """The indicators' numbers as a model version's pathway.toml sets them (its follow-up
    weeks, its windows, its number of psychologically informed sessions)."""
    engine = ctx.engines.engine_by_id(ctx.session, version_id)
    return AdherenceSettings.of_model(engine.model.settings)


def _clinics(ctx: Context, clinic_id: int | None) -> dict[int, str]:
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


def _clinic_public(now: datetime, clinic_id: int, name: str, episodes: list[EpisodeRecord],
                   names: dict[int, str], named: AdherenceSettings) -> ClinicIndicatorsPublic:
    by_clinician: dict[int, list[EpisodeRecord]] = defaultdict(list)
    for episode in episodes:
        if episode.first_visit_by is not None:
            by_clinician[episode.first_visit_by].append(episode)
    clinicians = [ClinicianIndicatorsPublic(
        user_id=user_id, name=names.get(user_id, f"user {user_id}"),
        episodes=len(theirs), indicators=_indicators(theirs, now, named))
        for user_id, theirs in sorted(by_clinician.items())]
    return ClinicIndicatorsPublic(clinic_id=clinic_id, name=name, episodes=len(episodes),
                                  indicators=_indicators(episodes, now, named),
                                  clinicians=clinicians)


def _indicators(episodes: list[EpisodeRecord], now: datetime,
                named: AdherenceSettings) -> list[IndicatorPublic]:
    return [IndicatorPublic(
        id=result.indicator.id, name=result.name, numerator=result.tally.numerator,
        denominator=result.tally.denominator, rate=result.tally.rate,
        available=result.indicator.available, note=result.note,
        by_stratum=[_stratum_public(stratum, tally)
                    for stratum, tally in result.by_stratum.items()])
        for result in adherence.compute(episodes, now, named)]


def _stratum_public(stratum: str, tally: adherence.Tally) -> StratumTallyPublic:
    return StratumTallyPublic(stratum=stratum, numerator=tally.numerator,
                              denominator=tally.denominator, rate=tally.rate)

