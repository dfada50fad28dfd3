"""Completing tasks over HTTP with light clients (they share the machine with the server):
one stdlib connection for latency, bench/load.py's asyncio generator for throughput."""

from __future__ import annotations

import gc
import http.client
import json
import time
from dataclasses import dataclass
from typing import Any

from bench.load import Request, run_load
from bench.server_timing import HEADER, app_seconds
from bench.service_setup import Patients, Server
from bench.stats import BenchError


@dataclass
class Completions:
    latencies: list[float]
    elapsed: float
    server_cpu: float | None
    errors: list[str]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


COMPLETED_MARKER = b'"exercise_week_completed"'
"""Every completion answer must list this event (the weekly check-in completes the week)."""


@dataclass(frozen=True)
class RoundTrip:
    """One request's time at the client, and the app's own share of it (Server-Timing,
    bench/server_timing.py): what is left is loopback, uvicorn and the client."""

    seconds: float
    app_seconds: float


def complete_http(conn: http.client.HTTPConnection, task_id: str, token: str,
                  body: bytes) -> RoundTrip:
    """One completion on a kept-alive stdlib connection (a light client: it shares the
    machine with the server)."""
    trip, answer = _timed(conn, "POST", f"/api/tasks/{task_id}/complete", body,
                          {"Authorization": f"Bearer {token}",
                           "Content-Type": "application/json"})
    if COMPLETED_MARKER not in answer:
        raise BenchError(f"complete {task_id} did not complete the week: {answer[:300]!r}")
    return trip


def health_http(conn: http.client.HTTPConnection) -> RoundTrip:
    """One GET /healthz on the same kind of connection: an HTTP round trip with no work."""
    return _timed(conn, "GET", "/healthz", None, {})[0]


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
           headers: dict[str, str]) -> tuple[RoundTrip, bytes]:
    """The round trip's times and the answer, which must be a 200 from the benchmark's
    server (it says how long its app took)."""
    t0 = time.perf_counter()
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - t0
    if response.status != 200:
        raise BenchError(f"{method} {path}: {response.status} {answer[:300]!r}")
    app = app_seconds(response.getheader(HEADER))
    if app is None:
        raise BenchError(f"{method} {path}: no Server-Timing from the benchmark's server")
    return RoundTrip(elapsed, app), answer


def connection(server: Server) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60)


def body_of(data: dict[str, Any]) -> bytes:
    return json.dumps({"data": data}).encode()


def sequential(server: Server, patients: Patients, data: dict[str, Any],
               count: int) -> list[float]:
    conn = connection(server)
    try:
        return [complete_http(conn, task_id, token, body_of(data)).seconds
                for task_id, token in patients.take(count)]
    finally:
        conn.close()


def concurrent(server: Server, patients: Patients, data: dict[str, Any], clients: int,
               window_s: float, per_client: int) -> Completions:
    """`clients` kept-alive connections completing tasks as fast as answers come, for a
    window; the load generator is one asyncio thread (bench/load.py)."""
    body = body_of(data)
    work = [[Request("POST", f"/api/tasks/{task_id}/complete", token, body)
             for task_id, token in patients.take(per_client)] for _ in range(clients)]
    host, port = server.url.removeprefix("http://").split(":")
    gc.collect()
    cpu0 = server.cpu_seconds()
    result = run_load(host, int(port), work, COMPLETED_MARKER, window_s)
    cpu1 = server.cpu_seconds()
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return Completions(result.latencies, result.elapsed, cpu, result.errors)
