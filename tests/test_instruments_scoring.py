"""Tests for questionnaire scoring: STarT Back strata, disability index, NRS, PSFS, PSEQ, FABQ."""

from __future__ import annotations

import pytest

from pathways.instruments import (
    InstrumentError,
    score_disability,
    score_fabq,
    score_pain_nrs,
    score_pseq,
    score_psfs,
    score_start_back,
    start_back_stratum,
)

from .instruments_support import all_items, start_back

# --- helpers -----------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("agree", "fear", "worry"),
    [(set(), False, False), ({5}, True, False), ({6}, False, True), ({1, 5, 6}, True, True),
     ({7, 8}, False, False)],
    ids=["neither", "fear item", "worry item", "both", "other psychosocial items"],
)
def test_start_back_says_whether_the_fear_and_worry_items_were_positive(
    agree: set[int], fear: bool, worry: bool
) -> None:
    result = score_start_back(start_back(agree, 0))
    assert (result.fear, result.worry) == (fear, worry)
    assert {"fear": fear, "worry": worry}.items() <= result.as_dict().items()


# --- Disability index (ODI structure) ----------------------------------------------------

DISABILITY_CASES = [
    ("all ten sections, no limitation", all_items("ODI", 10, 0), 0.0, 10),
    ("all ten sections at maximum", all_items("ODI", 10, 5), 100.0, 10),
    ("all ten sections at 2", all_items("ODI", 10, 2), 40.0, 10),
    ("sex-life section skipped", all_items("ODI", 10, 2) | {"ODI8": None}, 40.0, 9),
    ("three sections answered, unrounded", {"ODI1": 1, "ODI2": 2, "ODI3": 2}, 100 / 3, 3),
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
    ("mean unrounded", [1, 2, 2], 5 / 3, 3),
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
