"""The what-if simulator (pathways.simulate): a cohort through two models in memory, and the
synthetic patients `python -m bench.simulate` runs, whose answers must fit the model."""

from __future__ import annotations

from pathlib import Path

from pathways.models import read_bundle_dir
from pathways.simulate import (
    AnswerScript,
    SimulationSettings,
    run_cohort,
    scripts_from_cases,
    synthetic_cohort,
)
from tests.service.test_model_whatif import edited

from .conftest import BETTERBACK_DIR

PI_FOR_MEDIUM = (("stratum == 'high'</", "stratum in ('medium', 'high')</"),
                 ("stratum != 'high'</", "stratum == 'low'</"))
"""The pi_gate's two conditions, rewritten: medium risk joins high risk in the sessions."""


def test_psychologically_informed_sessions_for_medium_risk_add_the_physiotherapists_work(
        tmp_path: Path) -> None:
    """Hand-computed: 2 medium-risk, 1 high-risk and 1 low-risk patient of cases.yaml. Each
    medium-risk patient gets pi_sessions (4) sessions more, all in the first week (each done
    a day after it is ready, one after the other, from the day after the first visit)."""
    pool = {s.stratum: s for s in reversed(scripts_from_cases(BETTERBACK_DIR))}
    cohort: list[AnswerScript] = [pool["medium"], pool["medium"], pool["high"], pool["low"]]
    draft = edited(tmp_path, "betterback.bpmn", *PI_FOR_MEDIUM)
    found = run_cohort({"deployed": read_bundle_dir(BETTERBACK_DIR),
                        "draft": read_bundle_dir(draft)}, cohort, workers=0)
    old, new = found["deployed"], found["draft"]
    assert new.total("physiotherapist") - old.total("physiotherapist") == 2 * 4
    assert sum(new.by_task["pi_session"]) == 3 * 4
    assert sum(old.by_task["pi_session"]) == 1 * 4
    weekly = [n - o for n, o in zip(new.by_role["physiotherapist"],
                                    old.by_role["physiotherapist"], strict=True)]
    assert weekly[0] == 8 and not any(weekly[1:])
    assert new.strata == old.strata == {"high": 1, "low": 1, "medium": 2}



def test_the_benchmarks_synthetic_patients_all_run_to_their_horizon() -> None:
    cohort = synthetic_cohort(scripts_from_cases(BETTERBACK_DIR), 20, seed=7)
    found = run_cohort({"reference": read_bundle_dir(BETTERBACK_DIR)}, cohort,
                       SimulationSettings(weeks=12), workers=0)["reference"]
    assert found.problems == {}
    assert found.patients == 20 and sum(found.strata.values()) == 20
    assert found.by_task["weekly_check_in"][3] > 0  # exercising patients check in weekly
