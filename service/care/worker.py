"""Timer worker: fire due timers, then send the reminders that are due (service/nudges).
`carepath worker` runs it as a process; in the embedded mode the server runs the same sweep
on a background thread."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy.engine import Engine

from pathways.clock import Clock
from pathways.errors import PathwayError
from service.care import repository
from service.care.service import fire_due_timers
from service.core import checkpoints
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import DATABASE_ERRORS, database_reason
from service.core.settings import Settings, get_settings
from service.core.tables import Episode
from service.models.registry import EngineRegistry
from service.nudges.sweep import sweep_reminders

log = logging.getLogger("carepath.worker")
RETRY_AFTER = timedelta(hours=1)
MAX_PAUSE_SECONDS = 30.0
"""The longest pause between tries while the database is out of reach."""


def sweep(db: Engine, clock: Clock, engines: EngineRegistry, limit: int = 1000) -> int:
    """Fire every due timer; one transaction per instance. Returns instances advanced.

    On PostgreSQL each instance is taken with FOR UPDATE SKIP LOCKED, so workers running
    side by side never fire the same timer; on SQLite the write lock does the same."""
    advanced = 0
    while advanced < limit:
        try:
            with transaction(db, write=True) as session:
                rows = repository.due_instances(session, clock.now(), limit=1)
                if not rows:
                    return advanced
                row = rows[0]
                fire_due_timers(Context(session, clock, engines), row)
                advanced += 1
        except PathwayError as err:
            log.error("timer step failed for instance %s: %s", row.id, err)
            _postpone(db, clock, row.id or 0, str(err))
            advanced += 1
    return advanced


def _postpone(db: Engine, clock: Clock, instance_id: int, reason: str) -> None:
    """A model error must not make the worker spin: retry later and leave a trace."""
    from service.core.tables import Instance

    with transaction(db, write=True) as session:
        row = session.get(Instance, instance_id)
        if row is None:
            return
        row.next_wake_at = clock.now() + RETRY_AFTER
        session.add(row)
        episode = session.get(Episode, row.episode_id)
        if episode is not None:
            from pathways.events import DomainEvent

            repository.append_events(session, repository.event_rows(episode, [DomainEvent(
                "timer_step_failed", clock.now().isoformat(), None, None,
                {"reason": reason, "retry_at": row.next_wake_at.isoformat()})], None))


def run_forever(db: Engine, clock: Clock, engines: EngineRegistry, interval: float,
                stop: threading.Event, settings: Settings | None = None) -> None:
    """Sweep every `interval` seconds, and checkpoint the event log's head when one is due
    (core.checkpoints: every `audit_checkpoint_seconds`, if the log has grown).

    While the database is out of reach the worker keeps trying, each pause twice the last
    (up to MAX_PAUSE_SECONDS, or `interval` if that is longer), with one line on its log per
    try; once a round succeeds it sweeps every `interval` again. Timers that fell due
    meanwhile fire then: a timer stays due until a sweep has fired it."""
    pause = interval
    while not stop.is_set():
        try:
            _round(db, clock, engines, settings or get_settings())
            pause = interval
        except DATABASE_ERRORS as err:
            pause = min(2 * pause, max(interval, MAX_PAUSE_SECONDS))
            log.warning("the database cannot be reached (%s); trying again in %g s",
                        database_reason(err), pause)
        stop.wait(pause)


def _round(db: Engine, clock: Clock, engines: EngineRegistry, settings: Settings) -> None:
    """One sweep, the reminders and a checkpoint. The database out of reach ends the round
    (raises); any other error is logged and the worker goes on."""
    try:
        sweep(db, clock, engines)
    except DATABASE_ERRORS:
        raise
    except Exception:  # keep the worker alive; the error is logged
        log.exception("timer sweep failed")
    try:
        sweep_reminders(db, clock, engines, settings)
    except DATABASE_ERRORS:
        raise
    except Exception:  # likewise: a reminder is not worth the timers
        log.exception("reminder sweep failed")
    try:
        checkpoints.checkpoint(db, clock.now(), due_only=True)
    except DATABASE_ERRORS:
        raise
    except Exception:  # likewise; verification reports what is wrong with the log
        log.exception("checkpoint of the event log failed")
