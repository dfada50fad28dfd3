"""Tests for questionnaire scoring, answer validation and meaningful-change checks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pathways.instruments import (
    INSTRUMENTS,
    SCORERS,
    InstrumentError,
    disability_improved,
    improvement_summary,
    pain_improved,
    pseq_improved,
    psfs_improved,
    score,
    score_disability,
    score_fabq,
    score_pain_nrs,
    score_pseq,
    score_psfs,
    score_start_back,
    start_back_stratum,
)

# --- helpers -----------------------------------------------------------------------------


def start_back(agree: set[int], bothersome: int) -> dict[str, object]:
    """STarT Back answers: items in ``agree`` (1-8) answered agree, SB9 = ``bothersome``."""
    answers: dict[str, object] = {f"SB{n}": int(n in agree) for n in range(1, 9)}
    answers["SB9"] = bothersome
    return answers


def all_items(prefix: str, count: int, value: object) -> dict[str, object]:
    return {f"{prefix}{n}": value for n in range(1, count + 1)}


def fabq(pa: list[int], work: list[int], unscored: int = 0) -> dict[str, object]:
    """FABQ answers: ``pa`` for items 2-5, ``work`` for items 6,7,9,10,11,12,15."""
    answers = all_items("FABQ", 16, unscored)
    answers.update({f"FABQ{n}": v for n, v in zip((2, 3, 4, 5), pa, strict=True)})
    answers.update({f"FABQ{n}": v for n, v in zip((6, 7, 9, 10, 11, 12, 15), work, strict=True)})
    return answers


# --- STarT Back --------------------------------------------------------------------------

# (why, physical items agreed 1-4, psychosocial items agreed 5-8, SB9, total, psych, stratum)
START_BACK_CASES = [
    ("nothing endorsed", set(), 0, 0, 0, "low"),
    ("total 3, psychosocial 3 is low", {5, 6, 7}, 0, 3, 3, "low"),
    ("total 3 from physical items is low", {1, 2, 3}, 0, 3, 0, "low"),
    ("total 4, psychosocial 3 is medium", {1, 5, 6, 7}, 0, 4, 3, "medium"),
    ("total 4, psychosocial 0 is medium", {1, 2, 3, 4}, 0, 4, 0, "medium"),
    ("total 8, psychosocial 3 is still medium", {1, 2, 3, 4, 5, 6}, 4, 7, 3, "medium"),
    ("psychosocial 4 is high even with total 4", {5, 6, 7, 8}, 0, 4, 4, "high"),
    ("psychosocial 4 via bothersomeness is high", {5, 6, 7}, 3, 4, 4, "high"),
    ("everything endorsed", set(range(1, 9)), 4, 9, 5, "high"),
]


@pytest.mark.parametrize(
    ("agree", "sb9", "total", "psychosocial", "stratum"),
    [case[1:] for case in START_BACK_CASES],
    ids=[case[0] for case in START_BACK_CASES],
)
def test_start_back_strata(
    agree: set[int], sb9: int, total: int, psychosocial: int, stratum: str
) -> None:
    result = score_start_back(start_back(agree, sb9))
    assert (result.total, result.psychosocial, result.stratum) == (total, psychosocial, stratum)


@pytest.mark.parametrize(
    ("total", "psychosocial", "stratum"),
    [
        (0, 0, "low"),
        (3, 3, "low"),
        (4, 3, "medium"),
        (9, 3, "medium"),
        (4, 4, "high"),
        (5, 5, "high"),
    ],
)
def test_start_back_stratum_rule_order(total: int, psychosocial: int, stratum: str) -> None:
    assert start_back_stratum(total, psychosocial) == stratum


@pytest.mark.parametrize(
    ("bothersomeness", "points"),
    [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)],
    ids=["not at all", "slightly", "moderately", "very much", "extremely"],
)
def test_sb9_scores_only_very_much_or_extremely(bothersomeness: int, points: int) -> None:
    result = score_start_back(start_back(set(), bothersomeness))
    assert result.total == points
    assert result.psychosocial == points


def test_start_back_accepts_true_false_for_agree_items() -> None:
    answers = {f"SB{n}": n in {1, 5} for n in range(1, 9)} | {"SB9": 0}
    assert score_start_back(answers).total == 2


# --- Disability index (ODI structure) ----------------------------------------------------

DISABILITY_CASES = [
    ("all ten sections, no limitation", all_items("ODI", 10, 0), 0.0, 10),
    ("all ten sections at maximum", all_items("ODI", 10, 5), 100.0, 10),
    ("all ten sections at 2", all_items("ODI", 10, 2), 40.0, 10),
    ("sex-life section skipped", all_items("ODI", 10, 2) | {"ODI8": None}, 40.0, 9),
    ("three sections answered", {"ODI1": 1, "ODI2": 2, "ODI3": 2}, 33.3, 3),
    ("one section answered", {"ODI5": 4}, 80.0, 1),
]


@pytest.mark.parametrize(
    ("answers", "expected_score", "sections"),
    [case[1:] for case in DISABILITY_CASES],
    ids=[case[0] for case in DISABILITY_CASES],
)
def test_disability_scores_over_answered_sections(
    answers: dict[str, object], expected_score: float, sections: int
) -> None:
    result = score_disability(answers)
    assert result.score == expected_score
    assert result.sections_answered == sections


def test_disability_minimum_sections_is_configurable() -> None:
    answers = {"ODI1": 3, "ODI2": 3}
    assert score_disability(answers, min_sections=2).sections_answered == 2
    with pytest.raises(InstrumentError, match=r"2 of 10 items answered; answer at least 8"):
        score_disability(answers, min_sections=8)


def test_disability_with_nothing_answered_is_an_error() -> None:
    with pytest.raises(InstrumentError, match=r"0 of 10 items answered; answer at least 1"):
        score_disability({"ODI1": None})


# --- Pain NRS, PSFS, PSEQ ----------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 4, 10])
def test_pain_nrs(value: int) -> None:
    assert score_pain_nrs({"NRS": value}).score == value


PSFS_CASES = [
    ("three activities", [4, 5, 6], 5.0, 3),
    ("five activities", [1, 2, 3, 4, 5], 3.0, 5),
    ("mean rounded to 2 decimals", [1, 2, 2], 1.67, 3),
    ("half points allowed", [2.5, 3.5, 4.0, 6], 4.0, 4),
]


@pytest.mark.parametrize(
    ("ratings", "mean", "activities"),
    [case[1:] for case in PSFS_CASES],
    ids=[case[0] for case in PSFS_CASES],
)
def test_psfs_is_the_mean_of_chosen_activities(
    ratings: list[float], mean: float, activities: int
) -> None:
    answers = {f"PSFS{n}": r for n, r in enumerate(ratings, start=1)}
    result = score_psfs(answers)
    assert (result.score, result.activities) == (mean, activities)


def test_psfs_needs_at_least_three_activities() -> None:
    with pytest.raises(InstrumentError, match=r"^PSFS: 2 of 5 items answered; answer at least 3"):
        score_psfs({"PSFS1": 5, "PSFS2": 6, "PSFS3": None})


@pytest.mark.parametrize(("value", "total"), [(0, 0), (3, 30), (6, 60)])
def test_pseq_total(value: int, total: int) -> None:
    assert score_pseq(all_items("PSEQ", 10, value)).total == total


# --- FABQ --------------------------------------------------------------------------------


def test_fabq_subscales_use_only_their_items() -> None:
    # Unscored items 1, 8, 13, 14, 16 at the maximum must not change either subscale.
    result = score_fabq(fabq(pa=[1, 2, 3, 4], work=[1, 2, 3, 4, 5, 6, 0], unscored=6))
    assert (result.physical_activity, result.work) == (10, 21)


def test_fabq_subscale_maxima() -> None:
    result = score_fabq(all_items("FABQ", 16, 6))
    assert (result.physical_activity, result.work) == (24, 42)


FABQ_CUTOFF_CASES = [
    ("PA 14 is not elevated", [4, 4, 3, 3], [0] * 7, {}, (14, False, 0, False)),
    ("PA 15 is elevated", [4, 4, 4, 3], [0] * 7, {}, (15, True, 0, False)),
    ("work 29 is not elevated", [0] * 4, [5, 5, 5, 5, 5, 4, 0], {}, (0, False, 29, False)),
    ("work 30 is elevated", [0] * 4, [5, 5, 5, 5, 5, 5, 0], {}, (0, False, 30, True)),
    ("clinic PA cut-off 10", [3, 3, 3, 2], [0] * 7, {"pa_cutoff": 10}, (11, True, 0, False)),
    ("clinic work cut-off 34", [0] * 4, [5] * 7, {"work_cutoff": 34}, (0, False, 35, True)),
]


@pytest.mark.parametrize(
    ("pa", "work", "cutoffs", "expected"),
    [case[1:] for case in FABQ_CUTOFF_CASES],
    ids=[case[0] for case in FABQ_CUTOFF_CASES],
)
def test_fabq_elevated_when_above_cutoff(
    pa: list[int], work: list[int], cutoffs: dict[str, int], expected: tuple[int, bool, int, bool]
) -> None:
    result = score_fabq(fabq(pa, work), **cutoffs)
    assert (
        result.physical_activity,
        result.physical_activity_elevated,
        result.work,
        result.work_elevated,
    ) == expected


# --- Errors: every kind, with the message checked -----------------------------------------

SB_OK = start_back(set(), 0)

ERROR_CASES: list[tuple[str, str, dict[str, object], str]] = [
    (
        "binary out of range",
        "start_back",
        SB_OK | {"SB3": 7},
        "STarT Back item SB3: expected 0 or 1, got 7",
    ),
    ("negative", "start_back", SB_OK | {"SB1": -1}, "STarT Back item SB1: expected 0 or 1, got -1"),
    (
        "bothersomeness out of range",
        "start_back",
        SB_OK | {"SB9": 5},
        "STarT Back item SB9: expected a whole number from 0 to 4, got 5",
    ),
    (
        "digit string",
        "start_back",
        SB_OK | {"SB2": "1"},
        "STarT Back item SB2: expected 0 or 1, got '1' (text); send the number itself",
    ),
    (
        "bool on a 0-4 item",
        "start_back",
        SB_OK | {"SB9": True},
        "STarT Back item SB9: expected a whole number from 0 to 4, got True (true/false is "
        "accepted only for 0/1 items)",
    ),
    (
        "float where whole numbers only",
        "pain_nrs",
        {"NRS": 7.5},
        "Pain NRS item NRS: expected a whole number from 0 to 10, got 7.5 (this item takes "
        "whole numbers only)",
    ),
    (
        "whole-valued float still rejected",
        "pseq",
        all_items("PSEQ", 10, 3) | {"PSEQ4": 3.0},
        "PSEQ item PSEQ4: expected a whole number from 0 to 6, got 3.0",
    ),
    (
        "other type",
        "pain_nrs",
        {"NRS": [5]},
        "Pain NRS item NRS: expected a whole number from 0 to 10, got [5] of type list",
    ),
    (
        "PSFS above 10",
        "psfs",
        {"PSFS1": 5, "PSFS2": 5, "PSFS3": 10.5},
        "PSFS item PSFS3: expected a number from 0 to 10, got 10.5",
    ),
    (
        "PSFS not a number",
        "psfs",
        {"PSFS1": 5, "PSFS2": 5, "PSFS3": float("nan")},
        "PSFS item PSFS3: expected a number from 0 to 10, got nan (not a finite number)",
    ),
    (
        "ODI section out of range",
        "disability",
        {"ODI4": 6},
        "Disability index (ODI structure) item ODI4: expected a whole number from 0 to 5, got 6",
    ),
    (
        "missing required item",
        "start_back",
        {k: v for k, v in SB_OK.items() if k != "SB4"},
        "STarT Back item SB4: answer is missing; expected 0 or 1",
    ),
    (
        "None for a required item",
        "fabq",
        all_items("FABQ", 16, 0) | {"FABQ16": None},
        "FABQ item FABQ16: answer is missing; expected a whole number from 0 to 6",
    ),
    (
        "unknown item",
        "start_back",
        SB_OK | {"SB10": 1},
        "STarT Back: unknown item 'SB10'; valid items are SB1 to SB9",
    ),
    (
        "unknown items listed",
        "pain_nrs",
        {"NRS": 3, "nrs": 3, "VAS": 30},
        "Pain NRS: unknown items 'nrs', 'VAS'; valid items are NRS",
    ),
]


@pytest.mark.parametrize(
    ("instrument_id", "answers", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_invalid_answers_explain_what_to_fix(
    instrument_id: str, answers: dict[str, object], message: str
) -> None:
    with pytest.raises(InstrumentError, match="^" + re.escape(message)):
        score(instrument_id, answers)


def test_error_carries_instrument_and_item() -> None:
    with pytest.raises(InstrumentError) as caught:
        score_start_back(SB_OK | {"SB3": 7})
    assert (caught.value.instrument, caught.value.item) == ("start_back", "SB3")
    assert isinstance(caught.value, ValueError)


def test_answers_must_be_a_mapping() -> None:
    bad: Any = [1, 0, 1]
    with pytest.raises(InstrumentError, match=r"^STarT Back: answers must be a mapping"):
        score_start_back(bad)


def test_unknown_instrument() -> None:
    with pytest.raises(InstrumentError, match=r"^unknown instrument 'odi'; known instruments"):
        score("odi", {})


# --- Registry, metadata, dispatch, JSON --------------------------------------------------


def test_registry_ids_and_dispatch_agree() -> None:
    expected = {"start_back", "disability", "pain_nrs", "psfs", "pseq", "fabq"}
    assert set(INSTRUMENTS) == expected == set(SCORERS)
    for key, instrument in INSTRUMENTS.items():
        assert instrument.id == key
        assert instrument.licence and instrument.scale_note
        assert all(item.label and item.min < item.max for item in instrument.items)


@pytest.mark.parametrize(
    ("instrument_id", "count"),
    [
        ("start_back", 9),
        ("disability", 10),
        ("pain_nrs", 1),
        ("psfs", 5),
        ("pseq", 10),
        ("fabq", 16),
    ],
)
def test_item_counts(instrument_id: str, count: int) -> None:
    assert len(INSTRUMENTS[instrument_id].items) == count


def test_licence_notes_say_what_the_domain_requires() -> None:
    assert "Keele" in INSTRUMENTS["start_back"].licence
    assert "without modification" in INSTRUMENTS["start_back"].licence
    assert "licensed" in INSTRUMENTS["disability"].licence
    assert "content pack" in INSTRUMENTS["disability"].licence
    assert "not included" in INSTRUMENTS["pseq"].licence
    assert "public domain" in INSTRUMENTS["pain_nrs"].licence
    assert "free" in INSTRUMENTS["psfs"].licence and "free" in INSTRUMENTS["fabq"].licence


VALID_ANSWERS: list[tuple[str, dict[str, object], dict[str, object]]] = [
    ("start_back", start_back({5, 6, 7}, 3), {"total": 4, "psychosocial": 4, "stratum": "high"}),
    ("disability", {"ODI1": 1, "ODI2": 2, "ODI3": 2}, {"score": 33.3, "sections_answered": 3}),
    ("pain_nrs", {"NRS": 6}, {"score": 6}),
    ("psfs", {"PSFS1": 4, "PSFS2": 5.5, "PSFS3": 6}, {"score": 5.17, "activities": 3}),
    ("pseq", all_items("PSEQ", 10, 2), {"total": 20}),
    (
        "fabq",
        all_items("FABQ", 16, 6),
        {
            "physical_activity": 24,
            "work": 42,
            "physical_activity_elevated": True,
            "work_elevated": True,
        },
    ),
]


@pytest.mark.parametrize(
    ("instrument_id", "answers", "expected"),
    VALID_ANSWERS,
    ids=[case[0] for case in VALID_ANSWERS],
)
def test_as_dict_is_plain_json(
    instrument_id: str, answers: dict[str, object], expected: dict[str, object]
) -> None:
    stored = score(instrument_id, answers).as_dict()
    assert stored == expected
    assert json.loads(json.dumps(stored)) == expected


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
