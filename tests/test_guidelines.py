"""NICE NG59 'do not offer' warnings for a first visit."""

from __future__ import annotations

from typing import Any

import pytest

from pathways.guidelines import first_visit_warnings


@pytest.mark.parametrize(("answers", "red_flag", "expected"), [
    ({"treatments": ["exercise", "education"], "medication": [], "imaging": "none"}, False, []),
    ({"treatments": ["tens", "exercise"]}, False, ["not to offer TENS"]),
    ({"medication": ["opioid_chronic"]}, False, ["opioids for chronic"]),
    ({"treatments": ["manual_therapy"]}, False, ["manual therapy only together with exercise"]),
    ({"treatments": ["manual_therapy", "exercise"]}, False, []),
    ({"imaging": "mri"}, False, ["no imaging without suspected serious pathology"]),
    ({"imaging": "mri"}, True, []),
])
def test_first_visit_warnings_follow_nice_ng59(answers: dict[str, Any], red_flag: bool,
                                               expected: list[str]) -> None:
    warnings = first_visit_warnings(answers, red_flag)
    assert len(warnings) == len(expected)
    for text, warning in zip(expected, warnings, strict=True):
        assert text in warning
