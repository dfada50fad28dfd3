"""A patient's private calendar feed (iCalendar, RFC 5545): planned exercise days, due
questionnaires and the next follow-up, for the next four weeks.

The feed is read by calendar programs without logging in, at a secret link
(`/calendar/{token}.ics`), so its events say only what the patient needs to plan ("Back
exercises", "Questionnaire due"), no scores, flags or diagnoses."""

from __future__ import annotations

from datetime import date, timedelta

from icalendar import Calendar, Event
from sqlmodel import select

from service.core import clinic_time
from service.core.context import Context
from service.core.settings import Settings
from service.core.tables import Episode, Instance
from service.nudges import repository
from service.patients.views import model_settings, programme_started, programme_view

HORIZON = timedelta(weeks=4)
PRODUCT = "-//carepath//patient calendar//EN"


def feed(ctx: Context, settings: Settings, patient_id: int) -> bytes:
    """The patient's calendar from today to four weeks on."""
    base = settings.base_url.rstrip("/")
    today = clinic_time.local_date(ctx.now)
    last = today + HORIZON
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "carepath")
    for uid, day, title, path in _events(ctx, patient_id, today, last):
        event = Event()  # all-day: the patient decides when in the day
        event.add("uid", f"{uid}@carepath")
        event.add("dtstamp", ctx.now)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", title)
        event.add("url", f"{base}{path}")
        event.add("description", f"Open carepath: {base}{path}")
        calendar.add_component(event)
    written: bytes = calendar.to_ical()
    return written


def _events(ctx: Context, patient_id: int, today: date,
            last: date) -> list[tuple[str, date, str, str]]:
    """(uid, day, title, link) of each event in [today, last)."""
    found: list[tuple[str, date, str, str]] = []
    for task in repository.patient_tasks(ctx.session, patient_id):
        day = max(today, clinic_time.local_date(task.due_at)) if task.due_at else today
        if task.education_module:
            found.append((f"read-{task.task_id}", day, "Something to read",
                          f"/education/{task.education_module}"))
        else:
            found.append((f"questionnaire-{task.task_id}", day, "Questionnaire due", "/today"))
    episode = repository.active_episode(ctx.session, patient_id)
    if episode is None:
        return [e for e in found if e[1] < last]
    instance = ctx.session.exec(select(Instance).where(Instance.episode_id == episode.id)).first()
    if instance is not None and instance.next_wake_at is not None:
        day = max(today, clinic_time.local_date(instance.next_wake_at))
        found.append((f"follow-up-{episode.id}-{day.isoformat()}", day, "carepath follow-up",
                      "/today"))
    found.extend(_exercise_days(ctx, episode, today, last))
    return [e for e in found if e[1] < last]


def _exercise_days(ctx: Context, episode: Episode, today: date,
                   last: date) -> list[tuple[str, date, str, str]]:
    """The programme's sessions spread evenly over each week from the day it started
    (`sessions_per_week` of the model), until its last week."""
    programme = programme_view(ctx, episode)
    started = programme_started(ctx, episode)
    if programme is None or programme.finished or started is None:
        return []
    settings = model_settings(ctx, episode)
    per_week = settings.get("sessions_per_week")
    weeks = settings.get("programme_weeks")
    per_week = per_week if isinstance(per_week, int) and 0 < per_week <= 7 else 7
    end = started + timedelta(weeks=weeks) if isinstance(weeks, int) else last
    offsets = sorted({round(n * 7 / per_week) for n in range(per_week)})
    days = []
    day = today
    while day < min(last, end):
        if (day - started).days % 7 in offsets:
            days.append((f"exercise-{episode.id}-{day.isoformat()}", day, "Back exercises",
                         "/exercise"))
        day += timedelta(days=1)
    return days
