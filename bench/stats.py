"""What the benchmarks share: their error, sampling with a time budget, medians and p95,
and the Markdown table they print."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable

Row = tuple[str, str, str]
"""measure | value | note"""


class BenchError(Exception):
    """The pathway did not go where the benchmark expects: the numbers would mean nothing."""


def sample(fn: Callable[[], list[float]], count: int, budget_s: float,
           warmup: int = 10) -> list[list[float]]:
    """Run fn (which returns [total, phase...] seconds) warmup + count times, or until the
    budget is spent; returns the per-sample lists after warmup."""
    for _ in range(warmup):
        fn()
    gc.collect()
    results: list[list[float]] = []
    deadline = time.perf_counter() + budget_s
    while len(results) < count and time.perf_counter() < deadline:
        results.append(fn())
    return results


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def column(results: list[list[float]], index: int) -> list[float]:
    return [r[index] for r in results]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def kb(size: int) -> str:
    return f"{size:,} B ({size / 1024:.1f} KiB)"


def timing(results: list[list[float]]) -> str:
    totals = column(results, 0)
    return f"median {ms(statistics.median(totals))}, p95 {ms(p95(totals))}"


def phases(results: list[list[float]], names: tuple[str, ...]) -> str:
    parts = [f"{name} {ms(statistics.median(column(results, i + 1)))}"
             for i, name in enumerate(names)]
    return "phase medians: " + ", ".join(parts)


def us(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e6:.1f} µs, p95 {p95(values) * 1e6:.1f} µs"


def table(rows: list[Row]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| measure | value | note |", "|---|---|---|"]
    lines += [f"| {cell(m)} | {cell(v)} | {cell(n)} |" for m, v, n in rows]
    return "\n".join(lines)
