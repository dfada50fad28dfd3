"""The activities a patient names at intake (PSFS, in their own words) are the ones every later
questionnaire asks them to rate again, in the API's form and on the questionnaire pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from .conftest import A, World, complete, find_task, refer, soup
from .conftest import page_login as login

FOUR_ACTIVITIES = {"PSFS1": "carrying shopping", "PSFS2": "sitting through a film",
                   "PSFS3": "tying my shoelaces", "PSFS4": "lifting <b>boxes</b>"}
FOUR_RATINGS = {"PSFS1": 3, "PSFS2": 3, "PSFS3": 3, "PSFS4": 2}


def intake(names: dict[str, str] | None, ratings: dict[str, float]) -> dict[str, Any]:
    proms = {k: v for k, v in A["baseline_proms"].items() if k != "psfs_activities"}
    if names is not None:
        proms["psfs_activities"] = names
    return {"start_back": A["medium_start_back"], "proms": {**proms, "psfs": ratings}}


def at_two_week_follow_up(world: World, names: dict[str, str],
                          ratings: dict[str, float]) -> tuple[TestClient, int]:
    """Intake with these activities, the first visit, two weeks: the follow-up is open."""
    patient, episode_id = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires", intake(names, ratings))
    complete(world.client("physio"), "first_visit", A["first_visit"])
    world.clock.advance(timedelta(days=14))
    world.sweep()
    return world.client("maja"), episode_id


def problems(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["field"] for f in response.json()["error"]["fields"]]


def test_the_intake_asks_for_the_activities_that_are_rated(world: World) -> None:
    patient, _ = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    task = find_task(patient, "intake_questionnaires")
    url = f"/api/tasks/{task['task_id']}/complete"
    three = {"PSFS1": 3, "PSFS2": 3, "PSFS3": 3}
    assert problems(patient.post(url, json={"data": intake(None, three)})) == [
        "proms.psfs_activities"]
    assert problems(patient.post(url, json={"data": intake(
        A["baseline_proms"]["psfs_activities"], FOUR_RATINGS)})) == [
        "proms.psfs_activities.PSFS4"]
    assert problems(patient.post(url, json={"data": intake(FOUR_ACTIVITIES, three)})) == [
        "proms.psfs.PSFS4"]
    too_long = {**FOUR_ACTIVITIES, "PSFS1": "x" * 81}
    assert problems(patient.post(url, json={"data": intake(too_long, FOUR_RATINGS)})) == [
        "proms.psfs_activities.PSFS1"]
    done = patient.post(url, json={"data": intake(FOUR_ACTIVITIES, FOUR_RATINGS)})
    assert done.status_code == 200, done.text


def test_a_follow_up_rates_the_activities_named_at_intake(world: World) -> None:
    patient, episode_id = at_two_week_follow_up(world, FOUR_ACTIVITIES, FOUR_RATINGS)
    task = find_task(patient, "follow_up_2w")
    psfs = patient.get(f"/api/tasks/{task['task_id']}").json()["form_schema"]["properties"][
        "proms"]["properties"]["psfs"]
    assert {item: p["title"] for item, p in psfs["properties"].items()} == {
        "PSFS1": "How well can you do: carrying shopping?",
        "PSFS2": "How well can you do: sitting through a film?",
        "PSFS3": "How well can you do: tying my shoelaces?",
        "PSFS4": "How well can you do: lifting <b>boxes</b>?"}
    assert psfs["properties"]["PSFS1"]["x-psfs-activity"] == "carrying shopping"
    assert psfs["required"] == ["PSFS1", "PSFS2", "PSFS3", "PSFS4"]

    url = f"/api/tasks/{task['task_id']}/complete"
    follow_up = A["improved_proms"]
    flags = A["no_new_flags"]
    assert problems(patient.post(url, json={"data": {"proms": follow_up, "red_flags": flags}})) \
        == ["proms.psfs.PSFS4"]  # the fourth activity named at intake is rated again
    assert problems(patient.post(url, json={"data": {"red_flags": flags, "proms": {
        **follow_up, "psfs": {**FOUR_RATINGS, "PSFS5": 6}}}})) == ["proms.psfs.PSFS5"]
    done = patient.post(url, json={"data": {"red_flags": flags, "proms": {
        **follow_up, "psfs": {"PSFS1": 6, "PSFS2": 6, "PSFS3": 5, "PSFS4": 5}}}})
    assert done.status_code == 200, done.text
    scores = patient.get(f"/api/episodes/{episode_id}/questionnaires").json()
    assert [s["scores"]["psfs"] for s in scores] == [11 / 4, 22 / 4]


def test_the_follow_up_pages_ask_about_the_patients_own_activities(world: World) -> None:
    _, _ = at_two_week_follow_up(world, FOUR_ACTIVITIES, FOUR_RATINGS)
    page = login(world, "maja")
    link = soup(page.get("/today")).select_one(".action.questionnaire h2 a")
    assert link is not None
    first = soup(page.get(str(link["href"])))
    # pain, 10 disability sections, 10 PSEQ items, the 4 activities named at intake, then the
    # 5 safety questions asked again at every follow-up
    assert "Question 1 of 30" in first.get_text()
    legends = [" ".join(soup(page.get(f"{link['href']}?step={n}")).select_one(
        "fieldset legend").get_text(" ").split()) for n in range(22, 26)]
    assert legends == ["Your own activities How well can you do: carrying shopping?",
                       "Your own activities How well can you do: sitting through a film?",
                       "Your own activities How well can you do: tying my shoelaces?",
                       "Your own activities How well can you do: lifting <b>boxes</b>?"]
    last = page.get(f"{link['href']}?step=25")
    assert "&lt;b&gt;boxes&lt;/b&gt;" in last.text  # the patient's words, shown as text
    assert "30 questions" in soup(page.get("/today")).get_text()


def test_the_intake_pages_ask_for_names_then_rate_them_by_name(world: World) -> None:
    patient, _ = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    page = login(world, "maja")
    url = str(soup(page.get("/today")).select_one(".action.questionnaire h2 a")["href"])
    # 9 STarT Back items, pain, 10 disability sections, 10 PSEQ items, 5 names, 5 ratings
    name_step = soup(page.get(f"{url}?step=31"))
    assert "Activity 1, in your own words" in name_step.get_text()
    assert "Later questionnaires ask about the same activities" in name_step.get_text()
    token = name_step.find("input", {"name": "csrf_token"})["value"]
    sent = page.post(url, data={"csrf_token": token, "step": "31", "action": "next",
                                "proms.psfs_activities.PSFS1": " carrying shopping "},
                     follow_redirects=False)
    assert sent.status_code == 303, sent.text
    rating = soup(page.get(f"{url}?step=36")).select_one("fieldset legend")
    assert rating is not None
    assert "How well can you do: carrying shopping?" in rating.get_text()
    unnamed = soup(page.get(f"{url}?step=37")).select_one("fieldset legend")
    assert unnamed is not None and "Patient-chosen activity 2" in unnamed.get_text()


def test_the_clinician_sees_the_activities_in_the_patients_words(world: World) -> None:
    patient, episode_id = at_two_week_follow_up(world, FOUR_ACTIVITIES, FOUR_RATINGS)
    complete(patient, "follow_up_2w", {"red_flags": A["no_new_flags"], "proms": {
        **A["improved_proms"], "psfs": {"PSFS1": 6, "PSFS2": 6, "PSFS3": 5, "PSFS4": 5}}})
    page = soup(login(world, "physio").get(f"/patients/{episode_id}"))
    rows = [[" ".join(cell.get_text(" ").split()) for cell in tr.select("th, td")]
            for tr in page.select("table.activities tbody tr")]
    assert rows == [["carrying shopping", "3", "6"], ["sitting through a film", "3", "6"],
                    ["tying my shoelaces", "3", "5"], ["lifting <b>boxes</b>", "2", "5"]]
    assert page.select_one("table.activities b") is None
    assert page.select_one("#chart-psfs") is not None
