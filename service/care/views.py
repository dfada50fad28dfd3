"""Read-side service functions: worklists, episodes, timelines, scores, audit checks.

They check access and return response schemas (small typed values, never ORM objects)."""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import literal_column
from sqlalchemy.orm import aliased
from sqlmodel import col, func, or_, select

from pathways.education import default_catalogue
from pathways.instruments.scoring import Stratum
from service.care import forms as episode_forms
from service.care.schemas import EpisodePublic, EventPublic, QuestionnairePublic, TaskPublic
from service.core import access, clinic_time
from service.core.context import Context
from service.core.errors import InvalidRequestError, NotFoundError
from service.core.tables import (
    Episode,
    Event,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
)

DueFilter = Literal["overdue", "today", "upcoming"]
ClaimFilter = Literal["mine", "unclaimed", "others"]
StratumFilter = Stratum
"""The risk strata (STarT Back)."""


def task_public(task: ReadyTask, patient_name: str, now: datetime) -> TaskPublic:
    return TaskPublic(
        task_id=task.task_id, episode_id=task.episode_id, patient_id=task.patient_id,
        patient_name=patient_name, role=task.role, name=task.name,
        title=task_title(task.title, task.education_module),
        form=task.form, education_module=task.education_module, alert=task.alert,
        stratum=task.stratum, ready_at=task.ready_at, due_at=task.due_at,
        overdue=task.due_at is not None and task.due_at < now, claimed_by=task.claimed_by)


def task_title(title: str, module: str | None) -> str:
    """A task's title for people: one about an education module names the module (the
    model's task name cannot: one task reads, or talks through, each module in turn)."""
    catalogue = default_catalogue()
    if not module or module not in catalogue:
        return title
    return f"{title}: {catalogue.get(module).title}"


def worklist(ctx: Context, due: DueFilter | None = None, stratum: str | None = None,
             claimed: ClaimFilter | None = None, name: str | None = None,
             episode_id: int | None = None, limit: int = 100,
             offset: int = 0, role: str | None = None) -> tuple[list[TaskPublic], int, bool]:
    """The caller's open tasks, most urgent first: emergencies and red-flag reviews, then the
    rest by due time (overdue first); how many match, counted up to COUNT_LIMIT; and whether
    more than that match. `role`: only the tasks of that role, one of those the caller works
    (a clinic lead works two)."""
    user = access.require_role(ctx.user, "patient", "physiotherapist", "clinic_lead")
    roles = sorted(access.TASK_ROLES_BY_USER_ROLE[user.role])
    if role is not None:
        if role not in roles:
            raise InvalidRequestError(
                f"there are no {role} tasks in your list: a {user.role} works "
                f"{' and '.join(roles)} tasks",
                [{"field": "role", "message": f"must be one of: {', '.join(roles)}"}])
        roles = [role]
    now = ctx.now
    end_of_day = clinic_time.end_of_day(now)

    def matching(task: Any) -> list[Any]:
        """The caller's tasks that pass the filters, as conditions on `task` (the table, or
        the urgent tasks below)."""
        conditions: list[Any] = [task.patient_id == user.patient_id if user.role == "patient"
                                 else task.clinic_id == user.clinic_id]
        if due == "overdue":
            conditions.append(task.due_at < now)
        elif due == "today":
            conditions.append(task.due_at <= end_of_day)
        elif due == "upcoming":
            conditions.append(task.due_at > end_of_day)
        if stratum:
            conditions.append(task.stratum == stratum)
        if claimed == "mine":
            conditions.append(task.claimed_by == user.id)
        elif claimed == "unclaimed":
            conditions.append(task.claimed_by.is_(None))
        elif claimed == "others":
            conditions += [task.claimed_by.is_not(None), task.claimed_by != user.id]
        if name:
            conditions.append(task.name == name)
        if episode_id is not None:
            conditions.append(task.episode_id == episode_id)
        return conditions

    conditions = matching(ReadyTask)
    # Counted on the projection alone, and only as far as COUNT_LIMIT: a count walks every
    # matching index entry, which at tens of thousands of tasks costs more than the page.
    counted = ctx.session.exec(select(func.count()).select_from(
        select(ReadyTask.task_id).where(*conditions, col(ReadyTask.role).in_(roles))
        .limit(COUNT_LIMIT + 1).subquery())).one()
    # Emergencies and red-flag reviews come first whatever their due time. They are few: they
    # are taken first on their own partial index (migration 0012), then filtered. Given the
    # filters at once, a planner would walk a filter's index and read every row for its alert.
    urgent = col(ReadyTask.alert).in_([literal_column(f"'{a}'") for a in URGENT_ALERTS])
    urgent_tasks: Any = aliased(ReadyTask, select(ReadyTask).where(
        conditions[0], col(ReadyTask.role).in_(roles), urgent)
        .cte("urgent_tasks").prefix_with("MATERIALIZED"))
    first = list(ctx.session.exec(
        select(urgent_tasks, Patient.display_name)
        .join(Patient, col(Patient.id) == urgent_tasks.patient_id)
        .where(*matching(urgent_tasks))
        .order_by(urgent_tasks.due_at.is_(None), urgent_tasks.due_at, urgent_tasks.task_id)
        .limit(offset + limit)).all())
    rest = _task_rows(ctx, [*conditions, or_(col(ReadyTask.alert).is_(None), ~urgent)], roles,
                      max(0, offset - len(first)), limit - len(first[offset:]))
    rows = [*first[offset:], *rest]
    return ([task_public(task, patient_name, now) for task, patient_name in rows],
            min(counted, COUNT_LIMIT), counted > COUNT_LIMIT)


URGENT_ALERTS = ("emergency", "red_flag")
"""Task alerts (pathways.properties.ALERTS) that put a task at the top of every worklist.
Migration 0012's partial index names them too: change both together."""
COUNT_LIMIT = 1000
"""A worklist counts its matching tasks up to this many; past it, it says "more than"."""


def _task_rows(ctx: Context, conditions: list[Any], roles: list[str], offset: int,
               limit: int) -> list[tuple[ReadyTask, str]]:
    """The page in worklist order. A role at a time, each following an index in order, then
    merged: for two roles at once the database would sort every matching task."""
    if limit <= 0:
        return []
    per_role = [list(ctx.session.exec(
        select(ReadyTask, Patient.display_name)
        .join(Patient, col(Patient.id) == col(ReadyTask.patient_id))
        .where(*conditions, ReadyTask.role == role)
        .order_by(col(ReadyTask.due_at).is_(None), col(ReadyTask.due_at),
                  col(ReadyTask.task_id))
        .offset(offset if len(roles) == 1 else 0)
        .limit(limit if len(roles) == 1 else offset + limit)).all()) for role in roles]
    if len(per_role) == 1:
        return per_role[0]
    merged = heapq.merge(*per_role, key=lambda row: _worklist_order(row[0]))
    return list(itertools.islice(merged, offset, offset + limit))


def _worklist_order(task: ReadyTask) -> tuple[bool, datetime, str]:
    """The worklist's ORDER BY in Python: a due time first, earliest first, then task id."""
    return (task.due_at is None, task.due_at or datetime.min.replace(tzinfo=UTC), task.task_id)


def task_detail(ctx: Context, task_id: str) -> tuple[TaskPublic, dict[str, Any] | None]:
    """An open task the caller works, and its form as this patient is given it
    (service/care/forms.py)."""
    task = ctx.session.get(ReadyTask, task_id)
    if task is None:
        raise NotFoundError(f"there is no open task {task_id}")
    episode = episode_row(ctx, task.episode_id)
    access.require_task_work(ctx.user, task, episode)
    patient = ctx.session.get(Patient, task.patient_id)
    schema = None
    if task.form:
        engine = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
        schema = episode_forms.form_for_episode(ctx.session, task.episode_id,
                                                  engine.model.forms.get(task.form))
    return task_public(task, patient.display_name if patient else "", ctx.now), schema


def episode_row(ctx: Context, episode_id: int) -> Episode:
    """The episode, for someone who may see it: the one gate to a patient's record. A
    clinician's opening of it is noted for the access log (see Context.opened)."""
    user = access.require_role(ctx.user, "patient", "physiotherapist", "clinic_lead")
    episode = ctx.session.get(Episode, episode_id)
    if episode is None:
        # Unknown and forbidden look the same to a caller who may not see it.
        raise NotFoundError("there is no such record you can see")
    access.require_episode(user, episode)
    if user.role in access.CLINICIANS:
        ctx.opened[episode_id] = episode.patient_id
    return episode


def episode_public(ctx: Context, episode: Episode) -> EpisodePublic:
    patient = ctx.session.get(Patient, episode.patient_id)
    return EpisodePublic(
        id=episode.id or 0, patient_id=episode.patient_id,
        patient_name=patient.display_name if patient else "", clinic_id=episode.clinic_id,
        status=episode.status, stratum=episode.stratum, referral_source=episode.referral_source,
        started_at=episode.started_at, ended_at=episode.ended_at,
        model_version_id=episode.model_version_id)


def episodes(ctx: Context, status: str | None = None, limit: int = 100,
             offset: int = 0) -> tuple[list[EpisodePublic], int]:
    user = access.require_role(ctx.user, "patient", "physiotherapist", "clinic_lead")
    query = select(Episode)
    if user.role == "patient":
        query = query.where(Episode.patient_id == user.patient_id)
    else:
        query = query.where(Episode.clinic_id == user.clinic_id)
    if status:
        query = query.where(Episode.status == status)
    count = ctx.session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = ctx.session.exec(query.order_by(col(Episode.id).desc())
                            .offset(offset).limit(limit)).all()
    return [episode_public(ctx, e) for e in rows], count


def timeline(ctx: Context, episode_id: int) -> list[EventPublic]:
    episode_row(ctx, episode_id)
    rows = ctx.session.exec(select(Event).where(Event.episode_id == episode_id)
                            .order_by(col(Event.id))).all()
    return [event_public(e) for e in rows]


def questionnaires(ctx: Context, episode_id: int) -> list[QuestionnairePublic]:
    episode_row(ctx, episode_id)
    rows = ctx.session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.episode_id == episode_id).order_by(
        col(QuestionnaireResponse.id))).all()
    return [QuestionnairePublic(id=r.id or 0, task_id=r.task_id, kind=r.kind,
                                scores=r.scores, submitted_at=r.submitted_at) for r in rows]


def event_public(event: Event) -> EventPublic:
    return EventPublic(id=event.id or 0, episode_id=event.episode_id, name=event.name,
                       at=event.at, element=event.element, actor_id=event.actor_id,
                       data=event.data or {})

