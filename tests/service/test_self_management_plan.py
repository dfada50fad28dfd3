"""Discharge: the physiotherapist writes a self-management plan in plain words, which the
patient reads later on their own pages (and the API), escaped and with its line breaks; it
never enters the workflow state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from pathways.education import default_catalogue
from pathways.models import load_bundle_dir
from service.care.timeline import SENTENCES
from service.core.db import transaction
from service.core.tables import Instance

from ..conftest import BETTERBACK_DIR
from .clinician_pages_support import text
from .conftest import A, World, complete, find_task, refer, soup, through_first_visit
from .conftest import page_login as login

PLAN = ("Walk every day, a little further each week.\n\n"
        "If it flares up: keep moving gently. <script>alert(1)</script>")


def at_discharge(world: World) -> tuple[TestClient, int]:
    """A low-risk patient through education and the 2, 6 and 12-week follow-ups: the
    discharge is the physiotherapist's to record. Returns the physiotherapist's client."""
    patient, episode_id = refer(world, "Lena Berg", "lena")
    through_first_visit(world, patient, "low_start_back")
    while (education := patient.get(f"/api/episodes/{episode_id}/education").json())[
            "next_task_id"]:
        module_id = patient.get(f"/api/tasks/{education['next_task_id']}").json()[
            "education_module"]
        answers = [q.answer for q in default_catalogue().get(module_id).check_questions]
        confirmed = patient.post(f"/api/episodes/{episode_id}/education/{module_id}/confirm",
                                 json={"answers": answers})
        assert confirmed.status_code == 200, confirmed.text
    for week, days in ((2, 14), (6, 28), (12, 42)):
        world.clock.advance(timedelta(days=days))
        world.sweep()
        complete(world.client("lena"), f"follow_up_{week}w",
                 {"proms": A["improved_proms"], "red_flags": A["no_new_flags"]})
    return world.client("physio"), episode_id


def test_the_discharge_needs_a_written_plan(world: World) -> None:
    physio, _ = at_discharge(world)
    task = find_task(physio, "discharge")
    url = f"/api/tasks/{task['task_id']}/complete"
    missing = physio.post(url, json={"data": {"discharge_outcome": "improved"}})
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["error"]["fields"]] == ["self_management_plan"]
    ticked = physio.post(url, json={"data": {"discharge_outcome": "improved",
                                             "self_management_plan_given": True}})
    assert {f["field"] for f in ticked.json()["error"]["fields"]} == {
        "self_management_plan", "self_management_plan_given"}
    form = soup(login(world, "physio").get(f"/tasks/{task['task_id']}"))
    box = form.select_one("textarea[name=self_management_plan]")
    assert box is not None
    hint = form.select_one(f"#{box['aria-describedby']}")
    assert hint is not None and "plain words the patient can read later" in text(hint)


def test_the_patient_reads_their_plan_after_discharge(world: World) -> None:
    physio, episode_id = at_discharge(world)
    patient = world.client("lena")
    assert patient.get(f"/api/episodes/{episode_id}/self-management-plan").json()["text"] is None
    assert patient.get("/api/today").json()["self_management_plan"] is None
    complete(physio, "discharge", {"discharge_outcome": "improved", "self_management_plan": PLAN,
                                   "note": "Discharged at 12 weeks."})

    page = login(world, "lena")
    today = soup(page.get("/today"))
    section = today.select_one("section[aria-labelledby=plan-title]")
    assert section is not None and "Your self-management plan" in text(section)
    shown = section.select_one(".plan-text")
    assert shown is not None and shown.get_text() == PLAN  # line breaks kept, as text
    assert shown.find("script") is None
    assert "You have finished your care plan" in text(today.select_one("main"))
    assert "written for you by physio" in text(section).lower()

    twin = world.client("lena").get("/api/today").json()
    assert twin["episode_id"] is None and twin["episode_status"] == "discharged"
    assert twin["self_management_plan"]["text"] == PLAN
    for reader in ("lena", "physio", "lead"):
        plan = world.client(reader).get(f"/api/episodes/{episode_id}/self-management-plan")
        assert plan.status_code == 200 and plan.json()["text"] == PLAN
        assert plan.json()["written_by"] == "physio"
    assert world.client("southphysio").get(
        f"/api/episodes/{episode_id}/self-management-plan").status_code == 404

    progress = page.get("/progress")  # the final scores stay readable after discharge
    assert progress.status_code == 200
    assert len(soup(progress).select("table.scores tbody tr")) == 4
    clinician = soup(login(world, "physio").get(f"/patients/{episode_id}"))
    plan_section = clinician.select_one("section[aria-labelledby=plan-title]")
    assert plan_section is not None and plan_section.select_one(".plan-text").get_text() == PLAN

    with transaction(world.db, write=False) as session:
        state = session.exec(select(Instance.state).where(
            Instance.episode_id == episode_id)).one()
    assert "Walk every day" not in state  # free text stays out of the workflow state


def test_the_discharge_sentence_gives_the_final_scores_when_the_event_has_them() -> None:
    vocabulary = load_bundle_dir(BETTERBACK_DIR, lint=False).vocabulary

    def discharged(data: dict[str, Any]) -> str:
        return SENTENCES["episode_discharged"](data, vocabulary)

    assert discharged({"discharge_outcome": "improved"}) == "Discharged: improved"
    assert discharged({"discharge_outcome": "improved", "follow_up_scores": {
        "pain": 3, "disability": 100 * 10 / 45, "psfs": 17 / 3, "pseq": 40}}) == \
        "Discharged: improved; final scores: pain 3, disability 22.2, PSFS 5.7, PSEQ 40"
