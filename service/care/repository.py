"""Queries and writes of the service's tables. Only the request's unit of work commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from pathways.events import DomainEvent
from pathways.task_views import ReadyTask as EngineTask
from service.core.db import is_postgres
from service.core.errors import NotFoundError
from service.core.event_chain import GENESIS, event_hash, seal_of
from service.core.statements import Prepared
from service.core.tables import (
    Episode,
    Event,
    Instance,
    Patient,
    ReadyTask,
    TaskDraft,
    TaskSubmission,
    from_row,
)

CLINICIAN_TASK_PREFIX = "adhoc-"
"""Task ids of clinician tasks that live outside the pathway (service.add_clinician_task);
the engine's own task ids are UUIDs, so the two never meet."""
_EVENT_LOCK = 7_311_001
"""PostgreSQL advisory lock id that serialises appends to the hash chain."""


def event_rows(episode: Episode, events: Sequence[DomainEvent],
               actor_id: int | None) -> list[dict[str, Any]]:
    """Rows for the event log, all but their place in the hash chain (see append_events):
    made before a transaction writes, so the write lock is held for less."""
    rows = []
    for event in events:
        data = json.loads(json.dumps(event.data, default=str))  # as it will read back
        rows.append({"episode_id": episode.id, "clinic_id": episode.clinic_id,
                     "name": event.name, "at": datetime.fromisoformat(event.at),
                     "element": event.element, "actor_id": actor_id, "data": data})
    return rows


def append_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append rows from event_rows to the log, each chained to the one before by its keyed
    hash. Appends are serialised (PostgreSQL: an advisory lock; SQLite: its write lock), so
    each row's id, which the hash covers, is the last one's plus one."""
    if not rows:
        return
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)").bindparams(id=_EVENT_LOCK))
    key = seal_of(session).key
    last = _LAST_EVENT.first(session, {})
    last_id, prev = (last["id"], last["hash"]) if last is not None else (0, GENESIS)
    for row in rows:
        last_id += 1
        row["id"], row["prev_hash"] = last_id, prev
        row["hash"] = prev = event_hash(key, row)
    _INSERT_EVENTS.execute_many(session, rows)


_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_INSTANCES: sa.Table = Instance.__table__  # type: ignore[attr-defined]
_READY: sa.Table = ReadyTask.__table__  # type: ignore[attr-defined]
_LAST_EVENT = Prepared(sa.select(_EVENTS.c.id, _EVENTS.c.hash)
                       .order_by(_EVENTS.c.id.desc()).limit(1))
_INSERT_EVENTS = Prepared(_EVENTS.insert(), columns=[
    "id", "episode_id", "clinic_id", "name", "at", "element", "actor_id", "data", "prev_hash",
    "hash"])


@dataclass
class OpenEpisode:
    """What completing one of an episode's tasks needs, read together."""

    episode: Episode
    instance_id: int
    version: int
    state: str
    patient_name: str
    ready: dict[str, ReadyTask]
    """The episode's rows of the ready-task projection, by task id."""


_EPISODES: sa.Table = Episode.__table__  # type: ignore[attr-defined]
_PATIENTS: sa.Table = Patient.__table__  # type: ignore[attr-defined]
_EPISODE_COLUMNS = [c.name for c in _EPISODES.c]
_OPEN_EPISODE_QUERY = (
    sa.select(_READY, *[c.label(f"ep_{c.name}") for c in _EPISODES.c],
              _INSTANCES.c.id.label("instance_id"), _INSTANCES.c.version, _INSTANCES.c.state,
              _PATIENTS.c.display_name)
    .join(_EPISODES, _EPISODES.c.id == _READY.c.episode_id)
    .join(_INSTANCES, _INSTANCES.c.episode_id == _EPISODES.c.id)
    .join(_PATIENTS, _PATIENTS.c.id == _EPISODES.c.patient_id)
    .where(_READY.c.episode_id == sa.select(_READY.c.episode_id)
           .where(_READY.c.task_id == sa.bindparam("task_id")).scalar_subquery()))
_OPEN_EPISODE = Prepared(_OPEN_EPISODE_QUERY)
_OPEN_EPISODE_LOCKED = Prepared(_OPEN_EPISODE_QUERY.with_for_update(of=_INSTANCES))


def open_episode_of_task(session: Session, task_id: str,
                         lock: bool = False) -> OpenEpisode | None:
    """The episode a ready task belongs to, its instance, and its ready tasks, in one query;
    None if the task is not open. `lock`: hold the instance row (PostgreSQL; SQLite's write
    lock already covers the database)."""
    query = _OPEN_EPISODE_LOCKED if lock else _OPEN_EPISODE
    rows = query.all(session, {"task_id": task_id})
    ready = {row["task_id"]: from_row(ReadyTask, {c.name: row[c.name] for c in _READY.c})
             for row in rows}
    if task_id not in ready:
        return None
    first = rows[0]
    episode = from_row(Episode, {name: first[f"ep_{name}"] for name in _EPISODE_COLUMNS})
    return OpenEpisode(episode, first["instance_id"], first["version"], first["state"],
                       first["display_name"], ready)


_SAVE_STATE = Prepared(sa.update(_INSTANCES)
                       .where(_INSTANCES.c.id == sa.bindparam("instance_id"),
                              _INSTANCES.c.version == sa.bindparam("expected"))
                       .values(state=sa.bindparam("state"),
                               version=sa.bindparam("expected") + 1,
                               next_wake_at=sa.bindparam("next_wake_at"),
                               status=sa.bindparam("status")))


def save_state(session: Session, instance_id: int, version: int, state: str,
               next_wake_at: datetime | None, completed: bool) -> bool:
    """Write the new state if nobody else did since `version` was read (optimistic lock)."""
    cursor = _SAVE_STATE.execute(session, {
        "instance_id": instance_id, "expected": version, "state": state,
        "next_wake_at": next_wake_at, "status": "completed" if completed else "running"})
    return bool(cursor.rowcount == 1)


def save_instance(session: Session, instance: Instance, state: str,
                  next_wake_at: datetime | None, completed: bool) -> bool:
    """`save_state` for a loaded row, which then shows the new values."""
    if not save_state(session, instance.id or 0, instance.version, state, next_wake_at,
                      completed):
        return False
    for name, value in (("state", state), ("version", instance.version + 1),
                        ("next_wake_at", next_wake_at),
                        ("status", "completed" if completed else "running")):
        set_committed_value(instance, name, value)  # saved already: nothing left to flush
    return True


_TAKE_TASK_QUERY = sa.delete(_READY).where(_READY.c.task_id == sa.bindparam("task_id"))
_TAKE_TASK = Prepared(_TAKE_TASK_QUERY)
_TAKE_UNCLAIMED_TASK = Prepared(_TAKE_TASK_QUERY.where(
    sa.or_(_READY.c.claimed_by.is_(None), _READY.c.claimed_by == sa.bindparam("claimant"))))


def take_ready_task(session: Session, task_id: str, claimant: int | None) -> bool:
    """Remove a task being completed from the projection, unless someone other than
    `claimant` has claimed it (None: whoever holds it)."""
    if claimant is None:
        cursor = _TAKE_TASK.execute(session, {"task_id": task_id})
    else:
        cursor = _TAKE_UNCLAIMED_TASK.execute(session, {"task_id": task_id, "claimant": claimant})
    return bool(cursor.rowcount == 1)


def new_ready_rows(episode: Episode, stratum: str | None, before: set[str],
                   tasks: Sequence[EngineTask]) -> list[ReadyTask]:
    """Projection rows for the engine's ready tasks that were not ready `before`."""
    return [ReadyTask(
        task_id=task.id, episode_id=episode.id or 0, patient_id=episode.patient_id,
        clinic_id=episode.clinic_id, role=task.role or "", name=task.name, title=task.title,
        form=task.form, education_module=task.education_module, alert=task.alert,
        stratum=stratum, ready_at=task.ready_at, due_at=task.due_at,
    ) for task in tasks if task.id not in before]


def sync_ready_tasks(session: Session, episode_id: int, before: set[str], current: list[str],
                     new: Sequence[ReadyTask], stratum: str | None,
                     stratum_changed: bool) -> None:
    """Bring the episode's rows of the projection in line with the engine's ready tasks
    (`current`): rows of finished tasks go, `new` rows come (new_ready_rows), rows of tasks
    still ready (and their claims) stay. `before`: the task ids ready before this step.
    Clinician tasks outside the pathway (CLINICIAN_TASK_PREFIX) are not the engine's: they
    stay."""
    connection = session.connection()
    if {task_id for task_id in before if not is_clinician_task(task_id)} - set(current):
        connection.execute(sa.delete(_READY).where(
            _READY.c.episode_id == episode_id, _READY.c.task_id.not_in(current),
            sa.not_(_READY.c.task_id.startswith(CLINICIAN_TASK_PREFIX, autoescape=True))))
    if stratum_changed:
        connection.execute(sa.update(_READY).where(_READY.c.episode_id == episode_id)
                           .values(stratum=stratum))
    if new:
        _INSERT_READY.execute_many(session, [row.model_dump() for row in new])


def is_clinician_task(task_id: str) -> bool:
    """A clinician task outside the pathway (service.add_clinician_task)?"""
    return task_id.startswith(CLINICIAN_TASK_PREFIX)


_INSERT_READY = Prepared(_READY.insert(), columns=[column.name for column in _READY.c])


def instance_of(session: Session, episode_id: int) -> Instance:
    """The engine state row of an episode (every episode has one from its start)."""
    row = session.exec(select(Instance).where(Instance.episode_id == episode_id)).first()
    if row is None:
        raise NotFoundError(f"episode {episode_id} has no pathway state")
    return row


def due_instances(session: Session, now: datetime, limit: int) -> list[Instance]:
    """Instances with a timer due; on PostgreSQL rows another worker holds are skipped."""
    query = (select(Instance).where(Instance.status == "running",
                                    col(Instance.next_wake_at) <= now)
             .order_by(col(Instance.next_wake_at)).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def update_episode(session: Session, episode: Episode, changes: dict[str, Any]) -> None:
    """Set fields of an episode (status, stratum, ended_at) loaded here or elsewhere."""
    for name, value in changes.items():
        setattr(episode, name, value)
    if sa.inspect(episode).session is session:
        session.add(episode)
        return
    table: sa.Table = Episode.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        sa.update(table).where(table.c.id == episode.id).values(**changes))


def record_submission(session: Session, submission: dict[str, Any]) -> None:
    """Keep what was submitted to complete a task (a task_submissions row); the task's
    drafts are done with."""
    _DELETE_DRAFTS.execute(session, {"task_id": submission["task_id"]})
    _INSERT_SUBMISSION.execute(session, submission)


_DRAFTS: sa.Table = TaskDraft.__table__  # type: ignore[attr-defined]
_SUBMISSIONS: sa.Table = TaskSubmission.__table__  # type: ignore[attr-defined]
_DELETE_DRAFTS = Prepared(sa.delete(_DRAFTS)
                          .where(_DRAFTS.c.task_id == sa.bindparam("task_id")))
_INSERT_SUBMISSION = Prepared(_SUBMISSIONS.insert(),
                              columns=[column.name for column in _SUBMISSIONS.c])
