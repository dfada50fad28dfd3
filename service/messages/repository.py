"""Queries and writes of the messages and their threads' unread counts."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from service.core.db import is_postgres
from service.core.tables import Episode, Message, MessageThread, Patient

_THREADS: sa.Table = MessageThread.__table__  # type: ignore[attr-defined]
_MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
OTHER_SIDE = {"patient": "staff", "staff": "patient"}


def thread_messages(session: Session, episode_id: int) -> list[Message]:
    """An episode's messages, oldest first (ix_messages_thread)."""
    return list(session.exec(select(Message).where(Message.episode_id == episode_id)
                             .order_by(col(Message.id))).all())


def count_new_message(session: Session, message: Message) -> None:
    """A message adds one to the other side's unread count (the thread's row is made with the
    first message). An increment in the database: two messages at once both count."""
    insert = postgres_insert if is_postgres(session) else sqlite_insert
    session.execute(insert(_THREADS).values(
        episode_id=message.episode_id, clinic_id=message.clinic_id, patient_unread=0,
        staff_unread=0, patient_read_up_to=0, staff_read_up_to=0)
        .on_conflict_do_nothing(index_elements=["episode_id"]))
    unread = _THREADS.c[f"{OTHER_SIDE[message.sender_side]}_unread"]
    session.execute(sa.update(_THREADS).where(_THREADS.c.episode_id == message.episode_id)
                    .values({unread: unread + 1}))


def mark_read(session: Session, episode_id: int, side: str, up_to: int) -> None:
    """`side` has read the thread up to message `up_to`: its unread count is what came after
    (a message sent while the thread was being read stays unread)."""
    read_up_to, unread = _THREADS.c[f"{side}_read_up_to"], _THREADS.c[f"{side}_unread"]
    after = (sa.select(sa.func.count()).select_from(_MESSAGES)
             .where(_MESSAGES.c.episode_id == episode_id,
                    _MESSAGES.c.sender_side == OTHER_SIDE[side], _MESSAGES.c.id > up_to)
             .scalar_subquery())
    session.execute(sa.update(_THREADS)
                    .where(_THREADS.c.episode_id == episode_id, read_up_to < up_to)
                    .values({read_up_to: up_to, unread: after}))


def unread(session: Session, episode_id: int, side: str) -> int:
    row = session.get(MessageThread, episode_id)
    return int(getattr(row, f"{side}_unread")) if row is not None else 0


def staff_unread_by_episode(session: Session, episode_ids: Iterable[int]) -> dict[int, int]:
    """Unread patients' messages of these episodes (by primary key: a worklist page's
    episodes cost one lookup each)."""
    ids = set(episode_ids)
    if not ids:
        return {}
    return {episode_id: count for episode_id, count in session.exec(
        select(MessageThread.episode_id, MessageThread.staff_unread).where(
            col(MessageThread.episode_id).in_(ids), MessageThread.staff_unread > 0)).all()}


def staff_unread_threads(session: Session, clinic_id: int,
                         limit: int) -> list[tuple[int, str, int]]:
    """(episode id, patient's name, unread) of a clinic's threads with patients' messages
    nobody has read, the most unread first, at most `limit` (on the same index)."""
    rows = session.exec(
        select(MessageThread.episode_id, Patient.display_name, MessageThread.staff_unread)
        .join(Episode, col(Episode.id) == col(MessageThread.episode_id))
        .join(Patient, col(Patient.id) == col(Episode.patient_id))
        .where(MessageThread.clinic_id == clinic_id, MessageThread.staff_unread > 0)
        .order_by(col(MessageThread.staff_unread).desc(), col(MessageThread.episode_id))
        .limit(limit)).all()
    return [(episode_id, name, count) for episode_id, name, count in rows]


def staff_unread_in_clinic(session: Session, clinic_id: int) -> int:
    """Unread patients' messages of a clinic: a sum over only the threads with some
    (ix_message_threads_staff_unread), however many threads the clinic has."""
    total = session.exec(select(func.coalesce(func.sum(MessageThread.staff_unread), 0)).where(
        MessageThread.clinic_id == clinic_id, MessageThread.staff_unread > 0)).one()
    return int(total)
