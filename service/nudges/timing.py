"""When a patient is reminded: their reminder time, their quiet hours (clinic time), and
when the sweep should next look at them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from service.core import clinic_time
from service.core.tables import ReminderPreference


def in_quiet_hours(pref: ReminderPreference, now: datetime) -> bool:
    """Whether `now` falls in the patient's quiet hours (clinic time; they may wrap)."""
    if pref.quiet_from is None or pref.quiet_until is None:
        return False
    local = clinic_time.local(now)
    minute = local.hour * 60 + local.minute
    if pref.quiet_from < pref.quiet_until:
        return pref.quiet_from <= minute < pref.quiet_until
    return minute >= pref.quiet_from or minute < pref.quiet_until


def _at(day: date, minutes: int) -> datetime:
    """A clinic day's time of day (minutes after midnight), in UTC."""
    return datetime.combine(day, time(minutes // 60, minutes % 60),
                            tzinfo=clinic_time.zone()).astimezone(UTC)


def reminder_moment(pref: ReminderPreference, now: datetime) -> datetime:
    """The latest of the patient's reminder times at or before `now` (today's, or else
    yesterday's), in UTC."""
    day = clinic_time.local_date(now)
    moment = _at(day, pref.remind_at)
    return moment if moment <= now else _at(day - timedelta(days=1), pref.remind_at)


def next_look(pref: ReminderPreference, now: datetime) -> datetime:
    """When the sweep should look at the patient again: the end of quiet hours if it is
    quiet now, else their next reminder time."""
    day = clinic_time.local_date(now)
    if in_quiet_hours(pref, now) and pref.quiet_until is not None:
        end = _at(day, pref.quiet_until)
        return end if end > now else _at(day + timedelta(days=1), pref.quiet_until)
    moment = _at(day, pref.remind_at)
    return moment if moment > now else _at(day + timedelta(days=1), pref.remind_at)
