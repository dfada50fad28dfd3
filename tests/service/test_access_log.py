"""The access log: every successful request of a clinician that opens a patient's record
leaves one row (who, which patient and episode, when, which request); patients reading their
own record, lists, and refused requests leave none. Auditors read it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from service.core.tables import AccessRecord

from .conftest import A, World, complete, find_task, page_login, refer, soup


def access_log(world: World, **params: Any) -> list[dict[str, Any]]:
    response = world.client("auditor").get("/api/audit/access", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return list(body["data"])


def test_each_record_a_clinician_opens_is_logged_once_per_request(world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    patient_id = anna.get(f"/api/episodes/{episode_id}").json()["patient_id"]
    physio, browser = world.client("physio"), page_login(world, "physio")
    before = world.count(AccessRecord)

    assert browser.get(f"/patients/{episode_id}").status_code == 200
    assert physio.get(f"/api/episodes/{episode_id}/timeline").status_code == 200
    assert physio.get(f"/api/episodes/{episode_id}/summary").status_code == 200

    rows = access_log(world, patient_id=patient_id)
    assert [row["request"] for row in rows] == [
        f"GET /patients/{episode_id}", f"GET /api/episodes/{episode_id}/timeline",
        f"GET /api/episodes/{episode_id}/summary"]
    assert {(r["username"], r["role"], r["user_id"], r["patient_id"], r["episode_id"])
            for r in rows} == {("physio", "physiotherapist", world.users["physio"],
                                patient_id, episode_id)}
    assert {r["at"] for r in rows} == {world.clock.now().isoformat().replace("+00:00", "Z")}
    assert world.count(AccessRecord) == before + 3


def test_a_visit_to_a_patients_page_is_one_row_whatever_the_page_fetches_as_it_is_used(
        world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    complete(anna, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(anna, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task_id = find_task(world.client("physio"), "first_visit")["task_id"]
    browser = page_login(world, "physio")
    token = soup(browser.get(f"/tasks/{task_id}")).select_one(
        "input[name=csrf_token]")["value"]
    before = world.count(AccessRecord)

    assert browser.get(f"/patients/{episode_id}").status_code == 200
    # The diagram (the model's file) is fetched by the page's script.
    assert browser.get(f"/patients/{episode_id}/diagram.bpmn").status_code == 200
    assert world.count(AccessRecord) == before + 1
    assert [r["request"] for r in access_log(world)][-1] == f"GET /patients/{episode_id}"

    # The task page asks for NICE warnings on every change of its form: one row all the same.
    assert browser.get(f"/tasks/{task_id}").status_code == 200
    for treatments in (["massage"], ["massage", "exercise"]):
        assert browser.post(f"/tasks/{task_id}/warnings", data={
            "csrf_token": token, "treatments": treatments}).status_code == 200
    assert world.count(AccessRecord) == before + 2


def test_a_clinicians_change_is_logged_with_it_and_a_refused_one_leaves_no_row(
        world: World) -> None:
    _anna, episode_id = refer(world, "Anna Andersson", "anna")
    physio = world.client("physio")
    url = f"/api/episodes/{episode_id}/patient-password"
    before = world.count(AccessRecord)
    assert physio.post(url, json={"password": "short"}).status_code == 422
    assert world.count(AccessRecord) == before
    assert physio.post(url, json={"password": "a-new-and-long-one-7"}).status_code == 200
    assert [row["request"] for row in access_log(world)][-1] == f"POST {url}"
    assert world.count(AccessRecord) == before + 1


def test_own_records_lists_and_refusals_leave_no_row(world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    before = world.count(AccessRecord)
    own_task = find_task(anna, "red_flag_screen")["task_id"]
    for url in ("/api/today", f"/api/episodes/{episode_id}",
                f"/api/episodes/{episode_id}/timeline", f"/api/tasks/{own_task}"):
        assert anna.get(url).status_code == 200, url
    assert world.client("physio").get("/api/tasks").status_code == 200
    assert world.client("physio").get("/api/episodes").status_code == 200
    assert world.client("southphysio").get(f"/api/episodes/{episode_id}").status_code == 404
    assert world.client("physio").get("/api/episodes/999999").status_code == 404
    assert world.count(AccessRecord) == before


def test_the_log_is_read_by_person_and_page_by_page(world: World) -> None:
    _, first = refer(world, "Anna Andersson", "anna")
    _, second = refer(world, "Bertil Berg", "bertil")
    world.client("physio").get(f"/api/episodes/{first}")
    world.client("lead").get(f"/api/episodes/{second}")
    world.client("physio").get(f"/api/episodes/{second}/questionnaires")

    by_physio = access_log(world, user_id=world.users["physio"])
    assert [r["request"] for r in by_physio] == [
        f"GET /api/episodes/{first}", f"GET /api/episodes/{second}/questionnaires"]
    everything = access_log(world)
    assert access_log(world, after_id=everything[0]["id"], limit=1) == everything[1:2]


def test_a_patient_sees_who_has_opened_their_record_and_nobody_elses(world: World) -> None:
    anna, anna_episode = refer(world, "Anna Andersson", "anna")
    bertil, _ = refer(world, "Bertil Berg", "bertil")
    assert anna.get("/api/me/access-log").json() == []
    world.client("physio").get(f"/api/episodes/{anna_episode}")
    world.clock.advance(timedelta(hours=2))
    world.client("lead").get(f"/api/episodes/{anna_episode}/timeline")

    seen = anna.get("/api/me/access-log")

    assert seen.status_code == 200, seen.text
    assert [(item["by"], item["role"]) for item in seen.json()] == [
        ("lead", "clinic_lead"), ("physio", "physiotherapist")]  # newest first
    assert bertil.get("/api/me/access-log").json() == []
    assert world.client("physio").get("/api/me/access-log").status_code == 403

    page = soup(page_login(world, "anna").get("/account"))
    section = page.find("section", attrs={"aria-labelledby": "opened-title"})
    assert section is not None
    assert [li.get_text(" ", strip=True).split(": ", 1)[1] for li in section.find_all("li")] \
        == ["lead (clinic lead)", "physio (physiotherapist)"]
    staff_page = soup(page_login(world, "physio").get("/account"))
    assert staff_page.find("section", attrs={"aria-labelledby": "opened-title"}) is None
