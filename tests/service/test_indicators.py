"""An auditor reads the guideline-adherence indicators of patients driven through the pathway.

Clinic north: Maja (medium risk, seen by physio) follows the pathway and logs her first
exercise session the day she is referred; Hugo (high risk, seen by physio2) had an MRI and
TENS at his first visit without education, two of his four psychologically informed
sessions, never exercises and never answers his 2-week follow-up; Lena has answered the
safety questions only. Clinic south: Sven (low risk). Six weeks after the referrals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from .conftest import (
    A,
    World,
    complete,
    find_task,
    follow_up_answers,
    make_world,
    refer,
    through_first_visit,
    week,
)
from .error_checks import error_of, saved_state

URL = "/api/audit/indicators"


@pytest.fixture(scope="module")
def six_weeks_on() -> Iterator[World]:
    with make_world() as world:
        maja, maja_episode = refer(world, "Maja", "maja")
        through_first_visit(world, maja, "medium_start_back")
        logged = maja.post(f"/api/episodes/{maja_episode}/exercise-logs", json={
            "exercise": "walking", "level": 1, "pain_nrs": 3, "difficulty": "about_right"})
        assert logged.status_code == 201, logged.text
        hugo, _ = refer(world, "Hugo", "hugo")
        complete(hugo, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
        complete(hugo, "intake_questionnaires",
                 {"start_back": A["high_start_back"], "proms": A["baseline_proms"]})
        physio2 = world.client("physio2")
        complete(physio2, "first_visit", {**A["first_visit"], "imaging": "mri",
                                          "treatments": ["exercise", "tens"],
                                          "education_given": []})
        for _ in range(2):
            complete(physio2, "pi_session",
                     {"session_topics": ["fear"], "treatments": ["education"]})
        lena, _ = refer(world, "Lena", "lena")
        complete(lena, "red_flag_screen", {"age": 30, "red_flags": A["no_red_flags"]})
        sven, _ = refer(world, "Sven", "sven", clinician="southphysio")
        through_first_visit(world, sven, "low_start_back", clinician="southphysio")
        for weeks, follow_up in ((2, "follow_up_2w"), (4, "follow_up_6w")):
            world.clock.advance(timedelta(weeks=weeks))
            world.sweep()
            complete(world.client("maja"), follow_up, follow_up_answers("improved_proms"))
        yield world


def tallies(indicators: list[dict[str, Any]]) -> dict[int, tuple[int, int, float | None]]:
    return {i["id"]: (i["numerator"], i["denominator"], i["rate"]) for i in indicators}


NORTH = {1: (2, 2, 1.0), 2: (2, 2, 1.0), 3: (1, 2, 0.5), 4: (1, 2, 0.5), 5: (0, 1, 0.0),
         6: (1, 2, 0.5), 7: (1, 2, 0.5), 8: (2, 2, 1.0), 9: (1, 2, 0.5),
         10: (0, 0, None), 11: (0, 0, None), 12: (1, 2, 0.5)}
"""Lena has had no treatment, so she is in no denominator; 12-week PROMs are not due yet."""


def test_an_auditor_reads_each_indicator_per_clinic_and_per_clinician(
        six_weeks_on: World) -> None:
    world = six_weeks_on
    response = world.client("auditor").get(URL, params={"clinic_id": world.clinics["north"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["start"], body["end"]) == ("2025-02-16", "2026-02-16")
    [north] = body["clinics"]
    assert (north["name"], north["episodes"]) == ("North Physio", 3)
    assert tallies(north["indicators"]) == NORTH
    assert all(i["available"] and i["note"] for i in north["indicators"])
    mcid = next(i for i in north["indicators"] if i["id"] == 11)
    assert [s["stratum"] for s in mcid["by_stratum"]] == ["low", "medium", "high"]
    physio, physio2 = north["clinicians"]
    assert (physio["name"], physio["episodes"]) == ("physio", 1)
    assert (physio2["name"], physio2["episodes"]) == ("physio2", 1)
    assert {k for k, (n, d, _) in tallies(physio["indicators"]).items() if n < d} == set()
    missed = {k for k, (n, d, _) in tallies(physio2["indicators"]).items() if n < d}
    assert missed == {3, 4, 5, 6, 7, 9, 12}


def test_an_auditor_reads_each_clinics_digital_engagement(six_weeks_on: World) -> None:
    """NICE HTE16: all three did their safety questions on the day of referral; Maja's logged
    session is the only first session; nobody was active between days 16 and 30; Maja
    answered her 6-week follow-up today, Hugo and Lena have done nothing for 42 days."""
    world = six_weeks_on
    body = world.client("auditor").get(URL, params={"clinic_id": world.clinics["north"]})
    engagement = body.json()["clinics"][0]["engagement"]
    assert engagement["episodes"] == 3
    assert {m["id"]: (m["numerator"], m["denominator"]) for m in engagement["measures"]} == {
        "active_at_enrolment": (3, 3), "first_session": (1, 2), "active_at_30_days": (0, 3),
        "active_at_6_months": (0, 0), "active_at_12_months": (0, 0)}
    assert {s["reason"]: s["episodes"] for s in engagement["stopped"]} == {
        "active": 1, "discharged": 0, "completed": 0, "left_for_red_flag": 0,
        "disengaged": 2}
    assert all(m["name"] for m in engagement["measures"])


def breaches(world: World, indicator: int, clinic: str | None = None) -> list[Any]:
    from pathways.clock import ManualClock
    from service.audit.indicators import indicator_breaches
    from service.core.context import Context
    from service.core.db import transaction
    from service.core.tables import User
    from service.models.registry import EngineRegistry

    clock = ManualClock(world.clock.now())
    with transaction(world.db, write=False) as session:
        auditor = session.get(User, world.users["auditor"])
        ctx = Context(session, clock, EngineRegistry(clock), auditor)
        return indicator_breaches(ctx, indicator, date(2026, 1, 1), date(2026, 12, 31),
                                  world.clinics[clinic] if clinic else None)


def test_each_breach_names_its_episode_clinician_and_reason(six_weeks_on: World) -> None:
    from service.audit.indicators import Breach

    world = six_weeks_on
    north, physio2 = world.clinics["north"], world.users["physio2"]
    [imaging] = breaches(world, 6)
    assert imaging == Breach(imaging.episode_id, north, physio2,
                             "MRI requested at the first visit without a red flag")
    [tens] = breaches(world, 7, "north")
    assert tens.reason == ("TENS given at the first visit: NICE NG59 advises not to offer it")
    [late] = breaches(world, 4)
    assert late.episode_id == imaging.episode_id
    assert late.reason == "No exercise session logged within 14 days of referral"
    assert breaches(world, 6, "south") == []
    assert {b.reason.split(":")[0] for b in breaches(world, 12)} == {"Quality index"}


def test_breaches_of_an_indicator_that_does_not_exist_are_refused(
        six_weeks_on: World) -> None:
    from service.core.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="no indicator 13"):
        breaches(six_weeks_on, 13)


def test_the_period_counts_episodes_by_the_day_they_started(six_weeks_on: World) -> None:
    auditor = six_weeks_on.client("auditor")
    every_clinic = auditor.get(URL, params={"start": "2026-01-05", "end": "2026-01-05"}).json()
    assert [(c["name"], c["episodes"]) for c in every_clinic["clinics"]] == [
        ("North Physio", 3), ("South Physio", 1)]
    south = every_clinic["clinics"][1]
    assert south["clinicians"][0]["name"] == "southphysio"
    before = auditor.get(URL, params={"end": "2026-01-04"}).json()
    assert [c["episodes"] for c in before["clinics"]] == [0, 0]
    assert all(i["denominator"] == 0 and i["rate"] is None
               for i in before["clinics"][0]["indicators"])
    for extreme in ({"end": "0001-01-01"}, {"start": "0001-01-01", "end": "9999-12-31"}):
        response = auditor.get(URL, params=extreme)
        assert response.status_code == 200, response.text


def test_at_12_weeks_the_proms_and_the_mcid_share_are_counted(world: World) -> None:
    """Maja answers every follow-up and improves; Olle (low risk) misses his 12-week one."""
    for name, start_back in (("maja", "medium_start_back"), ("olle", "low_start_back")):
        patient, _ = refer(world, name.title(), name)
        through_first_visit(world, patient, start_back)
    for weeks, follow_up in ((2, "follow_up_2w"), (4, "follow_up_6w"), (6, "follow_up_12w")):
        world.clock.advance(timedelta(weeks=weeks))
        world.sweep()
        for name in ("maja", "olle") if weeks < 6 else ("maja",):
            complete(world.client(name), follow_up, follow_up_answers("improved_proms"))
    auditor = world.client("auditor")
    # Maja is counted as soon as she has answered; Olle only once his window has closed.
    assert tallies(auditor.get(URL).json()["clinics"][0]["indicators"])[10] == (1, 1, 1.0)
    world.clock.advance(timedelta(days=4))  # Olle's 12-week window has closed
    [north, _] = world.client("auditor").get(URL).json()["clinics"]
    counted = tallies(north["indicators"])
    assert (counted[9], counted[10], counted[11]) == ((1, 2, 0.5), (1, 2, 0.5), (1, 1, 1.0))
    mcid = next(i for i in north["indicators"] if i["id"] == 11)
    assert [(s["stratum"], s["numerator"], s["denominator"]) for s in mcid["by_stratum"]] == [
        ("low", 0, 0), ("medium", 1, 1), ("high", 0, 0)]
    assert mcid["name"] == "Reached the MCID at the last follow-up, by stratum"
    assert next(i for i in north["indicators"] if i["id"] == 10)["name"] == \
        "PROMs completed at baseline and weeks 6 and 12"


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "2026-02-30"}, "query.start"),
    ({"end": "yesterday"}, "query.end"),
    ({"start": "2026-02-01", "end": "2026-01-31"}, "start"),
    ({"clinic_id": "999"}, "clinic_id"),
])
def test_a_bad_period_or_clinic_is_a_422_naming_the_field(
        six_weeks_on: World, params: dict[str, str], field: str) -> None:
    response = six_weeks_on.client("auditor").get(URL, params=params)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in error_of(response)["fields"]]


@pytest.mark.parametrize("who", ["physio", "lead", "maja", "manager", "admin"])
def test_only_an_auditor_reads_the_indicators(six_weeks_on: World, who: str) -> None:
    response = six_weeks_on.client(who).get(URL)
    assert response.status_code == 403, response.text


def test_reading_the_indicators_changes_nothing_and_an_auditor_cannot_act(
        six_weeks_on: World) -> None:
    world = six_weeks_on
    auditor = world.client("auditor")
    before = saved_state(world)
    assert auditor.get(URL).status_code == 200
    assert auditor.post(URL).status_code == 405
    task = find_task(world.client("maja"), "weekly_check_in")
    response = auditor.post(f"/api/tasks/{task['task_id']}/complete",
                            json={"data": week(3, 2)})
    assert response.status_code in (403, 404), response.text
    assert saved_state(world) == before


def test_each_episode_is_judged_by_its_own_models_numbers(world: World) -> None:
    from pathways.models import read_bundle_dir
    from service.core.settings import ROOT

    files = {name: data.decode("utf-8")
             for name, data in read_bundle_dir(ROOT / "bpmn" / "betterback").items()}
    files["pathway.toml"] = files["pathway.toml"].replace("pi_sessions = 4", "pi_sessions = 2")
    deployed = world.client("manager").post("/api/models", json={"files": files})
    assert deployed.status_code == 201, deployed.text
    hugo, _ = refer(world, "Hugo", "hugo")
    through_first_visit(world, hugo, "high_start_back")
    physio = world.client("physio")
    for _ in range(2):
        complete(physio, "pi_session", {"session_topics": ["fear"], "treatments": ["education"]})
    # A later version asks for six: Hugo's episode stays on the version it started on.
    files["pathway.toml"] = files["pathway.toml"].replace("pi_sessions = 2", "pi_sessions = 6")
    assert world.client("manager").post("/api/models", json={"files": files}).status_code == 201

    north = world.client("auditor").get(URL, params={"clinic_id": world.clinics["north"]})
    pi = next(i for i in north.json()["clinics"][0]["indicators"] if i["id"] == 5)
    assert pi["name"] == "High risk: 6 psychologically informed sessions delivered"
    # Judged by six, two would not be due yet (no count); by his model's two, they are met.
    assert (pi["numerator"], pi["denominator"]) == (1, 1)
