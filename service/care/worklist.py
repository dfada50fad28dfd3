"""Read side of the clinician worklist: sections, rows, filters and alert badges.

Each returns a small frozen dataclass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

from sqlmodel import col, func, select

from pathways.instruments import (
    PAIN_MCID_POINTS,
)
from pathways.instruments.scoring import Stratum
from pathways.models import PathwayModel
from pathways.properties import TaskProperties
from service.care import views
from service.care.schemas import TaskPublic
from service.core import access, clinic_time
from service.core.context import Context
from service.core.errors import NotFoundError
from service.core.tables import Episode, Event, ExerciseLog, Patient, ReadyTask, User
from service.messages import views as messages

NO_EXERCISE_ALERT_DAYS = 7
"""Default for the clinic setting `no_exercise_alert_days` (pathway.toml [settings])."""
STRATA: tuple[str, ...] = get_args(Stratum)
ROLE_LABELS = {"physiotherapist": "Physiotherapist", "clinic_lead": "Clinic lead",
               "patient": "Patient"}
WORKLIST_LIMIT = 500
TASK_ALERTS = {"emergency": ("Emergency", "red-flag"), "red_flag": ("Red flag", "red-flag"),
               "exercise": ("Exercise alert", "warn"), "not_improving": ("Not improving", "warn"),
               "education": ("Education check not passed", "warn")}
"""A task's own `alert` property (pathways.properties.ALERTS) -> badge words and style."""


@dataclass(frozen=True)
class Badge:
    text: str
    kind: str
    """CSS class: red-flag, warn, overdue, ok. The text always carries the meaning."""


def when(moment: datetime | None) -> str:
    """A time as people read it, in the clinic's zone, e.g. 'Mon 5 Jan 2026, 10:00 CET'."""
    return clinic_time.local(moment).strftime("%a %-d %b %Y, %H:%M %Z") if moment \
        else "no due time"


# -- worklist

@dataclass(frozen=True)
class WorklistRow:
    task_id: str
    episode_id: int
    patient_name: str
    title: str
    due_at: datetime | None
    due_text: str
    overdue: bool
    stratum: str | None
    claimed_by: str | None
    """Name of whoever claimed the task."""
    can_claim: bool
    can_release: bool
    alerts: tuple[Badge, ...]
    urgent: bool = False
    """An emergency or a red-flag review (views.URGENT_ALERTS): listed first."""
    unread_messages: int = 0
    """The patient's messages nobody of the clinic has read yet."""


@dataclass(frozen=True)
class WorklistSection:
    key: str
    title: str
    rows: tuple[WorklistRow, ...]


@dataclass(frozen=True)
class WorklistFilters:
    overdue: bool = False
    name: str = ""
    stratum: str = ""
    mine: bool = False
    role: str = ""
    """One of the task roles the caller works ("": all of them)."""


@dataclass(frozen=True)
class WorklistPage:
    filters: WorklistFilters
    sections: tuple[WorklistSection, ...]
    count: int
    """Open tasks that match the filters, counted up to views.COUNT_LIMIT..."""
    count_capped: bool
    shown: int
    """...whether more match than `count`, and how many of them are listed (the most urgent
    first)."""
    task_types: tuple[tuple[str, str], ...]
    """(task name, title) of every task the caller's role works in the active model."""
    roles: tuple[tuple[str, str], ...] = ()
    """(task role, label) of the roles the caller works, when there is more than one."""
    strata: tuple[str, ...] = STRATA
    unread_messages: messages.ClinicUnread = messages.ClinicUnread()
    """Patients' messages nobody of the caller's clinic has read yet, and whose."""


def worklist_page(ctx: Context, filters: WorklistFilters) -> WorklistPage:
    """The caller's tasks in four sections: urgent (emergencies and red-flag reviews, whatever
    their due time), overdue, due today, upcoming."""
    user = access.require_role(ctx.user, *access.CLINICIANS)
    tasks, count, capped = views.worklist(ctx, due="overdue" if filters.overdue else None,
                                  stratum=filters.stratum or None,
                                  claimed="mine" if filters.mine else None,
                                  name=filters.name or None, limit=WORKLIST_LIMIT,
                                  role=filters.role or None)
    end_of_day = clinic_time.end_of_day(ctx.now)  # as views.worklist's "today"
    sections: dict[str, list[WorklistRow]] = {"urgent": [], "overdue": [], "today": [],
                                              "upcoming": []}
    for row in _rows(ctx, user, tasks):
        key = ("urgent" if row.urgent else "overdue" if row.overdue else "today"
               if row.due_at is not None and row.due_at <= end_of_day else "upcoming")
        sections[key].append(row)
    titles = {"urgent": "Urgent: red flags", "overdue": "Overdue", "today": "Due today",
              "upcoming": "Upcoming"}
    roles = sorted(access.TASK_ROLES_BY_USER_ROLE[user.role])
    return WorklistPage(filters, tuple(WorklistSection(k, titles[k], tuple(v))
                                       for k, v in sections.items()), count, capped, len(tasks),
                        _task_types(ctx, set(roles)),
                        tuple((r, ROLE_LABELS[r]) for r in roles) if len(roles) > 1 else (),
                        unread_messages=messages.clinic_unread(ctx))


def worklist_row(ctx: Context, task_id: str) -> WorklistRow:
    """One row, after a claim or release (the caller may work the task: checked there)."""
    user = access.require_role(ctx.user, *access.CLINICIANS)
    task = ctx.session.get(ReadyTask, task_id)
    if task is None:
        raise NotFoundError(f"there is no open task {task_id}")
    name = patient_names(ctx, {task.episode_id}).get(task.episode_id, "")
    return _rows(ctx, user, [views.task_public(task, name, ctx.now)])[0]


def _rows(ctx: Context, user: User, tasks: list[TaskPublic]) -> list[WorklistRow]:
    names = user_names(ctx, {t.claimed_by for t in tasks if t.claimed_by})
    alerts = episode_alerts(ctx, {t.episode_id for t in tasks})
    unread = messages.staff_unread_by_episode(ctx, {t.episode_id for t in tasks})
    rows = []
    for task in tasks:
        badges = list(alerts.get(task.episode_id, ()))
        own = TASK_ALERTS.get(task.alert or "")
        if own and own[0] not in [b.text for b in badges]:
            badges.append(Badge(*own))
        rows.append(WorklistRow(
            task_id=task.task_id, episode_id=task.episode_id, patient_name=task.patient_name,
            title=task.title, due_at=task.due_at, due_text=when(task.due_at),
            overdue=task.overdue, stratum=task.stratum,
            claimed_by=names.get(task.claimed_by) if task.claimed_by else None,
            can_claim=task.claimed_by is None,
            can_release=task.claimed_by is not None and (
                task.claimed_by == user.id or user.role == "clinic_lead"),
            alerts=tuple(badges), urgent=task.alert in views.URGENT_ALERTS,
            unread_messages=unread.get(task.episode_id, 0)))
    return rows


def _task_types(ctx: Context, roles: Iterable[str]) -> tuple[tuple[str, str], ...]:
    try:
        model = ctx.engines.active(ctx.session).model
    except NotFoundError:
        return ()
    wanted = set(roles)
    return tuple(sorted(((bpmn_id, title) for bpmn_id, (title, role)
                         in people_tasks(model).items() if role in wanted),
                        key=lambda item: item[1]))


def people_tasks(model: PathwayModel) -> dict[str, tuple[str, str | None]]:
    """BPMN id -> (title, role) of every task a person does, in every process."""
    return {t.bpmn_id: (t.bpmn_name or t.bpmn_id, TaskProperties.of(t).role(t))
            for spec in model.all_specs() for t in spec.task_specs.values()
            if getattr(t, "manual", False) and t.bpmn_id}


def user_names(ctx: Context, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = ctx.session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id or 0: u.full_name or u.username for u in users}


def patient_names(ctx: Context, episode_ids: set[int]) -> dict[int, str]:
    if not episode_ids:
        return {}
    rows = ctx.session.exec(select(Episode.id, Patient.display_name).join(
        Patient, col(Patient.id) == col(Episode.patient_id)).where(
        col(Episode.id).in_(episode_ids))).all()
    return {episode_id or 0: name for episode_id, name in rows}


# -- alerts

PAIN_EVENTS = ("baseline_recorded", "exercise_week_completed", "follow_up_completed")
EXERCISE_EVENTS = ("exercise_started", "exercise_completed")


def episode_alerts(ctx: Context, episode_ids: set[int]) -> dict[int, tuple[Badge, ...]]:
    """Badges per episode: an open red-flag task, pain worse by the alert rise (from
    baseline or the report before), no exercise logged for the clinic's number of days."""
    if not episode_ids:
        return {}
    settings = _active_settings(ctx)
    rise = settings.get("pain_alert_increase", PAIN_MCID_POINTS)
    quiet_days = int(settings.get("no_exercise_alert_days", NO_EXERCISE_ALERT_DAYS))
    events: dict[int, list[Event]] = {e: [] for e in episode_ids}
    for event in ctx.session.exec(select(Event).where(
            col(Event.episode_id).in_(episode_ids),
            col(Event.name).in_(PAIN_EVENTS + EXERCISE_EVENTS)).order_by(col(Event.id))):
        events[event.episode_id or 0].append(event)
    red_flags = set(ctx.session.exec(select(ReadyTask.episode_id).where(
        col(ReadyTask.episode_id).in_(episode_ids),
        col(ReadyTask.alert).in_(("red_flag", "emergency")))).all())
    last_logged = dict(ctx.session.exec(
        select(ExerciseLog.episode_id, func.max(ExerciseLog.logged_at))
        .where(col(ExerciseLog.episode_id).in_(episode_ids))
        .group_by(col(ExerciseLog.episode_id))).all())
    active = set(ctx.session.exec(select(Episode.id).where(
        col(Episode.id).in_(episode_ids), Episode.status == "active")).all())
    found: dict[int, tuple[Badge, ...]] = {}
    for episode_id in episode_ids:
        badges = []
        if episode_id in red_flags:
            badges.append(Badge(*TASK_ALERTS["red_flag"]))
        if _pain_worsening(events[episode_id], rise):
            badges.append(Badge("Worsening pain", "warn"))
        if episode_id in active and _no_exercise(events[episode_id],
                                                 last_logged.get(episode_id), ctx.now,
                                                 quiet_days):
            badges.append(Badge(f"No exercise logged for {quiet_days} days", "warn"))
        found[episode_id] = tuple(badges)
    return found


def _active_settings(ctx: Context) -> Mapping[str, Any]:
    try:
        return ctx.engines.active(ctx.session).model.settings
    except NotFoundError:
        return {}


def _pain_reports(events: Iterable[Event]) -> list[tuple[datetime, float]]:
    """Pain NRS in the order reported: baseline, weekly check-ins, follow-ups."""
    reports = []
    for event in events:
        data = event.data or {}
        value = {"baseline_recorded": (data.get("baseline") or {}).get("pain"),
                 "exercise_week_completed": data.get("week_pain_nrs"),
                 "follow_up_completed": (data.get("follow_up_scores") or {}).get("pain"),
                 }.get(event.name)
        if isinstance(value, int | float):
            reports.append((event.at, float(value)))
    return reports


def _pain_worsening(events: list[Event], rise: float) -> bool:
    reports = [value for _, value in _pain_reports(events)]
    if len(reports) < 2:
        return False
    latest = reports[-1]
    return latest - reports[0] >= rise or latest - reports[-2] >= rise


def _no_exercise(events: list[Event], last_logged: datetime | None, now: datetime,
                 days: int) -> bool:
    """In the exercise phase for at least `days`, with nothing logged in the last `days`."""
    started = [e.at for e in events if e.name == "exercise_started"]
    if not started or any(e.name == "exercise_completed" for e in events):
        return False
    quiet_since = now - timedelta(days=days)
    return started[-1] <= quiet_since and (last_logged is None or last_logged < quiet_since)


