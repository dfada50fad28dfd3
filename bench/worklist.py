"""Service benchmark, part three: the clinician's worklist at 1,000 and 10,000 active
patients, over HTTP and in-process. See bench/service.py."""

from __future__ import annotations

import gc
import time
from typing import Any

import httpx
import sqlalchemy as sa

from bench.service_setup import Server, Setup
from bench.stats import BenchError
from service.care.views import COUNT_LIMIT

WORKLIST_SAMPLES = 200
WORKLIST_BUDGET_S = 8.0


class WorklistInProcess:
    """views.worklist in this process (no HTTP) for one physiotherapist, and the database's
    plan for each statement it runs on ready_tasks."""

    def __init__(self, s: Setup, username: str) -> None:
        from service.care import views
        from service.core.context import Context
        from service.core.db import transaction
        from service.core.tables import User

        self.s, self._views, self._transaction, self._context = s, views, transaction, Context
        with transaction(s.db, write=False) as session:
            self.user = session.exec(sa.select(User).where(User.username == username)).one()[0]

    def __call__(self) -> float:
        t0 = time.perf_counter()
        with self._transaction(self.s.db, write=False) as session:
            self._views.worklist(self._context(session, self.s.clock, self.s.engines,
                                               self.user))
        return time.perf_counter() - t0

    def plans(self) -> list[str]:
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                    *_: Any) -> None:
            statements.append((statement, parameters))

        sa.event.listen(self.s.db, "before_cursor_execute", capture)
        self()
        sa.event.remove(self.s.db, "before_cursor_execute", capture)
        plans = []
        sqlite = self.s.db.dialect.name == "sqlite"
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (COSTS OFF) "
        with self.s.db.connect() as connection:
            for statement, parameters in statements:
                if "ready_tasks" in statement:
                    rows = connection.exec_driver_sql(explain + statement, parameters).all()
                    plans.append("; ".join(str(row[-1] if sqlite else row[0]).strip()
                                           for row in rows))
        return plans


def worklists(server: Server, tokens: dict[int, str], expected: dict[int, int],
              in_process: WorklistInProcess) -> tuple[dict[int, list[float]], list[float]]:
    """GET /api/tasks for each clinic size and views.worklist in this process for the
    largest, alternating request by request."""
    clients = {size: httpx.Client(base_url=server.url, timeout=60,
                                  headers={"Authorization": f"Bearer {token}"})
               for size, token in tokens.items()}

    def one(size: int) -> float:
        t0 = time.perf_counter()
        response = clients[size].get("/api/tasks")
        elapsed = time.perf_counter() - t0
        body = response.json()
        counted = (min(expected[size], COUNT_LIMIT), expected[size] > COUNT_LIMIT)
        if response.status_code != 200 or (body["count"], body["count_capped"]) != counted \
                or len(body["data"]) != min(100, expected[size]):
            raise BenchError(f"worklist: {response.status_code}, count "
                             f"{body.get('count')} (expected {expected[size]}, counted up to "
                             f"{COUNT_LIMIT})")
        return elapsed

    try:
        for _ in range(10):
            for size in clients:
                one(size)
            in_process()
        gc.collect()
        out: dict[int, list[float]] = {size: [] for size in clients}
        local: list[float] = []
        deadline = time.perf_counter() + WORKLIST_BUDGET_S
        while len(local) < WORKLIST_SAMPLES and time.perf_counter() < deadline:
            for size in clients:
                out[size].append(one(size))
            local.append(in_process())
        return out, local
    finally:
        for client in clients.values():
            client.close()


def login(server: Server, username: str, password: str) -> str:
    response = httpx.post(f"{server.url}/api/auth/token",
                          json={"username": username, "password": password}, timeout=60)
    if response.status_code != 200:
        raise BenchError(f"login {username}: {response.status_code} {response.text[:200]}")
    token: str = response.json()["access_token"]
    return token
