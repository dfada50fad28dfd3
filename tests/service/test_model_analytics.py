"""A manager sees where a version's patients wait: per step the episodes waiting now and the
hours from ready to done, per gateway the paths taken, outcomes by stratum; as a page with
the diagram, as JSON and as CSV, from the event log of patients driven through the pathway.
An episode moved to another version counts on the version it is on, under each step's id."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from .conftest import World, complete, follow_up_answers, refer, soup, through_first_visit
from .test_model_migration import FOUR_WEEKS, SIX_WEEKS, deploy_edit

DAY = timedelta(days=1)


def steps(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["element"]: s for s in body["steps"]}


def branches(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(b["gateway"], b["target"]): b["taken"] for b in body["branches"]}


def three_patients(world: World) -> None:
    """Maja and Olle through the first visit (low risk) and the 2-week timer, Maja through
    her 2-week follow-up; Nils referred only."""
    maja, _ = refer(world, "Maja Lind", "maja")
    olle, _ = refer(world, "Olle Berg", "olle")
    refer(world, "Nils Ek", "nils")
    for client in (maja, olle):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2) + DAY)
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))


def test_the_waiting_times_and_paths_match_what_the_patients_did(world: World) -> None:
    three_patients(world)
    manager = world.client("manager")
    response = manager.get("/api/models/1/analytics")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["episodes"] == 3 and body["migrated"] == 0 and body["estimated"] == 0
    by_step = steps(body)
    assert by_step["red_flag_screen"]["waiting"] == 1  # Nils
    assert by_step["red_flag_screen"]["completed"] == 2
    assert by_step["follow_up_2w"]["waiting"] == 1  # Olle
    assert by_step["follow_up_2w"]["completed"] == 1
    assert by_step["follow_up_2w"]["median_hours"] == 0  # done as soon as it was ready
    timer = by_step["follow_up_2w_timer"]  # from the first visit to the sweep that fired it
    assert timer["completed"] == 2 and timer["waiting"] == 0
    assert timer["median_hours"] == timer["p90_hours"] == 15 * 24
    taken = branches(body)
    assert taken[("screen_route_gate", "note_risk_factors")] == 2
    assert ("fu2_route_gate", "prepare_follow_up_6w") not in taken  # until the 6-week step

    page = manager.get("/models/1/analytics")
    assert page.status_code == 200, page.text
    html = soup(page)
    rows = {tr["data-element"]: [td.get_text(strip=True) for td in tr.find_all("td")]
            for tr in html.select("#analytics-steps tbody tr")}
    assert rows["follow_up_2w"][:2] == ["1", "1"]
    island = json.loads(html.find("script", id="analytics-data").string)
    assert island["steps"]["follow_up_2w_timer"]["median_hours"] == 360
    assert html.find(attrs={"data-heat": "analytics-data"}) is not None
    assert html.find("a", href="/models/1/analytics") is None  # the library links it
    assert soup(manager.get("/models")).find("a", href="/models/1/analytics") is not None

    exported = manager.get("/api/models/1/analytics.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    step_row = next(r for r in table if r[:2] == ["step", "follow_up_2w_timer"])
    assert step_row[5:9] == ["0", "2", "360", "360"]
    branch_row = next(r for r in table if r[:2] == ["branch", "screen_route_gate"])
    assert branch_row[3] == "note_risk_factors" and branch_row[9:] == ["2", "1.0"]
    episodes = {r[1]: r[2] for r in table if r and r[0] == "outcome"}
    assert episodes == {"low": "2", "none": "1"}  # Nils has no stratum before his intake


def test_the_period_and_the_clinic_choose_the_episodes(world: World) -> None:
    three_patients(world)
    manager = world.client("manager")
    today = world.clock.now().date()
    started = str(today - timedelta(weeks=2) - DAY)
    later = manager.get("/api/models/1/analytics", params={"start": str(today)})
    assert later.status_code == 200 and later.json()["episodes"] == 0
    north, south = world.clinics["north"], world.clinics["south"]
    for clinic, episodes in ((north, 3), (south, 0)):
        body = manager.get("/api/models/1/analytics",
                           params={"start": started, "end": started, "clinic_id": clinic}).json()
        assert body["episodes"] == episodes, (clinic, body)
    wrong = manager.get("/api/models/1/analytics", params={"start": str(today),
                                                          "end": str(today - DAY * 30)})
    assert wrong.status_code == 422, wrong.text
    assert manager.get("/api/models/99/analytics").status_code == 404


def test_an_episode_moved_to_another_version_counts_its_steps_there(world: World) -> None:
    maja, maja_id = refer(world, "Maja Lind", "maja")
    through_first_visit(world, maja, "low_start_back")
    world.clock.advance(timedelta(weeks=2) + DAY)
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))
    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    manager = world.client("manager")
    moved = manager.post("/api/models/migrations",
                         json={"to_version": version, "episodes": [maja_id], "dry_run": False})
    assert moved.status_code == 200 and moved.json()["moved"] == 1, moved.text

    before = manager.get(f"/api/models/{version}/analytics").json()
    assert before["episodes"] == 1 and before["migrated"] == 1
    by_step = steps(before)
    assert by_step["follow_up_2w"]["completed"] == 1  # done on version 1, counted here
    assert by_step["follow_up_6w_timer"]["waiting"] == 1
    assert manager.get("/api/models/1/analytics").json()["episodes"] == 0

    world.clock.advance(timedelta(weeks=2))  # the restarted timer: due 4 weeks after care
    world.sweep()
    complete(world.client("maja"), "follow_up_6w", follow_up_answers("improved_proms"))
    manager = world.client("manager")  # logged in again: two weeks have passed
    after = steps(manager.get(f"/api/models/{version}/analytics").json())
    timer = after["follow_up_6w_timer"]
    assert timer["completed"] == 1 and timer["waiting"] == 0
    # Ready from the migration (the timer restarted there) to the sweep that fired it.
    assert timer["median_hours"] == 14 * 24
    assert after["follow_up_6w"]["completed"] == 1


def test_physiotherapists_and_patients_may_not_see_the_analytics(world: World) -> None:
    refer(world, "Maja Lind", "maja")
    for who in ("physio", "maja"):
        client = world.client(who)
        for url in ("/api/models/1/analytics", "/api/models/1/analytics.csv"):
            assert client.get(url).status_code == 403, (who, url)
