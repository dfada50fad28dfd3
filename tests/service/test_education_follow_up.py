"""A check of understanding not passed, as the patient and the physiotherapist see it: the
module open again on the patient's pages, in plain words; a badge on the worklist and a task
to talk the module through; the timeline telling what happened."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx import Response

from pathways.education import EducationModule, default_catalogue

from .clinician_pages_support import text
from .conftest import World, complete, find_task, refer, soup, through_first_visit
from .conftest import page_login as login
from .test_patient_pages import first_action, main_text, send

MODULE = "understanding-back-pain"
URL = f"/education/{MODULE}"
TITLE = default_catalogue().get(MODULE).title
TALK_THROUGH = f"Talk through an education module: {TITLE}"
TOLD = "Your physiotherapist has been told, so they can talk it through with you."


def reading(world: World) -> tuple[TestClient, int]:
    """A low-risk patient after the first visit, logged in to the pages: the first module
    to read is open."""
    api, episode_id = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "low_start_back")
    patient = login(world, "maja")
    assert first_action(patient, "education") == URL
    return patient, episode_id


def answer(patient: TestClient, module: EducationModule, right: bool) -> Response:
    """Send the module's check from its page, the last answer wrong unless `right`; the page
    that answers."""
    page = patient.get(URL)
    chosen = {f"q{n}": str(q.answer) for n, q in enumerate(module.check_questions, 1)}
    if not right:
        last = module.check_questions[-1]
        chosen[f"q{len(chosen)}"] = str((last.answer + 1) % len(last.options))
    done = send(patient, page, URL, {**chosen, "confirmed_read": "yes"})
    assert done.status_code == 200, done.text
    return done


def test_a_check_not_passed_opens_the_module_again_and_tells_the_patient_why(
        world: World) -> None:
    patient, episode_id = reading(world)
    module = default_catalogue().get(MODULE)
    total = len(module.check_questions)

    answered = answer(patient, module, right=False)
    text_after = main_text(answered)
    assert f"You got {total - 1} of {total} right" in text_after
    assert "The answer is" in text_after and module.check_questions[-1].explanation in text_after
    assert "You can read the module again" in text_after
    assert TOLD in text_after
    read_again = soup(answered).select_one("main a.button.primary")
    assert read_again is not None and read_again["href"] == URL

    # Today offers the same module again, saying why.
    action = soup(patient.get("/today")).select_one(".action.education")
    assert action is not None and action.select_one("h2 a")["href"] == URL
    assert text(action.select_one("h2")) == f"Read again: {TITLE}"
    assert TOLD in text(action)

    # The module's page is open again: the lesson, a word of why, and the questions.
    again = patient.get(URL)
    assert f"You can read this module again. Last time you got {total - 1} of {total} right." \
        in main_text(again) and TOLD in main_text(again)
    assert len(soup(again).select("form fieldset")) == total
    education = world.client("maja").get(f"/api/episodes/{episode_id}/education").json()
    assert education["open_again"] == [MODULE] and education["read"][0]["passed"] is False

    # Passed the second time: read, and nothing more of the patient for this module.
    assert "Well done, you have finished this module" in \
        main_text(answer(patient, module, right=True))
    assert f"You have read this module. You got {total} of {total} right." in \
        main_text(patient.get(URL))
    assert world.client("maja").get(
        f"/api/episodes/{episode_id}/education").json()["open_again"] == []


def test_the_physiotherapist_is_asked_to_talk_the_module_through_from_the_worklist(
        world: World) -> None:
    patient, episode_id = reading(world)
    module = default_catalogue().get(MODULE)
    answer(patient, module, right=False)

    task = find_task(world.client("physio"), "talk_through_module")
    assert (task["title"], task["alert"], task["role"]) == (
        TALK_THROUGH, "education", "physiotherapist")
    physio = login(world, "physio")
    rows = [row for row in soup(physio.get("/worklist")).select("tbody tr")
            if text(row.select_one("td[data-label=Task]")) == TALK_THROUGH]
    assert len(rows) == 1
    assert [text(b) for b in rows[0].select("td[data-label=Alerts] .badge")] == \
        ["Education check not passed"]
    form = soup(physio.get(f"/tasks/{task['task_id']}"))
    assert TALK_THROUGH in text(form.select_one("main h1"))
    assert {"Discussed with the patient", "To discuss at the next visit"} <= set(
        text(label) for label in form.select("main label"))

    # A second check not passed: no third reading, the patient is told who will help.
    assert f"Thank you, you have finished this module. You got 2 of 3 right. {TOLD}" in \
        main_text(answer(patient, module, right=False))
    assert f"You have read this module. You got 2 of 3 right. {TOLD}" in \
        main_text(patient.get(URL))
    assert soup(patient.get("/today")).select_one(".action.education") is None  # waits

    complete(world.client("physio"), "talk_through_module",
             {"education_follow_up": "discussed_with_patient", "note": "Scans and rest."})
    assert first_action(patient, "education") == "/education/staying-active"
    timeline = text(soup(physio.get(f"/patients/{episode_id}")).select_one("main"))
    for sentence in (f"Check of understanding not passed for \u201c{TITLE}\u201d",
                     f"Read again \u201c{TITLE}\u201d (2 of 3 check answers right)",
                     f"Followed up \u201c{TITLE}\u201d: discussed with the patient"):
        assert sentence in timeline
