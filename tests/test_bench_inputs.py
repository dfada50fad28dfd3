"""The benchmarks drive the reference pathway with answers of their own: those answers must
still fit the model's forms, or a benchmark fails only when someone next runs it."""

from __future__ import annotations

from bench import engine as bench_engine
from bench.service_setup import FLARE
from pathways.forms import validate_submission
from pathways.models import PathwayModel


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
