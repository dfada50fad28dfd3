"""A patient's page as clinicians read it: logged in with a cookie, reading the HTML's
structure (sections, facts, timeline, charts) and the BPMN diagram drawn for the pathway."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from service.care.timeline import SENTENCES
from service.models.diagram import BPMNDI, DC, DI, add_diagram

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
    assert any("First visit recorded: non specific lbp by physio" in line for line in timeline)
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
                         "charts", "activities", "adherence", "education", "position",
                         "self_management_plan"}
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
    assert SENTENCES["follow_up_completed"](data) == f"6-week follow-up: pain 3; {sentence}"


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

LOOPING_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/><userTask id="work"/><exclusiveGateway id="again"/>
    <subProcess id="later"><startEvent id="inner_start"/></subProcess>
    <task id="retry"/><endEvent id="end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="again"/>
    <sequenceFlow id="f3" sourceRef="again" targetRef="work"/>
    <sequenceFlow id="f4" sourceRef="again" targetRef="later"/>
    <sequenceFlow id="f5" sourceRef="later" targetRef="end"/>
    <sequenceFlow id="f6" sourceRef="retry" targetRef="retry"/>
  </process>
</definitions>"""


def test_a_loop_is_drawn_back_to_its_start_and_a_subprocess_collapsed() -> None:
    root = etree.fromstring(add_diagram(LOOPING_PROCESS))
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    assert set(shapes) == {"start", "work", "again", "later", "retry", "end"}
    assert shapes["later"].get("isExpanded") == "false"
    assert shapes["again"].get("isMarkerVisible") == "true"

    def points(flow: str) -> list[tuple[float, float]]:
        edge = next(e for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")
                    if e.get("bpmnElement") == flow)
        return [(float(p.get("x")), float(p.get("y"))) for p in edge.iter(f"{{{DI}}}waypoint")]

    def x_of(node: str) -> float:
        return float(shapes[node].find(f"{{{DC}}}Bounds").get("x"))

    assert x_of("start") < x_of("work") < x_of("again") < x_of("later") < x_of("end")
    back = points("f3")
    assert back[0][0] > back[-1][0], "the way back runs right to left"
    assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(back, back[1:], strict=False))
    assert len(points("f6")) > 2
    assert add_diagram(add_diagram(LOOPING_PROCESS)) == add_diagram(LOOPING_PROCESS)
