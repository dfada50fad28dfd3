"""What counts as improvement: function (the disability index) and the patient's own goals
(PSFS) decide, pain supports (domain.md section 2.9), as pathway.toml says; a clinic may
choose otherwise, but only among the measures there are."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pathways.instruments import MeasureChoiceError, improvement_summary
from pathways.models import PathwayModel, validate_paths
from pathways.sandbox import Sandbox, SandboxError, freeze
from pathways.script_helpers import HELPERS

from .conftest import BETTERBACK_DIR

BASELINE = {"pain": 6, "disability": 40.0, "psfs": 3.0, "pseq": 30}
PAIN_ONLY_BETTER = {"pain": 3, "disability": 36.0, "psfs": 4.0, "pseq": 31}
GOALS_BETTER = {"pain": 6, "disability": 36.0, "psfs": 5.0, "pseq": 31}
# What the 6-week gateway will compute once it passes the pathway's settings.
GATEWAY = ("improvement_summary(baseline, follow_up, settings['improvement_primary_measures'], "
           "settings['improvement_supporting_measures'])")


def test_less_pain_alone_is_not_improvement() -> None:
    summary = improvement_summary(BASELINE, PAIN_ONLY_BETTER)
    assert summary["pain"] is True and summary["any_improved"] is True
    assert summary["primary_improved"] is False and summary["supporting_improved"] is True
    assert summary["primary_measures"] == ["disability", "psfs"]
    assert summary["supporting_measures"] == ["pain"]
    assert summary["primary_compared"] == 2


def test_a_patient_reaching_their_own_goals_has_improved_whatever_the_pain() -> None:
    summary = improvement_summary(BASELINE, GOALS_BETTER)
    assert summary["psfs"] is True and summary["pain"] is False
    assert summary["primary_improved"] is True and summary["supporting_improved"] is False


def test_with_no_primary_measure_on_both_sides_nothing_is_judged_improved() -> None:
    summary = improvement_summary({"pain": 6}, {"pain": 2})
    assert summary["primary_improved"] is False and summary["primary_compared"] == 0
    assert summary["any_improved"] is True


def test_the_reference_pathway_says_what_counts_and_models_can_pass_it(
        betterback: PathwayModel) -> None:
    settings = betterback.settings
    assert settings["improvement_primary_measures"] == ["disability", "psfs"]
    assert settings["improvement_supporting_measures"] == ["pain"]
    summary = Sandbox(HELPERS).evaluate(
        GATEWAY, {"baseline": BASELINE, "follow_up": PAIN_ONLY_BETTER},
        {"settings": freeze(settings)})
    assert summary["primary_improved"] is False
    assert summary["primary_measures"] == ["disability", "psfs"]


def test_a_clinic_may_count_other_measures() -> None:
    summary = improvement_summary(BASELINE, PAIN_ONLY_BETTER, primary=["pain"], supporting=[])
    assert summary["primary_improved"] is True and summary["supporting_measures"] == []


BAD_CHOICES: list[tuple[str, Any, Any, str]] = [
    ("an unknown measure", ["disability", "function"], ["pain"],
     r"^unknown primary improvement measure 'function'; the measures are pain, disability, "
     r"psfs, pseq$"),
    ("text instead of a list", "disability", ["pain"],
     r"^primary improvement measures must be a list of measure names, got 'disability'$"),
    ("a measure in both lists", ["disability", "pain"], ["pain"],
     r"^pain cannot be both a primary and a supporting measure of improvement$"),
    ("no primary measure", [], ["pain"], r"^improvement needs at least one primary measure"),
    ("a measure twice", ["psfs"], ["pain", "pain"],
     r"^supporting improvement measures name a measure twice"),
]


@pytest.mark.parametrize(("primary", "supporting", "message"),
                         [case[1:] for case in BAD_CHOICES], ids=[c[0] for c in BAD_CHOICES])
def test_a_choice_of_measures_that_cannot_be_used_is_refused(primary: Any, supporting: Any,
                                                             message: str) -> None:
    with pytest.raises(MeasureChoiceError, match=message):
        improvement_summary(BASELINE, GOALS_BETTER, primary, supporting)


def test_a_model_passing_an_unknown_measure_stops_with_the_reason() -> None:
    with pytest.raises(SandboxError, match="unknown primary improvement measure 'function'"):
        Sandbox(HELPERS).evaluate(
            GATEWAY, {"baseline": BASELINE, "follow_up": GOALS_BETTER},
            {"settings": freeze({"improvement_primary_measures": ["function"],
                                 "improvement_supporting_measures": ["pain"]})})


@pytest.mark.parametrize(("setting", "element", "message"), [
    ('improvement_primary_measures = ["disability", "function"]',
     "improvement_primary_measures", "unknown primary improvement measure 'function'"),
    ('improvement_supporting_measures = "pain"', "improvement_supporting_measures",
     "supporting improvement measures must be a list of measure names"),
    ('improvement_supporting_measures = ["psfs"]',
     "improvement_primary_measures, improvement_supporting_measures",
     "psfs cannot be both a primary and a supporting measure"),
], ids=["unknown measure", "text", "in both lists"])
def test_a_bundle_naming_measures_that_cannot_be_used_is_refused_at_deploy(
        tmp_path: Path, setting: str, element: str, message: str) -> None:
    bundle = shutil.copytree(BETTERBACK_DIR, tmp_path / "betterback")
    manifest = bundle / "pathway.toml"
    name = setting.split(" = ")[0]
    lines = [setting if line.startswith(f"{name} = ") else line
             for line in manifest.read_text().splitlines()]
    manifest.write_text("\n".join(lines) + "\n")
    [problem] = validate_paths([bundle])
    assert problem.file == str(bundle / "pathway.toml") and problem.element == element
    assert message in problem.message
