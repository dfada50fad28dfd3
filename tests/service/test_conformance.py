"""An auditor reads how episodes driven through the API conform to their model: one episode
step by step, and a period counted per deviation; a clinician cannot; the command line
prints the same."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from service.audit.conformance import conformance_command

from .conftest import A, World, complete, follow_up_answers, refer, through_first_visit

URL = "/api/audit/conformance"


def test_an_auditor_reads_the_conformance_of_an_episode_driven_through_the_api(
        world: World) -> None:
    maja, episode = refer(world, "Maja", "maja")
    through_first_visit(world, maja, "low_start_back")
    world.clock.advance(timedelta(weeks=2))
    world.sweep()
    world.clock.advance(timedelta(days=5))  # the 2-week follow-up is due in 3 days
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))

    response = world.client("auditor").get(URL, params={"episode_id": episode})
    assert response.status_code == 200, response.text
    body = response.json()
    [result] = body["results"]
    assert result["episode_id"] == episode and result["completed"] is False
    assert result["path"] == ["red_flag_screen", "intake_questionnaires", "first_visit",
                              "follow_up_2w_timer", "follow_up_2w"]
    assert (result["status"], result["fits"]) == ("deviates", True)
    [late] = result["deviations"]
    assert (late["kind"], late["step"], late["position"]) == ("late", "follow_up_2w", 5)
    assert "2 days after it was due" in late["detail"]
    assert {c["kind"]: c["count"] for c in body["by_kind"]} == {
        "missing": 0, "unexpected": 0, "wrong_order": 0, "late": 1}

    # The period's summary counts it, and lists only the episodes that do not conform.
    lena, _ = refer(world, "Lena", "lena")
    complete(lena, "red_flag_screen", {"age": 30, "red_flags": A["no_red_flags"]})
    summary = world.client("auditor").get(URL).json()
    assert (summary["episodes"], summary["conforming"], summary["fitting"]) == (2, 1, 2)
    assert [r["episode_id"] for r in summary["results"]] == [episode]
    assert summary["by_step"] == [{"step": "follow_up_2w", "name":
                                   "Follow-up questionnaires (2 weeks)", "kind": "late",
                                   "count": 1}]


def test_a_clinician_cannot_read_conformance(world: World) -> None:
    _, episode = refer(world, "Maja", "maja")
    for params in ({"episode_id": episode}, {}):
        assert world.client("physio").get(URL, params=params).status_code == 403


def test_an_episode_that_does_not_exist_is_not_found(world: World) -> None:
    assert world.client("auditor").get(URL, params={"episode_id": 999}).status_code == 404


def test_the_command_line_prints_a_table_or_json_and_fails_in_one_line(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    maja, episode = refer(world, "Maja", "maja")
    through_first_visit(world, maja, "medium_start_back")
    assert conformance_command(world.db, world.settings, episode, "json") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["results"][0]["status"] == "conforms"
    assert conformance_command(world.db, world.settings, None, "table") == 0
    out = capsys.readouterr().out
    assert "1 episode(s), 1 conform" in out and "wrong_order" in out
    assert conformance_command(world.db, world.settings, 999, "table") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no episode 999" in err
