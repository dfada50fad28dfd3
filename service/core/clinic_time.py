"""The clinic's time zone: what "today" and "end of day" mean for a worklist or a patient's
week, and how pages show a time. The API and the database stay in UTC; only what a person
reads is local (`CAREPATH_TIME_ZONE`, default Europe/Stockholm)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from service.core.settings import get_settings


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    return _zone(get_settings().time_zone)


def local(moment: datetime) -> datetime:
    """A stored time (UTC; naive means UTC) in the clinic's zone."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone())


def local_date(moment: datetime) -> date:
    return local(moment).date()


def end_of_day(now: datetime) -> datetime:
    """The last moment of the clinic's day that `now` falls in, in UTC (a task due by then is
    due today)."""
    start = datetime.combine(local_date(now) + timedelta(days=1), time(), tzinfo=zone())
    return (start - timedelta(microseconds=1)).astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """The first moment of a clinic day, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone()).astimezone(UTC)
