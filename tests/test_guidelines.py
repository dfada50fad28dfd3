"""NICE NG59 'do not offer' warnings for any record of treatment."""

from __future__ import annotations

from typing import Any

import pytest

from pathways.guidelines import treatment_warnings


@pytest.mark.parametrize(("answers", "red_flag", "expected"), [
    ({"treatments": ["exercise", "education"], "medication": [], "imaging": "none"}, False, []),
    ({"treatments": ["tens", "exercise"]}, False, ["not to offer TENS"]),
    ({"medication": ["opioid_chronic"]}, False, ["opioids for chronic"]),
    ({"treatments": ["manual_therapy"]}, False, ["manual therapy only together with exercise"]),
    ({"treatments": ["manual_therapy", "exercise"]}, False, []),
    ({"imaging": "mri"}, False, ["no imaging without suspected serious pathology"]),
    ({"imaging": "mri"}, True, []),
])
def test_treatment_warnings_follow_nice_ng59(answers: dict[str, Any], red_flag: bool,
                                               expected: list[str]) -> None:
    warnings = treatment_warnings(answers, red_flag)
    assert len(warnings) == len(expected)
    for text, warning in zip(expected, warnings, strict=True):
        assert text in warning


@pytest.mark.parametrize("treatment", ["manual_therapy", "massage", "psychological_therapy"])
def test_a_treatment_that_needs_exercise_is_fine_while_the_exercise_programme_runs(
        treatment: str) -> None:
    assert treatment_warnings({"treatments": [treatment]}, exercising=False)
    assert treatment_warnings({"treatments": [treatment]}, exercising=True) == []
