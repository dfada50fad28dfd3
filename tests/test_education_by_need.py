"""Education follows need, not only stratum: a patient whose STarT Back fear or worry item is
positive gets the modules that address fear and worry, whatever their stratum (domain.md
section 1 item 4, section 2.7). The rule is data: each module's `also_for` front matter."""

from __future__ import annotations

from typing import Any

import pytest

from pathways.education import EducationError, default_catalogue
from pathways.sandbox import Sandbox
from pathways.script_helpers import HELPERS, education_modules_for

from .test_education import EXPECTED_BY_STRATUM

FEAR_AND_STRESS = ["fear-and-movement", "stress-and-worry"]


def scored(*agreed: int, bothersomeness: int = 0) -> dict[str, Any]:
    """STarT Back as a model keeps it: `score_start_back` of these items agreed."""
    answers = {f"SB{n}": int(n in agreed) for n in range(1, 9)} | {"SB9": bothersomeness}
    result: dict[str, Any] = HELPERS["score_start_back"](answers)
    return result


MEDIUM_WITH_FEAR = scored(1, 2, 3, 4, 5)
MEDIUM_WITH_NEITHER = scored(1, 2, 3, 4, 7)
LOW_WITH_WORRY = scored(6)
HIGH_WITH_BOTH = scored(5, 6, 7, 8)
HIGH_WITH_FEAR = scored(5, 7, 8, bothersomeness=4)
"""(High risk needs 4 of SB5-SB9, so always a positive fear or worry item.)"""


def test_the_examples_are_what_they_say() -> None:
    assert (MEDIUM_WITH_FEAR["stratum"], MEDIUM_WITH_FEAR["fear"],
            MEDIUM_WITH_FEAR["worry"]) == ("medium", True, False)
    assert (MEDIUM_WITH_NEITHER["stratum"], MEDIUM_WITH_NEITHER["fear"],
            MEDIUM_WITH_NEITHER["worry"]) == ("medium", False, False)
    assert (LOW_WITH_WORRY["stratum"], LOW_WITH_WORRY["worry"]) == ("low", True)
    assert HIGH_WITH_BOTH["stratum"] == HIGH_WITH_FEAR["stratum"] == "high"


def test_a_medium_risk_patient_whose_fear_item_is_positive_gets_the_fear_and_stress_modules(
) -> None:
    modules = education_modules_for("medium", MEDIUM_WITH_FEAR)
    assert set(FEAR_AND_STRESS) <= set(modules)
    # In reading order: after the basics, before the modules on sleep, pacing and work.
    assert modules == [*EXPECTED_BY_STRATUM["medium"][:2], *FEAR_AND_STRESS,
                       *EXPECTED_BY_STRATUM["medium"][2:]]


def test_a_medium_risk_patient_without_a_positive_fear_or_worry_item_gets_neither() -> None:
    assert education_modules_for("medium", MEDIUM_WITH_NEITHER) == EXPECTED_BY_STRATUM["medium"]


def test_a_low_risk_patient_whose_worry_item_is_positive_gets_both_in_reading_order() -> None:
    assert education_modules_for("low", LOW_WITH_WORRY) == [
        "understanding-back-pain", "staying-active", *FEAR_AND_STRESS, "flare-up-plan"]


@pytest.mark.parametrize("result", [HIGH_WITH_BOTH, HIGH_WITH_FEAR], ids=["both", "fear"])
def test_a_high_risk_patient_gets_every_module_as_before(result: dict[str, Any]) -> None:
    assert education_modules_for("high", result) == EXPECTED_BY_STRATUM["high"]


@pytest.mark.parametrize("stratum", ["low", "medium", "high"])
def test_without_the_scored_start_back_the_modules_follow_the_stratum_alone(
        stratum: str) -> None:
    assert education_modules_for(stratum) == EXPECTED_BY_STRATUM[stratum]
    assert education_modules_for(stratum, None) == EXPECTED_BY_STRATUM[stratum]


def test_a_model_passes_the_scored_start_back_from_task_data() -> None:
    """What plan_care does: the helper, in the sandbox, on the data score_baseline left."""
    modules = Sandbox(HELPERS).evaluate("education_modules_for(stratum, start_back_result)", {
        "stratum": "medium", "start_back_result": MEDIUM_WITH_FEAR})
    assert modules == education_modules_for("medium", MEDIUM_WITH_FEAR)


def test_the_rule_is_in_the_modules_front_matter() -> None:
    catalogue = default_catalogue()
    assert {m.id: m.also_for for m in catalogue if m.also_for} == {
        "fear-and-movement": ("fear", "worry"), "stress-and-worry": ("fear", "worry")}
    assert [m.id for m in catalogue.for_patient("low", ["fear"])] == \
        education_modules_for("low", scored(5))


def test_an_unknown_concern_is_refused() -> None:
    with pytest.raises(EducationError, match="unknown concern"):
        default_catalogue().for_patient("low", ["anger"])
