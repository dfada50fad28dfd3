"""The reference pathway, case by case (bpmn/betterback/cases.yaml): every stratum, each
red-flag route, progression and regression, not improving at 6 weeks, full discharge; with a
save/restore round trip after every step."""

from __future__ import annotations

from typing import Any

import pytest

from pathways.cases import expand_steps, load_cases, run_case
from pathways.models import PathwayModel

from .conftest import BETTERBACK_DIR

CASES = load_cases(BETTERBACK_DIR)


def test_the_cases_cover_every_stratum_and_red_flag_route() -> None:
    text = (BETTERBACK_DIR / "cases.yaml").read_text()
    for needle in ("stratum: low", "stratum: medium", "stratum: high", "outcome: emergency",
                   "outcome: urgent", "progression: regress_alert", "progression: progress",
                   "progression: hold_alert", "hold_signal", "risk_factor_noted",
                   "specialist_answer", "combined_programme_session", "repeat: 5",
                   "specialist_referral", "episode_discharged"):
        assert needle in text


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pathway_case(case: dict[str, Any], betterback: PathwayModel) -> None:
    steps = list(run_case(betterback, case))
    for step in steps:
        assert not step.problems, f"step {step.number} ({step.action}): {step.problems}"
    assert len(steps) == len(expand_steps(case["steps"])) + 1
