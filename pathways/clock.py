"""The injected clock: what "now" means for timers, due times and events.

SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer module and has no clock
parameter (engine-notes). `install()` swaps that module's `datetime` for a subclass whose
`now()` asks the clock of the current context, so an engine run under `use_clock(clock)`
sees that clock, and everything else sees real time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests, the demo and `carepath simulate`."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._now = self._now + delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("use a timezone-aware time")
        self._now = moment.astimezone(UTC)


_current: ContextVar[Clock | None] = ContextVar("carepath_clock", default=None)
_SYSTEM = SystemClock()


def current_clock() -> Clock:
    return _current.get() or _SYSTEM


def now() -> datetime:
    return current_clock().now()


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` follows the context's clock (only used inside the engine)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockedDatetime:
        moment = current_clock().now()
        if tz is not None:
            moment = moment.astimezone(tz)
        return cls.fromtimestamp(moment.timestamp(), tz=moment.tzinfo if tz is None else tz)


_installed = False


def install() -> None:
    """Route SpiffWorkflow's timer clock through `current_clock()` (idempotent)."""
    global _installed
    if _installed:
        return
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockedDatetime
    _installed = True
