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
from pathways.script_helpers import improvement_summary as model_improvement_summary
from pathways.script_helpers import prom_scores

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
    ("100/3 -> 70/3 is 10 points", 100 / 3, 70 / 3, True),
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
        (5 / 3, 11 / 3, 2.0, True),
        (5.0, 3.0, 2.0, False),
        (4.0, 7.0, 3.0, True),
        (4.0, 6.0, 3.0, False),
    ],
    ids=[
        "2 points",
        "1.9 points",
        "2 points on means of thirds",
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
        "primary_measures": ["disability", "psfs"],
        "supporting_measures": ["pain"],
        "primary_improved": True,
        "supporting_improved": False,
        "primary_compared": 1,
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
        "primary_measures": ["disability", "psfs"],
        "supporting_measures": ["pain"],
        "primary_improved": False,
        "supporting_improved": False,
        "primary_compared": 0,
    }


def test_improvement_summary_none_improved() -> None:
    both = {"pain": 5, "disability": 30, "psfs": 5.0, "pseq": 30}
    summary = improvement_summary(both, both)
    assert summary["measures_compared"] == 4
    assert summary["any_improved"] is False


# --- At the threshold, from answers to the verdict --------------------------------------
# Through prom_scores and improvement_summary, the helpers the model calls after a
# follow-up, so scores are compared exactly as they are scored: unrounded.


def disability_answers(sections: int, total: int) -> dict[str, int]:
    """`sections` answered sections (from ODI1) adding up to `total`, each 0-5."""
    assert 0 <= total <= 5 * sections
    return {f"ODI{n}": min(5, max(0, total - 5 * (n - 1))) for n in range(1, sections + 1)}


def verdict(measure: str, baseline: dict[str, Any], follow_up: dict[str, Any]) -> Any:
    return model_improvement_summary(prom_scores(baseline), prom_scores(follow_up))[measure]


DISABILITY_AT_THE_THRESHOLD = [
    # sections answered, sum of answers at baseline and at follow-up
    ("7 sections: 10 -> 7 is a 30% drop", 7, 10, 7, True),
    ("8 sections: 10 -> 7 is a 30% drop", 8, 10, 7, True),
    ("9 sections: 10 -> 7 is a 30% drop (rounded, 22.2 -> 15.6 was 29.7%)", 9, 10, 7, True),
    ("10 sections: 10 -> 7 is a 30% drop", 10, 10, 7, True),
    ("6 sections: 7 -> 4 is 10 points (9.999999999999998 in floats)", 6, 7, 4, True),
    ("6 sections: 11 -> 8 is 10 points", 6, 11, 8, True),
    ("10 sections: 14 -> 10 is 28.6% and 8 points: not yet", 10, 14, 10, False),
    ("9 sections: 10 -> 8 is 20%: not yet", 9, 10, 8, False),
]


@pytest.mark.parametrize(
    ("sections", "before", "after", "improved"),
    [case[1:] for case in DISABILITY_AT_THE_THRESHOLD],
    ids=[case[0] for case in DISABILITY_AT_THE_THRESHOLD],
)
def test_disability_mcid_at_the_threshold_counts(sections: int, before: int, after: int,
                                                 improved: bool) -> None:
    assert verdict("disability", {"disability": disability_answers(sections, before)},
                   {"disability": disability_answers(sections, after)}) is improved


@pytest.mark.parametrize(
    ("before", "after", "improved"),
    [(10, 7, True), (3, 2, True), (4, 3, False), (7, 6, False)],
    ids=["30% of 10 -> 7", "1 point from 3 is 33%", "1 point from 4 is 25%",
         "1 point from 7 is 14%"],
)
def test_pain_mcid_at_the_threshold_counts(before: int, after: int, improved: bool) -> None:
    assert verdict("pain", {"pain_nrs": before}, {"pain_nrs": after}) is improved


@pytest.mark.parametrize(
    ("before", "after", "improved"),
    [([1, 2, 2], [3, 4, 4], True), ([0, 1, 1, 1, 1], [2, 3, 3, 3, 3], True),
     ([1, 2, 2], [3, 4, 3.5], False)],
    ids=["3 activities: 5/3 -> 11/3 is 2 points", "5 activities: 0.8 -> 2.8 is 2 points",
         "3 activities: 1.83 points"],
)
def test_psfs_mcid_at_the_threshold_counts(before: list[float], after: list[float],
                                           improved: bool) -> None:
    def psfs(ratings: list[float]) -> dict[str, Any]:
        return {"psfs": {f"PSFS{n}": r for n, r in enumerate(ratings, 1)}}

    assert verdict("psfs", psfs(before), psfs(after)) is improved


def test_scores_reach_the_model_unrounded() -> None:
    scores = prom_scores({"disability": disability_answers(9, 10),
                          "psfs": {"PSFS1": 1, "PSFS2": 2, "PSFS3": 2}})
    assert scores["disability"] == 100 * 10 / 45
    assert scores["psfs"] == 5 / 3


def test_the_tolerance_absorbs_float_error_not_rounding() -> None:
    """Scores as they were once rounded (22.2 -> 15.6) miss the 30% they reach unrounded:
    the tolerance is for binary floating point only, so nothing may round before comparing."""
    assert disability_improved(100 * 10 / 45, 100 * 7 / 45) is True
    assert disability_improved(22.2, 15.6) is False
