"""Queries and writes of the service's tables. Only the session dependency commits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pathways.events import DomainEvent
from pathways.instance import ReadyTask as EngineTask

from .db import is_postgres
from .tables import Episode, Event, Instance, ReadyTask

GENESIS = "0" * 64
_EVENT_LOCK = 7_311_001
"""PostgreSQL advisory lock id that serialises appends to the hash chain."""


def event_hash(prev_hash: str, episode_id: int | None, name: str, at: datetime,
               element: str | None, actor_id: int | None, data: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, episode_id, name, at.isoformat(), element, actor_id, data],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def append_events(session: Session, episode: Episode, events: Sequence[DomainEvent],
                  actor_id: int | None) -> None:
    if not events:
        return
    if is_postgres(session):
        session.exec(sa.text("SELECT pg_advisory_xact_lock(:id)").bindparams(id=_EVENT_LOCK))
    last = session.exec(select(Event.hash).order_by(col(Event.id).desc()).limit(1)).first()
    prev = last or GENESIS
    for event in events:
        at = datetime.fromisoformat(event.at)
        data = json.loads(json.dumps(event.data, default=str))
        digest = event_hash(prev, episode.id, event.name, at, event.element, actor_id, data)
        session.add(Event(episode_id=episode.id, clinic_id=episode.clinic_id, name=event.name,
                          at=at, element=event.element, actor_id=actor_id, data=data,
                          prev_hash=prev, hash=digest))
        prev = digest


def load_instance_for_update(session: Session, episode_id: int) -> Instance | None:
    """The instance row, locked for this transaction on PostgreSQL (SQLite locks the whole
    database for writing transactions already)."""
    query = select(Instance).where(Instance.episode_id == episode_id).with_for_update()
    return session.exec(query).first()


def save_instance(session: Session, instance: Instance, state: str,
                  next_wake_at: datetime | None, completed: bool) -> bool:
    """Write the new state if nobody else did since we read it (optimistic lock)."""
    result = session.exec(
        sa.update(Instance)
        .where(col(Instance.id) == instance.id, col(Instance.version) == instance.version)
        .values(state=state, version=instance.version + 1, next_wake_at=next_wake_at,
                status="completed" if completed else "running")
        .execution_options(synchronize_session="fetch")  # the loaded row sees the new values
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def replace_ready_tasks(session: Session, episode: Episode, tasks: Sequence[EngineTask]) -> None:
    """Bring the episode's rows of the projection in line with the engine's ready tasks: rows
    of finished tasks go, new tasks come, rows of tasks still ready (and their claims) stay."""
    existing = {row.task_id: row for row in session.exec(
        select(ReadyTask).where(ReadyTask.episode_id == episode.id)).all()}
    current = {task.id for task in tasks}
    for task_id, row in existing.items():
        if task_id not in current:
            session.delete(row)
        elif row.stratum != episode.stratum:
            row.stratum = episode.stratum
            session.add(row)
    for task in tasks:
        if task.id in existing:
            continue
        session.add(ReadyTask(
            task_id=task.id, episode_id=episode.id or 0, patient_id=episode.patient_id,
            clinic_id=episode.clinic_id, role=task.role or "", name=task.name, title=task.title,
            form=task.form, education_module=task.education_module, alert=task.alert,
            stratum=episode.stratum, ready_at=task.ready_at, due_at=task.due_at,
        ))


def due_instances(session: Session, now: datetime, limit: int) -> list[Instance]:
    """Instances with a timer due; on PostgreSQL rows another worker holds are skipped."""
    query = (select(Instance).where(Instance.status == "running",
                                    col(Instance.next_wake_at) <= now)
             .order_by(col(Instance.next_wake_at)).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())
