"""cProfile reports for `python -m bench.service --profile`: the top functions, and own time
per completion grouped by package."""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

from bench.completions import sequential
from bench.references import ServiceCall
from bench.service_setup import Patients, Setup, running_server
from bench.stats import ms


def profile_report(stats: pstats.Stats, title: str, count: int, top: int = 25) -> str:
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(top)
    groups: dict[str, float] = {}
    raw_stats: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw_stats.items():
        group = _group(filename, name)
        groups[group] = groups.get(group, 0.0) + tottime
    total = sum(groups.values()) or 1.0
    parts = [f"{name} {ms(value / count)} ({value / total:.0%})"
             for name, value in sorted(groups.items(), key=lambda kv: -kv[1])]
    return (f"### {title}: own time per completion by package (n={count})\n\n"
            + ", ".join(parts) + "\n\n```\n" + buffer.getvalue().strip() + "\n```\n")


_GROUPS = (("SpiffWorkflow", "SpiffWorkflow"), ("RestrictedPython", "RestrictedPython"),
           ("/pathways/", "pathways"), ("/service/", "service"), ("sqlmodel", "sqlmodel"),
           ("sqlalchemy", "sqlalchemy"), ("sqlite3", "sqlite3"), ("pydantic", "pydantic"),
           ("fastapi", "fastapi"), ("starlette", "starlette"), ("uvicorn", "uvicorn"),
           ("h11", "h11"), ("anyio", "anyio"), ("asyncio", "asyncio"), ("json", "json"),
           ("jsonschema", "jsonschema"), ("threading", "threading"))


def _group(filename: str, name: str) -> str:
    if "epoll" in name or "select" in name:
        return "waiting for I/O (idle)"
    if "sqlite3.Cursor" in name or "sqlite3.Connection" in name:
        return "sqlite3 (C)"
    if "acquire" in name or "wait" in name:
        return "waiting for a lock/thread"
    for needle, group in _GROUPS:
        if needle in filename:
            return group
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "other"


def print_profiles(s: Setup, patients: Patients, data: dict[str, Any], count: int) -> None:
    """cProfile of in-process completions, and of the server's event-loop thread."""
    call = ServiceCall(s, data)
    todo = patients.take(count)
    profiler = cProfile.Profile()
    profiler.enable()
    for task_id, token in todo:
        call(task_id, token)
    profiler.disable()
    call.stop_counting()
    print(profile_report(pstats.Stats(profiler),
                         "in-process completion (route, service, ORM, engine)",
                         count))
    path = s.tmp / "server.prof"
    with running_server(s, profile=path) as server:
        sequential(server, patients, data, count)
    print(profile_report(pstats.Stats(str(path)),
                         "server event-loop thread (uvicorn, starlette, FastAPI, and on "
                         "SQLite the route's unit of work too: it runs on the event loop)",
                         count))
