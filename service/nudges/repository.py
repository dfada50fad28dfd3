"""Nudges' queries and writes: reminder preferences, the reminders sent, who is due one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select, update

from service.core.tables import Episode, Patient, ReadyTask, Reminder, ReminderPreference, User


@dataclass(frozen=True)
class Recipient:
    patient_id: int
    email: str


def preference(session: Session, patient_id: int) -> ReminderPreference:
    """The patient's preferences, or the defaults (not yet saved) when they changed none."""
    found = session.get(ReminderPreference, patient_id)
    return found if found is not None else ReminderPreference(patient_id=patient_id)


def preference_by_calendar_hash(session: Session, token_hash: str) -> ReminderPreference | None:
    return session.exec(select(ReminderPreference).where(
        ReminderPreference.calendar_token_hash == token_hash)).first()


def due_recipients(session: Session, now: datetime) -> list[Recipient]:
    """Patients the sweep should look at now: an address, email not turned off, an active
    login, and their `next_reminder_at` reached (or not set yet)."""
    pref = ReminderPreference
    rows = session.exec(
        select(Patient.id, Patient.email)
        .join(pref, col(pref.patient_id) == Patient.id, isouter=True)
        .where(col(Patient.email).is_not(None), Patient.email != "",
               or_(col(pref.patient_id).is_(None),
                   and_(col(pref.email_on), or_(col(pref.next_reminder_at).is_(None),
                                                col(pref.next_reminder_at) <= now))),
               col(Patient.id).in_(select(User.patient_id).where(User.active == True)))  # noqa: E712
        .order_by(col(Patient.id))).all()
    return [Recipient(pid or 0, email or "") for pid, email in rows]


def reminded(session: Session, patient_id: int) -> set[tuple[str, str]]:
    """(kind, key) of everything the patient has been reminded of (sent or failed)."""
    return {(kind, key) for kind, key in session.exec(select(Reminder.kind, Reminder.key).where(
        Reminder.patient_id == patient_id)).all()}


def sent_since(session: Session, patient_id: int, moment: datetime) -> bool:
    """Whether the day's reminder (anything but a message email) went out at or after
    `moment`."""
    return session.exec(select(Reminder.id).where(
        Reminder.patient_id == patient_id, Reminder.kind != "message",
        col(Reminder.sent_at) >= moment)).first() is not None


def queued_messages(session: Session, patient_id: int) -> list[Reminder]:
    return list(session.exec(select(Reminder).where(
        Reminder.patient_id == patient_id, Reminder.kind == "message",
        Reminder.status == "queued")).all())


def take_queued(session: Session, reminder_id: int, now: datetime) -> bool:
    """Mark a queued message email sent, unless another worker has already (the row is
    locked until this transaction ends): True when this sweep is the one to send it."""
    taken = session.exec(update(Reminder)
                         .where(col(Reminder.id) == reminder_id, col(Reminder.status) == "queued")
                         .values(status="sent", sent_at=now))
    return bool(taken.rowcount)


def last_message_email(session: Session, patient_id: int) -> Reminder | None:
    return session.exec(select(Reminder).where(
        Reminder.patient_id == patient_id, Reminder.kind == "message")
        .order_by(col(Reminder.id).desc())).first()


def sent_reminders(session: Session, patient_id: int, limit: int = 50) -> list[Reminder]:
    """The latest reminders of a patient, newest first."""
    return list(session.exec(select(Reminder).where(Reminder.patient_id == patient_id)
                             .order_by(col(Reminder.id).desc()).limit(limit)).all())


def active_episode(session: Session, patient_id: int) -> Episode | None:
    return session.exec(select(Episode).where(Episode.patient_id == patient_id,
                                              Episode.status == "active")
                        .order_by(col(Episode.id).desc())).first()


def patient_tasks(session: Session, patient_id: int) -> list[ReadyTask]:
    """The patient's open tasks (questionnaires, check-ins, reading), oldest first."""
    return list(session.exec(select(ReadyTask).where(
        ReadyTask.patient_id == patient_id, ReadyTask.role == "patient")
        .order_by(col(ReadyTask.task_id))).all())
