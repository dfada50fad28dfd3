"""Tests for meaningful-change (MCID) checks and the improvement summary."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pathways.instruments import (
    InstrumentError,
    disability_improved,
    improvement_summary,
    pain_improved,
    pseq_improved,
    psfs_improved,
)

# --- Meaningful change (MCID) -----------------------------------------------------------

PAIN_CASES = [
    ("exactly 2 points improves", 5, 3, True),
    ("1 point does not", 5, 4, False),
    ("30% of 10 is 3; 3 points improves", 10, 7, True),
    ("1 point from 3 is 33%: improves", 3, 2, True),
    ("1 point from 4 is 25%: does not", 4, 3, False),
    ("no change", 6, 6, False),
    ("worse", 4, 7, False),
    ("baseline 0: only the points rule", 0, 0, False),
]


@pytest.mark.parametrize(
    ("baseline", "follow_up", "improved"),
    [case[1:] for case in PAIN_CASES],
    ids=[case[0] for case in PAIN_CASES],
)
def test_pain_mcid(baseline: int, follow_up: int, improved: bool) -> None:
    assert pain_improved(baseline, follow_up) is improved


def test_pain_mcid_thresholds_are_configurable() -> None:
    assert pain_improved(8, 6) is True
    assert pain_improved(8, 6, points=3, fraction=0.5) is False
    assert pain_improved(8, 4, points=3, fraction=0.5) is True


DISABILITY_MCID_CASES = [
    ("exactly 10 points improves", 50, 40, True),
    ("9 points of 50 does not", 50, 41, False),
    ("rounded scores 33.3 -> 23.3 is 10 points", 33.3, 23.3, True),
    ("30% of 20 is 6: improves", 20, 14, True),
    ("5 points of 20 is 25%: does not", 20, 15, False),
    ("worse", 20, 30, False),
]


@pytest.mark.parametrize(
    ("baseline", "follow_up", "improved"),
    [case[1:] for case in DISABILITY_MCID_CASES],
    ids=[case[0] for case in DISABILITY_MCID_CASES],
)
def test_disability_mcid(baseline: float, follow_up: float, improved: bool) -> None:
    assert disability_improved(baseline, follow_up) is improved


@pytest.mark.parametrize(
    ("baseline", "follow_up", "points", "improved"),
    [
        (3.0, 5.0, 2.0, True),
        (3.0, 4.9, 2.0, False),
        (3.33, 5.33, 2.0, True),
        (5.0, 3.0, 2.0, False),
        (4.0, 7.0, 3.0, True),
        (4.0, 6.0, 3.0, False),
    ],
    ids=[
        "2 points",
        "1.9 points",
        "2 points on rounded means",
        "worse",
        "single activity 3",
        "single activity 2",
    ],
)
def test_psfs_mcid(baseline: float, follow_up: float, points: float, improved: bool) -> None:
    assert psfs_improved(baseline, follow_up, points=points) is improved


@pytest.mark.parametrize(
    ("baseline", "follow_up", "improved"),
    [(20, 27, True), (20, 26, False), (53, 60, True), (30, 20, False)],
    ids=["7 points", "6 points", "to the top", "worse"],
)
def test_pseq_mcid(baseline: int, follow_up: int, improved: bool) -> None:
    assert pseq_improved(baseline, follow_up) is improved


TEXT_SEVEN: Any = "7"  # what a form might send instead of a number


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pain_improved(11, 3), r"^pain NRS change: baseline must be a number from 0 to 10"),
        (lambda: pain_improved(TEXT_SEVEN, 3), r"^pain NRS change: baseline .* got '7'"),
        (lambda: disability_improved(40, True), r"^disability index change: follow-up .* True"),
        (lambda: pseq_improved(20, 61), r"^PSEQ change: follow-up must be a number from 0 to 60"),
    ],
    ids=["pain above 10", "pain as text", "bool score", "PSEQ above 60"],
)
def test_mcid_rejects_bad_scores(call: Any, message: str) -> None:
    with pytest.raises(InstrumentError, match=message):
        call()


def test_improvement_summary_compares_what_both_sides_have() -> None:
    baseline = {"pain": 6, "disability": 40.0, "psfs": 3.0, "stratum": "high"}
    follow_up = {"pain": 5, "disability": 28.0, "pseq": 40}
    summary = improvement_summary(baseline, follow_up)
    assert summary == {
        "pain": False,
        "disability": True,
        "psfs": None,
        "pseq": None,
        "any_improved": True,
        "measures_compared": 2,
    }
    assert json.loads(json.dumps(summary)) == summary


def test_improvement_summary_with_nothing_to_compare() -> None:
    assert improvement_summary({"pain": None}, {}) == {
        "pain": None,
        "disability": None,
        "psfs": None,
        "pseq": None,
        "any_improved": False,
        "measures_compared": 0,
    }


def test_improvement_summary_none_improved() -> None:
    both = {"pain": 5, "disability": 30, "psfs": 5.0, "pseq": 30}
    summary = improvement_summary(both, both)
    assert summary["measures_compared"] == 4
    assert summary["any_improved"] is False
