"""Read side of the messages: an episode's thread as its reader sees it, and unread counts
(for the clinician's worklist and the patient's Today).

Reading a thread goes through the one gate to a record (`care.views.episode_row`), so a
clinician's reading is an access-log row like opening the record; it marks the thread read
for the reader's side (`Context.marks`: written once the read has succeeded)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from service.care import service as care_service
from service.care import views as care_views
from service.core import access, clinic_time
from service.core.context import Context
from service.core.tables import Episode, Message, Patient, ReadyTask, TaskSubmission, User
from service.messages import repository
from service.messages.schemas import MAX_LENGTH, MessagePublic, Side


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    side: Side
    sender_name: str
    text: str
    sent_at: datetime
    when: str
    mine: bool
    """Written by the reader's side."""
    call_back_task_id: str | None
    call_back_done: bool


@dataclass(frozen=True)
class Thread:
    """An episode's messages, oldest first, as one side reads them."""

    episode_id: int
    patient_name: str
    reader_side: Side
    messages: tuple[ThreadMessage, ...]
    unread: int
    """Messages of the other side this reader's side had not read before now."""
    max_length: int = MAX_LENGTH

    @property
    def can_call_back(self) -> bool:
        return self.reader_side == "staff"


def side_of(user: User) -> Side:
    return "patient" if user.role == "patient" else "staff"


def call_back_key(message_id: int) -> str:
    """The key of the "call back" task made from a message (care.service.add_clinician_task):
    one per message."""
    return f"call-back-{message_id}"


def thread(ctx: Context, episode_id: int) -> Thread:
    """The episode's thread for the caller (patient: their own; staff: their clinic's), and
    it read up to its last message for the caller's side."""
    episode = care_views.episode_row(ctx, episode_id)
    user = access.require_user(ctx.user)
    side = side_of(user)
    rows = repository.thread_messages(ctx.session, episode_id)
    unread = repository.unread(ctx.session, episode_id, side)
    if rows:
        ctx.marks.append(functools.partial(repository.mark_read, episode_id=episode_id,
                                           side=side, up_to=rows[-1].id or 0))
    return Thread(episode_id, _patient_name(ctx, episode), side,
                  tuple(_thread_messages(ctx, episode, rows, side)), unread)


def messages_public(thread: Thread) -> list[MessagePublic]:
    return [MessagePublic(id=m.id, episode_id=thread.episode_id, sender_side=m.side,
                          sender_name=m.sender_name, text=m.text, sent_at=m.sent_at,
                          call_back_task_id=m.call_back_task_id,
                          call_back_done=m.call_back_done) for m in thread.messages]


def _thread_messages(ctx: Context, episode: Episode, rows: list[Message],
                     side: Side) -> list[ThreadMessage]:
    senders = {user.id: user for user in ctx.session.exec(select(User).where(
        col(User.id).in_({m.sender_id for m in rows}))).all()} if rows else {}
    patient_name = _patient_name(ctx, episode)
    task_ids = {m.id: care_service.clinician_task_id(call_back_key(m.id or 0))
                for m in rows if m.sender_side == "patient"}
    open_tasks = set(ctx.session.exec(select(ReadyTask.task_id).where(
        col(ReadyTask.task_id).in_(task_ids.values()))).all()) if task_ids else set()
    done_tasks = set(ctx.session.exec(select(TaskSubmission.task_id).where(
        col(TaskSubmission.task_id).in_(task_ids.values()))).all()) if task_ids else set()
    found = []
    for message in rows:
        sender = senders.get(message.sender_id)
        name = patient_name if message.sender_side == "patient" else (
            (sender.full_name or sender.username) if sender else "The clinic")
        task_id = task_ids.get(message.id)
        made = task_id if task_id in open_tasks or task_id in done_tasks else None
        found.append(ThreadMessage(
            id=message.id or 0, side="patient" if message.sender_side == "patient" else "staff",
            sender_name=name, text=message.body, sent_at=message.sent_at,
            when=clinic_time.local(message.sent_at).strftime("%a %-d %b %Y, %H:%M"),
            mine=message.sender_side == side, call_back_task_id=made,
            call_back_done=made is not None and made in done_tasks))
    return found


def _patient_name(ctx: Context, episode: Episode) -> str:
    patient = ctx.session.get(Patient, episode.patient_id)
    return patient.display_name if patient else ""


def patient_unread(ctx: Context, episode_id: int) -> int:
    """The clinic's messages the patient of this episode has not read (their Today; the
    caller is that patient, checked by the page that asks)."""
    return repository.unread(ctx.session, episode_id, "patient")


def staff_unread_by_episode(ctx: Context, episode_ids: set[int]) -> dict[int, int]:
    """Patients' messages the clinic has not read, per episode (the worklist's rows: episodes
    of the caller's clinic)."""
    return repository.staff_unread_by_episode(ctx.session, episode_ids)


@dataclass(frozen=True)
class UnreadThread:
    episode_id: int
    patient_name: str
    unread: int


@dataclass(frozen=True)
class ClinicUnread:
    """Patients' messages the caller's clinic has not read: how many in all, and whose (the
    patients with the most first, up to UNREAD_THREADS_LISTED), for the worklist."""

    total: int = 0
    threads: tuple[UnreadThread, ...] = ()
    more: bool = False
    """More patients have unread messages than are listed."""


UNREAD_THREADS_LISTED = 20


def clinic_unread(ctx: Context) -> ClinicUnread:
    user = access.require_role(ctx.user, *access.CLINICIANS)
    total = repository.staff_unread_in_clinic(ctx.session, user.clinic_id or 0)
    if not total:
        return ClinicUnread()
    rows = repository.staff_unread_threads(ctx.session, user.clinic_id or 0,
                                           UNREAD_THREADS_LISTED + 1)
    return ClinicUnread(total, tuple(UnreadThread(*row) for row in rows[:UNREAD_THREADS_LISTED]),
                        more=len(rows) > UNREAD_THREADS_LISTED)
