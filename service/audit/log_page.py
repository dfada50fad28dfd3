"""The auditors' log page (`/audit/log`): whether the event log's chain holds, the event log
and the access log a page at a time (filtered by episode, patient or user), and the exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from pathways.vocabulary import plain
from service.audit import views
from service.audit.schemas import AccessRecordPublic, VerifyPublic
from service.care.schemas import EventPublic
from service.core import access
from service.core.context import Context
from service.core.tables import Episode

PAGE = 50


@dataclass(frozen=True)
class LogEvent:
    """One event as the page shows it: names in words, from the episode's own model."""
    id: int
    at: datetime
    episode_id: int | None
    event: str
    step: str
    actor_id: int | None
    carries: str
    """The titles of what the event's data holds (its values are in the exports)."""


@dataclass(frozen=True)
class LogPage:
    verify: VerifyPublic
    events: tuple[LogEvent, ...]
    next_after_id: int | None
    """The `after_id` of the next page of events (None on the last page)."""
    access: tuple[AccessRecordPublic, ...]
    next_access_after_id: int | None
    episode_id: int | None
    patient_id: int | None
    user_id: int | None


def log_page(ctx: Context, episode_id: int | None, patient_id: int | None,
             user_id: int | None, after_id: int, access_after_id: int) -> LogPage:
    access.require_role(ctx.user, "auditor")
    events = views.audit_events(ctx, episode_id, after_id, PAGE + 1)
    records = views.access_log(ctx, patient_id, user_id, access_after_id, PAGE + 1)
    return LogPage(
        verify=views.verify_log(ctx), events=_in_words(ctx, events[:PAGE]),
        next_after_id=events[PAGE - 1].id if len(events) > PAGE else None,
        access=tuple(records[:PAGE]),
        next_access_after_id=records[PAGE - 1].id if len(records) > PAGE else None,
        episode_id=episode_id, patient_id=patient_id, user_id=user_id)


def _in_words(ctx: Context, events: list[EventPublic]) -> tuple[LogEvent, ...]:
    """Step names and data titles from the model version each event's episode runs on."""
    episodes = {e.episode_id for e in events if e.episode_id is not None}
    versions = dict(ctx.session.exec(select(Episode.id, Episode.model_version_id)
                                     .where(col(Episode.id).in_(episodes))).all()) \
        if episodes else {}
    rows = []
    for event in events:
        version = versions.get(event.episode_id) if event.episode_id is not None else None
        model = ctx.engines.engine_by_id(ctx.session, version).model if version else None
        step = (model.step_names().get(event.element) if model and event.element else None) \
            or plain(event.element or "-")
        title = model.vocabulary.title if model else (lambda key: plain(key).capitalize())
        rows.append(LogEvent(
            id=event.id, at=event.at, episode_id=event.episode_id,
            event=plain(event.name).capitalize(), step=step, actor_id=event.actor_id,
            carries="; ".join(title(key) for key in event.data) or "-"))
    return tuple(rows)
