"""Episode service functions: referral, completing and claiming tasks, firing timers.

One call: load the instance -> the domain advances it -> save state, projection and events.
The caller's session dependency commits (or rolls everything back on an error)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from pathways.clock import Clock
from pathways.errors import TaskNotReadyError
from pathways.events import DomainEvent
from pathways.instance import PathwayInstance
from pathways.script_helpers import prom_scores

from . import access, repository
from .errors import ConflictError, NotFoundError
from .models_registry import EngineRegistry, active_version
from .tables import (
    Episode,
    Instance,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
    TaskDraft,
    TaskSubmission,
    User,
)

_STATUS_BY_EVENT = {"episode_discharged": "discharged", "episode_escalated": "escalated"}
_QUESTIONNAIRES = {"intake": "baseline", "follow_up": "follow_up"}


@dataclass
class Context:
    """What a service function needs: the transaction, the caller, time and engines."""

    session: Session
    clock: Clock
    engines: EngineRegistry
    user: User | None = None

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def actor_id(self) -> int | None:
        return self.user.id if self.user else None


@dataclass
class CompletionResult:
    episode_id: int
    events: list[DomainEvent]
    ready: list[ReadyTask]


def start_episode(ctx: Context, patient: Patient, source: str) -> Episode:
    """Create an episode on the active model; its first task is the red-flag screen."""
    version = active_version(ctx.session)
    engine = ctx.engines.engine_for(version)
    episode = Episode(patient_id=patient.id or 0, clinic_id=patient.clinic_id,
                      model_version_id=version.id or 0, referral_source=source,
                      started_at=ctx.now)
    ctx.session.add(episode)
    ctx.session.flush()
    instance = engine.start({"referral": {"source": source}, "episode_id": episode.id},
                            actor=str(ctx.actor_id) if ctx.actor_id else None)
    row = Instance(episode_id=episode.id or 0, state=instance.state_json(), version=1,
                   next_wake_at=instance.next_wake_at(),
                   status="completed" if instance.is_completed else "running")
    ctx.session.add(row)
    _record(ctx, episode, instance, instance.take_events())
    return episode


def complete_task(ctx: Context, task_id: str, answers: dict[str, Any]) -> CompletionResult:
    task = ctx.session.get(ReadyTask, task_id)
    if task is None:
        done = ctx.session.get(TaskSubmission, task_id)
        if done is not None:
            # Only someone who may see the episode learns that the task was done.
            access.require_episode(ctx.user, _episode(ctx, done.episode_id))
            raise TaskNotReadyError(task_id, "COMPLETED")
        raise NotFoundError(f"there is no open task {task_id}")
    episode = _episode(ctx, task.episode_id)
    access.require_task_work(ctx.user, task, episode)
    if task.claimed_by is not None and ctx.user is not None and task.claimed_by != ctx.user.id:
        raise ConflictError("another clinician has claimed this task; ask them or a clinic "
                            "lead to release it first")
    row, instance = _load(ctx, episode)
    # Someone may have completed it while we waited for the episode's lock.
    still_open = ctx.session.exec(select(ReadyTask.task_id).where(
        ReadyTask.task_id == task_id).execution_options(populate_existing=True)).first()
    if still_open is None or ctx.session.get(TaskSubmission, task_id) is not None:
        raise TaskNotReadyError(task_id, "COMPLETED")
    events = instance.complete_task(task_id, answers, actor=str(ctx.actor_id))
    ctx.session.exec(delete(TaskDraft).where(col(TaskDraft.task_id) == task_id))
    ctx.session.add(TaskSubmission(task_id=task_id, episode_id=episode.id or 0, name=task.name,
                                   form=task.form, data=answers, submitted_by=ctx.actor_id,
                                   submitted_at=ctx.now))
    kind = _QUESTIONNAIRES.get(task.form or "")
    if kind is not None:
        proms = answers.get("proms", {})
        ctx.session.add(QuestionnaireResponse(
            episode_id=episode.id or 0, task_id=task_id,
            kind="registry" if task.name.startswith("registry") else kind,
            answers=answers, scores=prom_scores(proms), submitted_at=ctx.now))
    _save(ctx, episode, row, instance, events)
    ready = [t for t in _ready_rows(ctx, episode)]
    return CompletionResult(episode.id or 0, events, ready)


def fire_due_timers(ctx: Context, row: Instance) -> list[DomainEvent]:
    """Advance one instance whose timers are due (the worker's unit of work)."""
    episode = _episode(ctx, row.episode_id)
    _, instance = _load(ctx, episode, row)
    events = instance.fire_due_timers()
    _save(ctx, episode, row, instance, events)
    return events


def claim_task(ctx: Context, task_id: str) -> ReadyTask:
    task = _open_task(ctx, task_id)
    if task.claimed_by is not None and task.claimed_by != (ctx.user.id if ctx.user else None):
        raise ConflictError("this task is already claimed by another clinician")
    task.claimed_by = ctx.actor_id
    ctx.session.add(task)
    return task


def release_task(ctx: Context, task_id: str) -> ReadyTask:
    task = _open_task(ctx, task_id)
    is_lead = ctx.user is not None and ctx.user.role == "clinic_lead"
    if task.claimed_by not in (None, ctx.actor_id) and not is_lead:
        raise ConflictError("only the clinician who claimed this task or a clinic lead can "
                            "release it")
    task.claimed_by = None
    ctx.session.add(task)
    return task


def _open_task(ctx: Context, task_id: str) -> ReadyTask:
    task = ctx.session.get(ReadyTask, task_id)
    if task is None:
        raise NotFoundError(f"there is no open task {task_id}")
    access.require_task_work(ctx.user, task, _episode(ctx, task.episode_id))
    return task


def _episode(ctx: Context, episode_id: int) -> Episode:
    episode = ctx.session.get(Episode, episode_id)
    if episode is None:
        raise NotFoundError(f"there is no episode {episode_id}")
    return episode


def _load(ctx: Context, episode: Episode,
          row: Instance | None = None) -> tuple[Instance, PathwayInstance]:
    row = row or repository.load_instance_for_update(ctx.session, episode.id or 0)
    if row is None:
        raise NotFoundError(f"episode {episode.id} has no pathway instance")
    engine = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
    return row, engine.restore(row.state)


def _save(ctx: Context, episode: Episode, row: Instance, instance: PathwayInstance,
          events: list[DomainEvent]) -> None:
    if not repository.save_instance(ctx.session, row, instance.state_json(),
                                    instance.next_wake_at(), instance.is_completed):
        raise ConflictError("someone else changed this episode at the same moment; reload "
                            "and try again")
    _record(ctx, episode, instance, events)


def _record(ctx: Context, episode: Episode, instance: PathwayInstance,
            events: list[DomainEvent]) -> None:
    for event in events:
        if event.name == "risk_stratified":
            episode.stratum = event.data.get("stratum")
        if event.name in _STATUS_BY_EVENT and episode.status == "active":
            episode.status = _STATUS_BY_EVENT[event.name]
        if event.name == "episode_completed":
            episode.ended_at = ctx.now
            if episode.status == "active":
                episode.status = "completed"
    ctx.session.add(episode)
    repository.replace_ready_tasks(ctx.session, episode, instance.ready_tasks())
    repository.append_events(ctx.session, episode, events, ctx.actor_id)


def _ready_rows(ctx: Context, episode: Episode) -> list[ReadyTask]:
    ctx.session.flush()
    return list(ctx.session.exec(select(ReadyTask).where(
        ReadyTask.episode_id == episode.id)).all())
