"""The reminder sweep, run by the timer worker (service/care/worker.py) after each timer
sweep: at each patient's chosen time, one email saying what is waiting for them.

Rules, so that no one gets a burst and nothing is reminded of twice:
- one reminder per thing: a `reminders` row per (patient, kind, key), unique; the key is the
  day for exercises, the task for a questionnaire or module, so a thing is reminded of once
  however often and by however many workers the sweep runs;
- at most one email per patient per sweep, combining everything waiting, and at most one
  day's reminder per reminder time: what becomes due after the day's email waits for the next;
- late, once: a sweep after the chosen time (the worker was down, or quiet hours held it
  back) sends the reminder then, for what is still due; today's exercises are not reminded
  of once the day has passed, a queued message email older than a day is dropped;
- nothing in quiet hours, nothing to a patient who turned email off or has no address.
The reminder rows are saved before the email is handed to the mail server (a worker that
dies in between leaves a reminder unsent rather than sent twice); a send that fails marks
them `failed`, and they are not tried again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, update

from pathways.clock import Clock
from service.core import clinic_time
from service.core.context import Context
from service.core.db import transaction
from service.core.settings import Settings
from service.core.tables import Reminder
from service.models.registry import EngineRegistry
from service.nudges import mailer, repository
from service.nudges.mailer import Letter
from service.nudges.service import letter
from service.nudges.timing import in_quiet_hours, next_look, reminder_moment
from service.patients.views import programme_view

log = logging.getLogger("carepath.nudges")
STALE = timedelta(days=1)
"""A queued email older than this is dropped, not sent."""


def due_things(ctx: Context, patient_id: int, moment: datetime) -> list[tuple[str, str]]:
    """(kind, key) of what the reminder time `moment` reminds the patient of, if it is still
    waiting now: today's exercises (a programme running and nothing logged today, if the
    reminder time was today), each questionnaire and module to read that was open by then
    (what opens later waits for the next reminder time)."""
    found: list[tuple[str, str]] = []
    today = clinic_time.local_date(ctx.now)
    episode = repository.active_episode(ctx.session, patient_id)
    if episode is not None and clinic_time.local_date(moment) == today:
        programme = programme_view(ctx, episode)
        if programme is not None and not programme.finished and not programme.done_today:
            found.append(("exercise", today.isoformat()))
    for task in repository.patient_tasks(ctx.session, patient_id):
        if task.ready_at is not None and task.ready_at > moment:
            continue
        found.append(("education" if task.education_module else "questionnaire", task.task_id))
    return found


def plan(ctx: Context, recipient: repository.Recipient, settings: Settings) -> \
        tuple[Letter, list[int]] | None:
    """The email this patient gets in this sweep, if any, with its reminder rows saved (ids
    returned); None when nothing is due or it is quiet hours. Either way the patient's
    `next_reminder_at` moves on to when there may be something again."""
    now, session = ctx.now, ctx.session
    pref = repository.preference(session, recipient.patient_id)
    if not pref.email_on:  # turned off since the sweep's list was read
        return None
    pref.next_reminder_at = next_look(pref, now)
    session.add(pref)
    if in_quiet_hours(pref, now):
        return None
    kinds: list[str] = []
    ids: list[int] = []
    for queued in repository.queued_messages(session, recipient.patient_id):
        if now - queued.created_at > STALE:
            queued.status = "dropped"
            session.add(queued)
        elif repository.take_queued(session, queued.id or 0, now):
            kinds.append("message")
            ids.append(queued.id or 0)
    moment = reminder_moment(pref, now)
    rows: list[Reminder] = []
    if not repository.sent_since(session, recipient.patient_id, moment):
        done = repository.reminded(session, recipient.patient_id)
        rows = [Reminder(patient_id=recipient.patient_id, kind=kind, key=key, status="sent",
                         created_at=now, sent_at=now)
                for kind, key in dict.fromkeys(due_things(ctx, recipient.patient_id, moment))
                if (kind, key) not in done]
    if not rows and not kinds:
        return None
    session.add_all(rows)
    session.flush()
    kinds += [r.kind for r in rows]
    ids += [r.id or 0 for r in rows]
    return letter(settings, recipient.patient_id, recipient.email, kinds), ids


def sweep_reminders(db: Engine, clock: Clock, engines: EngineRegistry,
                    settings: Settings) -> int:
    """Send each patient the reminder that is due now; returns emails sent. Only patients
    whose `next_reminder_at` has come are read (one indexed query), each in a transaction of
    its own. Does nothing when no mail server is set (CAREPATH_SMTP_HOST)."""
    if not settings.smtp_host:
        return 0
    with transaction(db, write=False) as session:
        recipients = repository.due_recipients(session, clock.now())
    sent = 0
    for recipient in recipients:
        try:
            with transaction(db, write=True) as session:
                planned = plan(Context(session, clock, engines), recipient, settings)
        except IntegrityError:  # another worker reminded this patient in the same moment
            continue
        if planned is None:
            continue
        email, ids = planned
        try:
            mailer.send(settings, email, clock.now())
            sent += 1
        except mailer.SEND_ERRORS as err:
            log.error("reminder email to patient %s failed: %s", recipient.patient_id, err)
            with transaction(db, write=True) as session:
                _mark_failed(session, ids)
    return sent


def _mark_failed(session: Session, ids: list[int]) -> None:
    session.exec(update(Reminder).where(col(Reminder.id).in_(ids))
                 .values(status="failed"))
