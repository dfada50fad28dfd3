"""The references a completion over HTTP is measured against (bench/service.py): the raw
engine step of the same state, that step inside a one-row SQLite transaction, and the
service's own work for a completion without HTTP."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench.raw_spiff import bound, raw_serializer, raw_step
from bench.service_setup import Setup, copy_state
from bench.stats import BenchError


class References:
    """The raw engine step of the weekly_check_in state, and that step inside a one-row
    stdlib sqlite3 transaction (WAL, synchronous=NORMAL as the service sets); and, for the
    other reading of "raw engine", SpiffWorkflow alone (bench/raw_spiff.py: its own
    serializer, the spec embedded) in the same one-row transaction."""

    def __init__(self, s: Setup, data: dict[str, Any]) -> None:
        template = s.templates["weekly_check_in"]
        self.state = copy_state(template, template.pattern, 1).state
        self.engine, self.data, self.clock = s.engine, data, s.clock
        restored = self.engine.restore(self.state)
        self.task_id = restored.ready_tasks()[0].id
        self.settings = restored.settings
        self.serializer = raw_serializer()
        self.spiff_state = self.serializer.serialize_json(restored.workflow)
        self.conn = sqlite3.connect(s.tmp / "one-row.sqlite3", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE instance (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        self.conn.execute("INSERT INTO instance VALUES (1, ?)", (self.state,))
        self.conn.execute("INSERT INTO instance VALUES (2, ?)", (self.spiff_state,))
        if len(self._step(self.state)) < 1000 or len(self._spiff_step(self.spiff_state)) < 1000:
            raise BenchError("the raw step returned no state")

    def _step(self, text: str) -> str:
        instance = self.engine.restore(text)
        instance.complete_task(self.task_id, self.data, actor="patient")
        return instance.state_json()

    def _spiff_step(self, text: str) -> str:
        with bound(self.clock, self.settings):
            out, _ = raw_step(self.serializer, text, self.engine.script_engine, self.data)
        return out

    def raw(self) -> float:
        t0 = time.perf_counter()
        self._step(self.state)
        return time.perf_counter() - t0

    def row(self) -> float:
        return self._in_one_row(1, self._step, self.state)

    def spiff_row(self) -> float:
        return self._in_one_row(2, self._spiff_step, self.spiff_state)

    def _in_one_row(self, row_id: int, step: Callable[[str], str], original: str) -> float:
        """BEGIN IMMEDIATE, SELECT the state, step, UPDATE, COMMIT: timed; then the original
        state is put back, untimed, for the next sample."""
        conn = self.conn
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        (text,) = conn.execute("SELECT state FROM instance WHERE id = ?", (row_id,)).fetchone()
        new = step(text)
        conn.execute("UPDATE instance SET state = ? WHERE id = ?", (new, row_id))
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.execute("UPDATE instance SET state = ? WHERE id = ?", (original, row_id))
        return elapsed


class ServiceCall:
    """The service's work for one completion without HTTP: what the route's unit of work does
    on its worker thread (the request's transaction, the caller read from a snapshot, the
    service function, the answer built), plus the JSON of the answer."""

    def __init__(self, s: Setup, data: dict[str, Any]) -> None:
        from service.care import service as episodes
        from service.care.api_tasks import completion_public
        from service.core import credentials as auth
        from service.core.context import Context
        from service.core.db import transaction

        self.s, self.data = s, data
        self._auth, self._episodes, self._public = auth, episodes, completion_public
        self._context = Context
        self._transaction = transaction
        self.statements = 0
        self.calls = 0
        # Counted by SQLite itself: the busiest statements bypass SQLAlchemy's events
        # (service/core/statements.py). BEGIN, COMMIT and the connections' PRAGMAs are not counted.
        s.db.dispose()
        self.counting = s.db.dialect.name == "sqlite"
        """Statements are counted on SQLite only (its trace callback)."""
        if self.counting:
            sa.event.listen(s.db, "connect", self._trace)

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(self._count)

    def _count(self, sql: str) -> None:
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements += 1

    def stop_counting(self) -> None:
        if self.counting:
            sa.event.remove(self.s.db, "connect", self._trace)
        self.s.db.dispose()

    def __call__(self, task_id: str, token: str) -> float:
        s = self.s
        t0 = time.perf_counter()
        with self._transaction(s.db, write=True) as session, \
                self._transaction(s.db, write=False) as snapshot:
            ctx = self._context(session=session, clock=s.clock, engines=s.engines,
                                db=s.db, snapshot=snapshot)
            ctx.user = self._auth.user_for_token(snapshot, token, s.clock.now())
            result = self._public(ctx, self._episodes.complete_task(ctx, task_id, self.data))
        result.model_dump_json()
        elapsed = time.perf_counter() - t0
        self.calls += 1
        if "exercise_week_completed" not in result.events:
            raise BenchError(f"in-process completion: {result.events}")
        return elapsed
