"""The auditors' log page (`/audit/log`): whether the event log's chain holds, the event log
and the access log a page at a time (filtered by episode, patient or user), and the exports."""

from __future__ import annotations

from dataclasses import dataclass

from service.audit import views
from service.audit.schemas import AccessRecordPublic, VerifyPublic
from service.care.schemas import EventPublic
from service.core import access
from service.core.context import Context

PAGE = 50


@dataclass(frozen=True)
class LogPage:
    verify: VerifyPublic
    events: tuple[EventPublic, ...]
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
        verify=views.verify_log(ctx), events=tuple(events[:PAGE]),
        next_after_id=events[PAGE - 1].id if len(events) > PAGE else None,
        access=tuple(records[:PAGE]),
        next_access_after_id=records[PAGE - 1].id if len(records) > PAGE else None,
        episode_id=episode_id, patient_id=patient_id, user_id=user_id)
