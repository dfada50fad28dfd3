"""A patient's page as clinicians read it: logged in with a cookie, reading the HTML's
structure (sections, facts, timeline, charts) and the BPMN diagram drawn for the pathway."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from pathways.models import PathwayModel, read_bundle_dir
from pathways.vocabulary import vocabulary_of
from service.care.timeline import SENTENCES
from service.core.db import transaction
from service.models import registry as models_registry

from ..conftest import BETTERBACK_DIR
from .clinician_pages_support import WEEK, patient_in_week_one, text
from .conftest import World, complete, follow_up_answers, refer, week
from .conftest import page_login as log_in
from .conftest import soup as html

# -- a patient's page

def test_a_patients_page_tells_their_story_in_words_numbers_and_a_diagram(
        world: World) -> None:
    patient, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in",
             week(2, 5))
    world.clock.advance(WEEK)
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))

    page = html(log_in(world, "physio").get(f"/patients/{episode_id}"))

    assert text(page.select_one("main h1")) == "Maja Lind"
    facts = {text(d.select_one("dt")): text(d.select_one("dd")) for d in page.select(".facts div")}
    assert facts["Stratum"] == "medium" and facts["Programme week"] == "1 of 12"
    assert facts["Pain (0-10)"] == "3"
    timeline = [text(li) for li in page.select("ol.timeline li")]
    assert any("Risk stratified: medium" in line for line in timeline)
    assert any("Exercise week 1: 2 sessions, pain 5, during exercise 3" in line
               for line in timeline)
    assert any("First visit recorded: Non-specific low back pain by physio" in line
               for line in timeline)
    pain = page.select_one("#chart-pain").find_parent("figure")
    assert [[text(td) for td in tr.select("td")][1:] for tr in pain.select("tbody tr")] == \
        [["6", "", "baseline"], ["3", "-3", "meaningfully better"]]
    adherence = page.select_one("#adherence-title").find_parent("section")
    assert text(adherence.select_one("tbody td:nth-of-type(2)")) == "2 of 3 (67%)"
    education = [text(li) for li in page.select(".education-list li")]
    assert education and all(line.startswith("Not read yet") for line in education)
    diagram = page.select_one("#diagram")
    assert diagram["data-src"] == f"/patients/{episode_id}/diagram.bpmn"
    data = json.loads(text(page.select_one("script#page-data")))
    assert "first_visit" in data["done"] and "education" in data["current"]
    assert data["charts"][0]["mcid"] == 2 and data["charts"][0]["values"] == [6, 3]
    assert "Education track" in text(page.select_one("#pathway-title").find_parent("section"))


def test_the_summary_twin_has_the_patient_pages_data(world: World) -> None:
    _, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    body = world.client("physio").get(f"/api/episodes/{episode_id}/summary").json()
    assert set(body) == {"header", "alerts", "guideline_warnings", "open_tasks", "timeline",
                         "charts", "activities", "adherence", "logged", "education", "position",
                         "self_management_plan", "reminders"}
    assert body["header"]["patient_name"] == "Maja Lind"
    assert "Risk stratified: medium" in [t["sentence"] for t in body["timeline"]]
    assert [c["key"] for c in body["charts"]] == ["pain", "disability", "psfs", "pseq"]
    assert [(a["name"], a["baseline"], a["latest"]) for a in body["activities"]] == [
        ("carrying shopping", 3, None), ("sitting through a film", 3, None),
        ("tying my shoelaces", 3, None)]
    assert body["alerts"] == [{"text": "No exercise logged for 7 days", "kind": "warn"}]


@pytest.mark.parametrize(("improvement", "sentence"), [
    ({"pain": True, "disability": False, "psfs": None, "any_improved": True,
      "primary_improved": False, "primary_measures": ["disability", "psfs"],
      "supporting_measures": ["pain"]}, "not improved on disability or PSFS (pain improved)"),
    ({"pain": False, "disability": True, "psfs": True, "primary_improved": True,
      "primary_measures": ["disability", "psfs"], "supporting_measures": ["pain"]},
     "improved (disability and PSFS)"),
    ({"any_improved": True}, "improved"),
    ({"any_improved": False}, "not improved"),
], ids=["pain alone", "function and goals", "recorded before primary measures", "neither"])
def test_the_timeline_says_whether_the_measures_that_count_improved(
        improvement: dict[str, object], sentence: str) -> None:
    data = {"follow_up_week": 6, "follow_up_scores": {"pain": 3}, "improvement": improvement}
    assert SENTENCES["follow_up_completed"](data, vocabulary_of({})) == \
        f"6-week follow-up: pain 3; {sentence}"


@pytest.mark.parametrize("path", ["/patients/{id}", "/patients/{id}/diagram.bpmn",
                                  "/api/episodes/{id}/summary"])
def test_patient_pages_are_for_the_clinicians_of_the_patients_clinic(
        world: World, path: str) -> None:
    _, episode_id = refer(world, "Maja Lind", "maja")
    url = path.format(id=episode_id)
    api = url.startswith("/api")

    def status(username: str | None) -> int:
        if api:
            return world.client(username).get(url).status_code
        client = log_in(world, username) if username else TestClient(world.app)
        return client.get(url, follow_redirects=False).status_code

    assert status("physio") == status("lead") == 200
    assert status("southphysio") == 404  # another clinic: as if it did not exist
    assert status("maja") == 404  # patients have their own progress page
    assert status("manager") == 403
    assert status(None) == (401 if api else 303)
    physio = world.client("physio") if api else log_in(world, "physio")
    assert physio.get(path.format(id=999999)).status_code == 404
    assert physio.get(path.format(id=2**40)).status_code == 422  # never a 500


# -- the diagram

def test_the_diagram_is_the_main_process_file_as_shipped_with_its_layout(world: World) -> None:
    _, episode_id = refer(world, "Maja Lind", "maja")
    response = log_in(world, "physio").get(f"/patients/{episode_id}/diagram.bpmn")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.content == (BETTERBACK_DIR / "betterback.bpmn").read_bytes()
    assert b"<bpmndi:BPMNPlane" in response.content


def test_a_model_deployed_without_a_diagram_is_served_as_deployed(world: World) -> None:
    files = read_bundle_dir(BETTERBACK_DIR)
    bare = re.sub(rb"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", b"",
                  files["betterback.bpmn"], flags=re.DOTALL)
    assert bare != files["betterback.bpmn"]
    with transaction(world.db, write=True) as session:
        models_registry.deploy(session, {**files, "betterback.bpmn": bare}, None,
                               world.clock.now())
    _, episode_id = refer(world, "Olle Berg", "olle")  # starts on the version just deployed

    response = log_in(world, "physio").get(f"/patients/{episode_id}/diagram.bpmn")
    assert response.status_code == 200
    assert response.content == bare  # the page's script lays it out


def test_the_timeline_tells_answers_in_the_forms_words(betterback: PathwayModel) -> None:
    """Words, not codes: the forms' titles and labels, the exercises' titles, and counts that
    agree with their nouns."""
    v = betterback.vocabulary
    assert SENTENCES["red_flag_screened"]({"red_flags": {
        "bladder_bowel_change": True, "saddle_numbness": True, "fever": False}}, v) == (
        "Safety questions answered: New change in bladder or bowel control; "
        "Numbness around the genitals, buttocks or inner thighs")
    assert SENTENCES["exercise_level_changed"]({
        "programme_week": 3, "exercise_decisions": ["progress", "hold", "regress_alert"],
        "exercise_programme": [{"exercise": "walking"}, {"exercise": "balance"},
                               {"exercise": "back-extension"}]}, v) == (
        "Exercise levels changed after week 3: Walking moved up a level; "
        "Back extension moved down a level")
    assert SENTENCES["exercise_week_completed"]({
        "programme_week": 2, "sessions_done": 1, "week_pain_nrs": 4, "pain_during": 3}, v) == \
        "Exercise week 2: 1 session, pain 4, during exercise 3"
    assert SENTENCES["episode_started"]({"referral": {"source": "self"}}, v) == \
        "Referred themselves"
    assert SENTENCES["escalation_reviewed"]({"escalation_decision": "combined_programme"}, v) \
        == "Not improving, reviewed: combined physical and psychological programme"
    assert [SENTENCES[name]({"side": "patient", "name": "call_back"}, v) for name in (
        "message_sent", "clinician_task_created", "clinician_task_completed")] == [
        "Message from the patient", "Call back asked for", "Called back"]


def test_the_physiotherapist_reads_what_was_logged_with_its_sets(world: World) -> None:
    """A fortnight of logs, newest first: each exercise's title and level, the sets done
    (empty for a timed exercise), the pain and how it felt."""
    patient, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    for body in ({"exercise": "walking", "level": 1, "pain_nrs": 2,
                  "difficulty": "about_right"},
                 {"exercise": "back-extension", "level": 1, "pain_nrs": 4,
                  "difficulty": "too_hard", "sets": 1}):
        assert patient.post(f"/api/episodes/{episode_id}/exercise-logs",
                            json=body).status_code == 201
    refused = patient.post(f"/api/episodes/{episode_id}/exercise-logs", json={
        "exercise": "walking", "level": 1, "pain_nrs": 2, "difficulty": "about_right",
        "sets": 99})
    assert refused.status_code == 422 and "sets" in refused.text

    page = html(log_in(world, "physio").get(f"/patients/{episode_id}"))
    rows = [[text(td) for td in tr.select("td")][1:] for tr in page.select("#logged tbody tr")]
    assert rows[:2] == [["Back extension (level 1)", "1", "4", "too hard"],
                        ["Walking (level 1)", "", "2", "about right"]]
