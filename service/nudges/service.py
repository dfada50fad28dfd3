"""Nudges' service functions: a patient's reminder settings, the one-click opt-out, the
private calendar feed's token, what a reminder email says, and the new-message email."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session

from service.core import access
from service.core.context import Context
from service.core.errors import NotFoundError
from service.core.settings import Settings
from service.core.tables import Patient, Reminder
from service.nudges import repository
from service.nudges.mailer import Letter
from service.nudges.schemas import ReminderSettings, SentReminderPublic
from service.nudges.timing import next_look

SUBJECT = "A reminder from carepath"
"""The same subject for every reminder: it must not say what the reminder is about."""
LINES = {
    "exercise": "You have exercises planned today.",
    "questionnaire": "You have a questionnaire to answer.",
    "education": "You have something to read.",
    "message": "You have a new message in carepath.",
}
"""What each kind of reminder says: what to open, never a score, flag or diagnosis."""
MESSAGE_BURST = timedelta(hours=1)
"""Messages within this long of the last new-message email are one burst: no second email."""


def _patient_id(ctx: Context) -> int:
    user = access.require_role(ctx.user, "patient")
    if user.patient_id is None:
        raise NotFoundError("this login belongs to no patient")
    return user.patient_id


def _clock_time(minutes: int | None) -> str | None:
    return None if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str | None) -> int | None:
    if text is None:
        return None
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def reminder_settings(ctx: Context) -> ReminderSettings:
    """The calling patient's reminder settings."""
    patient_id = _patient_id(ctx)
    patient = ctx.session.get(Patient, patient_id)
    pref = repository.preference(ctx.session, patient_id)
    return ReminderSettings(email=patient.email if patient else None, email_on=pref.email_on,
                            remind_at=_clock_time(pref.remind_at) or "18:00",
                            quiet_from=_clock_time(pref.quiet_from),
                            quiet_until=_clock_time(pref.quiet_until))


def update_reminder_settings(ctx: Context, body: ReminderSettings) -> ReminderSettings:
    """Save the calling patient's reminder settings (their email address among them)."""
    patient_id = _patient_id(ctx)
    patient = ctx.session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("this login belongs to no patient")
    patient.email = body.email
    pref = repository.preference(ctx.session, patient_id)
    pref.email_on, pref.remind_at = body.email_on, _minutes(body.remind_at) or 0
    pref.quiet_from, pref.quiet_until = _minutes(body.quiet_from), _minutes(body.quiet_until)
    # The new time counts from now on: a time already past today waits for tomorrow.
    pref.next_reminder_at = next_look(pref, ctx.now)
    ctx.session.add_all([patient, pref])
    ctx.session.flush()
    return reminder_settings(ctx)


# --------------------------------------------------------------------------- opting out


def _unsubscribe_key(settings: Settings) -> bytes:
    return hmac.digest(settings.secret_key.encode(), b"carepath unsubscribe", hashlib.sha256)


def unsubscribe_token(settings: Settings, patient_id: int) -> str:
    """The secret of a patient's opt-out link: an HMAC of their id under a key derived from
    the secret key, so the link works without logging in and cannot be made for anyone
    else."""
    return hmac.new(_unsubscribe_key(settings), f"patient {patient_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def unsubscribe_url(settings: Settings, patient_id: int) -> str:
    return (f"{settings.base_url.rstrip('/')}/reminders/unsubscribe/{patient_id}/"
            f"{unsubscribe_token(settings, patient_id)}")


def check_unsubscribe(settings: Settings, patient_id: int, token: str) -> None:
    """NotFoundError unless `token` is the patient's opt-out secret (and they exist)."""
    if not hmac.compare_digest(unsubscribe_token(settings, patient_id), token):
        raise NotFoundError("this link is not valid; turn reminders off on your account page")


def turn_email_off(ctx: Context, settings: Settings, patient_id: int, token: str) -> None:
    """The opt-out link's POST: no more reminder emails for this patient."""
    check_unsubscribe(settings, patient_id, token)
    if ctx.session.get(Patient, patient_id) is None:
        raise NotFoundError("this link is not valid; turn reminders off on your account page")
    pref = repository.preference(ctx.session, patient_id)
    pref.email_on = False
    ctx.session.add(pref)


# --------------------------------------------------------------------------- calendar


def calendar_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def renew_calendar_token(ctx: Context) -> str:
    """A new secret for the calling patient's calendar feed; the old link stops working.
    Only its hash is kept, so the link is shown once."""
    patient_id = _patient_id(ctx)
    token = secrets.token_urlsafe(32)
    pref = repository.preference(ctx.session, patient_id)
    pref.calendar_token_hash = calendar_hash(token)
    ctx.session.add(pref)
    return token


def calendar_patient(session: Session, token: str) -> int:
    """The patient whose calendar feed `token` opens (NotFoundError for an unknown or
    renewed-away token)."""
    pref = repository.preference_by_calendar_hash(session, calendar_hash(token))
    if pref is None:
        raise NotFoundError("there is no calendar at this link; make a new link on your "
                            "account page")
    return pref.patient_id


def has_calendar(ctx: Context) -> bool:
    return repository.preference(ctx.session, _patient_id(ctx)).calendar_token_hash is not None


# --------------------------------------------------------------------------- emails


def letter(settings: Settings, patient_id: int, email: str, kinds: list[str]) -> Letter:
    """A reminder email saying what to open: one line per kind of thing waiting."""
    lines = [LINES[kind] for kind in LINES if kind in kinds]
    base = settings.base_url.rstrip("/")
    body = "\n".join([*lines, "", f"Open carepath: {base}/today", "",
                      "You get these emails because you asked for reminders. To stop them: "
                      f"{unsubscribe_url(settings, patient_id)}",
                      f"Or change when they come on your account page: {base}/account"])
    return Letter(email, SUBJECT, body + "\n", unsubscribe_url(settings, patient_id))


def notify_new_message(session: Session, patient_id: int, now: datetime) -> None:
    """Ask for a "You have a new message in carepath" email, if the patient allows email.

    The reminder sweep sends it (respecting quiet hours). One email per burst: nothing is
    queued while one is waiting, nor within MESSAGE_BURST of the last one sent."""
    patient = session.get(Patient, patient_id)
    pref = repository.preference(session, patient_id)
    if patient is None or not patient.email or not pref.email_on:
        return
    last = repository.last_message_email(session, patient_id)
    if last is not None and (last.status == "queued" or (
            last.sent_at is not None and now - last.sent_at < MESSAGE_BURST)):
        return
    session.add(Reminder(patient_id=patient_id, kind="message", key=now.isoformat(),
                         status="queued", created_at=now))
    pref.next_reminder_at = now  # the next sweep looks at this patient
    session.add(pref)


def sent_reminders(session: Session, patient_id: int) -> list[SentReminderPublic]:
    """What the patient was reminded of and when, newest first (for their clinicians)."""
    return [SentReminderPublic(kind=row.kind,  # type: ignore[arg-type]
                               status=row.status,  # type: ignore[arg-type]
                               at=row.sent_at or row.created_at)
            for row in repository.sent_reminders(session, patient_id)]
