"""The benchmarks drive the reference pathway with answers of their own: those answers must
still fit the model's forms, or a benchmark fails only when someone next runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import engine as bench_engine
from bench import raw_spiff, scale, timers
from bench.service_setup import FLARE
from pathways.forms import validate_submission
from pathways.models import PathwayModel

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_benchmark_runs_twelve_weeks_with_its_answers(
        betterback: PathwayModel) -> None:
    answers = bench_engine.load_answers()
    _, clock, instance = bench_engine.week_zero(betterback, answers)
    events = []
    for _ in range(12):
        events += bench_engine.run_week(instance, clock, answers)
    weeks = [e.data["programme_week"] for e in events if e.name == "exercise_week_completed"]
    assert weeks == list(range(1, 13))
    assert [e.data["follow_up_week"] for e in events if e.name == "follow_up_completed"] == [
        2, 6, 12]


def test_the_service_benchmarks_flare_fits_the_check_in_form(betterback: PathwayModel) -> None:
    validate_submission("weekly_check_in", betterback.forms["weekly_check_in"], FLARE)


def test_the_scale_benchmark_seeds_a_clinic_and_checks_every_worklist_filter() -> None:
    # A process of its own, as `python -m bench.scale` runs: its load generator starts an
    # event loop, which a browser test earlier in this process may still hold.
    printed = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--sizes", "40,80", "--samples", "1",
         "--load-seconds", "0.5"], cwd=ROOT, capture_output=True, text=True, check=True,
        timeout=300).stdout
    for request in scale.REQUESTS:
        assert f"| {request.label} |" in printed
    assert "80: median / p95" in printed and "peak RSS" in printed


def test_the_timer_benchmark_fires_every_timer_once_with_two_workers(
        capsys: pytest.CaptureFixture[str]) -> None:
    timers.main(["--timers", "30"])
    printed = capsys.readouterr().out
    assert "| 30 due timers, 2 workers (sqlite) |" in printed
    assert "| fired more than once (sqlite) | 0 |" in printed


def test_the_raw_spiffworkflow_reference_with_the_spec_apart_completes_the_week(
        betterback: PathwayModel) -> None:
    answers = bench_engine.load_answers()
    engine, clock, instance = bench_engine.week_zero(betterback, answers)
    clock.advance(bench_engine.WEEK)
    instance.fire_due_timers()
    serializer = raw_spiff.raw_serializer()
    embedded = serializer.serialize_json(instance.workflow)
    state, spec = raw_spiff.split_spec(embedded)
    with raw_spiff.bound(clock, instance.settings):
        out, _ = raw_spiff.raw_step_spec_apart(serializer, state, spec, engine.script_engine,
                                               answers.by_task["weekly_check_in"])
    assert len(state) < len(embedded) / 3 and '"spec"' not in out
    finished = serializer.from_dict({**json.loads(out), **json.loads(spec)})
    assert raw_spiff.ready_named(finished, "weekly_check_in") is None
