"""The patient's pages, as a patient uses them in a browser: logged in with the session cookie,
every form sent with its CSRF field, every page parsed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from pathways.education import DEFAULT_DIRECTORY, default_catalogue
from service.core.markdown import render_markdown, sanitise_html
from service.core.tables import ExerciseLog, TaskDraft

from .conftest import (
    PASSWORD,
    A,
    World,
    complete,
    follow_up_answers,
    refer,
    soup,
    through_first_visit,
)
from .conftest import page_login as login


def main_text(response: Response) -> str:
    main = soup(response).find("main")
    assert main is not None, response.text
    return " ".join(main.get_text(" ").split())


def send(client: TestClient, page: Response, url: str, data: dict[str, Any]) -> Response:
    """Submit a form of `page` to `url` with the page's own CSRF field."""
    token = soup(page).find("input", {"name": "csrf_token"})
    assert token is not None, "the page has no form with a CSRF field"
    return client.post(url, data={"csrf_token": token["value"], **data}, follow_redirects=False)


def first_action(client: TestClient, kind: str) -> str:
    page = soup(client.get("/today"))
    link = page.select_one(f".action.{kind} h2 a")
    assert link is not None, page.get_text(" ")
    return str(link["href"])


def patient_in_care(world: World, username: str = "maja") -> tuple[TestClient, int]:
    """A medium-risk patient after the first visit: exercise programme and reading started."""
    api, episode_id = refer(world, username.title(), username)
    through_first_visit(world, api, "medium_start_back")
    return login(world, username), episode_id


def answer_safety_questions(client: TestClient, url: str, skip: str = "") -> Response:
    """Answer every safety question through the wizard (age 45, no to every flag); `skip`
    leaves one question unanswered. Returns the review step."""
    page = client.get(url)
    while (step := soup(page).find("input", {"name": "step"})) is not None and \
            "Question" in main_text(page):
        question = soup(page).select_one("fieldset legend, .question label")
        name = next(i["name"] for i in soup(page).select("form input")
                    if i["name"] not in ("csrf_token", "step", "then"))
        value = "" if name == skip else "45" if name == "age" else "false"
        assert question is not None
        response = send(client, page, url, {"step": step["value"], "action": "next",
                                            name: value})
        assert response.status_code in (303, 422), response.text
        page = client.get(response.headers["location"]) if response.status_code == 303 \
            else client.get(f"{url}?step={int(step['value']) + 1}")
    return page


# --------------------------------------------------------------------------- today


def test_today_shows_the_safety_questions_first(world: World) -> None:
    refer(world, "Eva", "eva")
    today = soup(login(world, "eva").get("/today"))
    actions = today.select(".action")
    assert len(actions) == 1 and "safety" in actions[0]["class"]
    link = actions[0].select_one("h2 a")
    assert link is not None and link.get_text(strip=True).startswith("Answer the safety")
    assert str(link["href"]).startswith("/questionnaire/")


def test_today_lists_check_in_exercise_and_reading_in_order_with_the_programme(
        world: World) -> None:
    patient, _ = patient_in_care(world)
    world.clock.advance(timedelta(days=7))
    world.sweep()
    page = patient.get("/today")
    kinds = [next(c for c in a["class"] if c != "action") for a in soup(page).select(".action")]
    assert kinds == ["check_in", "exercise", "education"]
    exercise = soup(page).select_one(".action.exercise")
    assert exercise is not None
    assert "Walking: 10 min, 5 times a week (level 1 of 4)" in " ".join(
        exercise.get_text().split())
    api = patient.get("/api/today").json()
    assert [a["kind"] for a in api["actions"]] == kinds
    assert [a["href"] for a in api["actions"]] == [
        a["href"] for a in soup(page).select(".action h2 a")]
    assert api["programme"]["exercises"][0]["level"] == 1 and len(api["week"]) == 7


# --------------------------------------------------------------------------- questionnaires


def test_the_questionnaire_asks_one_question_a_screen_and_shows_progress(world: World) -> None:
    refer(world, "Eva", "eva")
    patient = login(world, "eva")
    url = first_action(patient, "safety")
    first = patient.get(url)
    assert "Question 1 of 16" in main_text(first)
    assert soup(first).select_one(".progress-bar") is not None
    assert [i["name"] for i in soup(first).select("form input:not([type=hidden])")] == ["age"]
    second = patient.get(f"{url}?step=2")
    assert "Question 2 of 16" in main_text(second)
    legend = soup(second).select_one("fieldset legend")
    assert legend is not None and "Do any of these apply to you now?" in legend.get_text()
    assert {i["value"] for i in soup(second).select("input[type=radio]")} == {"true", "false"}
    assert {i["name"] for i in soup(second).select("input[type=radio]")} == {
        "red_flags.bladder_bowel_change"}


def test_answers_are_kept_when_the_page_is_reloaded(world: World) -> None:
    refer(world, "Eva", "eva")
    patient = login(world, "eva")
    url = first_action(patient, "safety")
    response = send(patient, patient.get(url), url, {"step": "1", "action": "next",
                                                     "age": "45"})
    assert response.headers["location"] == f"{url}?step=2"
    send(patient, patient.get(f"{url}?step=2"), url, {
        "step": "2", "action": "next", "red_flags.bladder_bowel_change": "false"})
    again = login(world, "eva")  # another browser: the draft is kept on the server
    age = soup(again.get(f"{url}?step=1")).find("input", {"name": "age"})
    assert age is not None and age["value"] == "45"
    assert soup(again.get(f"{url}?step=2")).select_one("input[value=false]").has_attr("checked")
    assert "Question 3 of 16" in main_text(again.get(url))  # carries on where it stopped
    assert "You have started this" in main_text(again.get("/today"))


def test_a_required_question_left_empty_stays_on_its_step_with_a_message(world: World) -> None:
    refer(world, "Eva", "eva")
    patient = login(world, "eva")
    url = first_action(patient, "safety")
    response = send(patient, patient.get(f"{url}?step=2"), url, {"step": "2", "action": "next"})
    assert response.status_code == 422
    assert "Question 2 of 16" in main_text(response)
    error = soup(response).select_one(".field-error")
    assert error is not None and "Please choose an answer" in error.get_text()
    fieldset = soup(response).select_one("fieldset")
    assert fieldset is not None and error["id"] in fieldset["aria-describedby"]
    too_old = send(patient, patient.get(url), url, {"step": "1", "action": "next",
                                                    "age": "130"})
    assert too_old.status_code == 422 and "from 0 to 120" in main_text(too_old)


def test_sending_the_answers_completes_the_task_and_says_thank_you(world: World) -> None:
    refer(world, "Eva", "eva")
    patient = login(world, "eva")
    url = first_action(patient, "safety")
    review = answer_safety_questions(patient, url)
    assert "Check your answers and send" in main_text(review)
    assert len(soup(review).select(".review a")) == 16
    response = send(patient, review, url, {"action": "submit"})
    assert (response.status_code, response.headers["location"]) == (303, "/today?sent=safety")
    today = patient.get(response.headers["location"])
    assert "Your answers to the safety questions have been sent" in main_text(today)
    assert first_action(patient, "questionnaire").startswith("/questionnaire/")
    assert world.count(TaskDraft) == 0
    again = patient.get(url)
    assert again.status_code == 409 and "already been sent" in main_text(again)
    assert send(patient, review, url, {"action": "submit"}).status_code == 409


def test_a_missing_answer_is_shown_next_to_its_question_when_sending(world: World) -> None:
    refer(world, "Eva", "eva")
    patient = login(world, "eva")
    url = first_action(patient, "safety")
    review = answer_safety_questions(patient, url, skip="red_flags.fever")
    response = send(patient, review, url, {"action": "submit"})
    assert response.status_code == 422
    problems = soup(response).select("#problems a")
    assert len(problems) == 1 and problems[0]["href"].endswith("step=11&then=review")
    assert "Fever" in problems[0].get_text()
    marked = soup(response).select(".review li.has-error")
    assert len(marked) == 1 and "Please answer this question" in marked[0].get_text()


def send_screen_with_one_yes(world: World, step: int, flag: str) -> tuple[TestClient, Response]:
    """Ulf answers the safety questions in the wizard, yes to one flag (at its step)."""
    refer(world, "Ulf", "ulf")
    patient = login(world, "ulf")
    url = first_action(patient, "safety")
    review = answer_safety_questions(patient, url)
    send(patient, patient.get(f"{url}?step={step}"), url, {
        "step": str(step), "action": "next", f"red_flags.{flag}": "true"})
    return patient, send(patient, review, url, {"action": "submit"})


def test_saddle_numbness_tells_the_patient_to_get_emergency_care_on_the_next_screen(
        world: World) -> None:
    patient, response = send_screen_with_one_yes(world, 3, "saddle_numbness")
    assert response.headers["location"] == "/today?sent=emergency"
    page = soup(patient.get("/today"))
    first = page.select_one("main [role=alert]")
    assert first is not None and "Get emergency care today" in first.get_text()
    assert "emergency department now" in first.get_text()
    assert first.select_one("a[href='tel:112']") is not None
    # Nothing comes before it: it is the first thing in the page's main content.
    assert page.select_one("main").find(True) is first


def test_an_urgent_flag_tells_the_patient_what_to_do_while_a_clinician_reviews_it(
        world: World) -> None:
    patient, response = send_screen_with_one_yes(world, 11, "fever")
    assert response.headers["location"] == "/today?sent=safety_flag"
    notice = soup(patient.get("/today")).select_one("[role=alert]")
    assert notice is not None and "emergency department" in notice.get_text()
    assert "Get emergency care today" not in notice.get_text()


# --------------------------------------------------------------------------- exercise


def test_two_logged_sessions_appear_in_the_week_strip(world: World) -> None:
    patient, _ = patient_in_care(world)
    page = patient.get("/exercise")
    assert "at least 3 sessions" in main_text(page) and "moves up a small step" in main_text(page)
    nothing = send(patient, page, "/exercise", {})
    assert nothing.status_code == 422 and "Mark at least one exercise" in main_text(nothing)
    missing = send(patient, page, "/exercise", {"done_walking": "yes"})
    assert missing.status_code == 422 and "Walking: choose how much pain" in main_text(missing)
    for day in range(2):
        response = send(patient, page, "/exercise", {
            "done_walking": "yes", "pain_walking": "3", "difficulty_walking": "about_right"})
        assert response.headers["location"] == "/exercise?logged=walking"
        if day == 0:
            assert "Walking (level 1)" in main_text(patient.get(response.headers["location"]))
            world.clock.advance(timedelta(days=1))
    assert world.count(ExerciseLog) == 2
    for url in ("/exercise", "/today"):
        days = soup(patient.get(url)).select(".week-strip li")
        assert len(days) == 7
        assert [d["class"] for d in days][-2:] == [["done"], ["done"]]
        assert all("1 session done" in d.get_text() for d in days[-2:])
        assert "✓ 1" in days[-1].get_text()
    assert "2 sessions logged this week" in main_text(patient.get("/exercise"))


def test_a_days_session_is_logged_whole_in_one_form_or_not_at_all(world: World) -> None:
    patient, _ = patient_in_care(world)
    page = patient.get("/exercise")
    ids = [i["name"][len("done_"):] for i in soup(page).select("input[name^=done_][value=yes]")]
    assert len(ids) >= 2, ids
    first, second = ids[:2]
    half = send(patient, page, "/exercise", {
        f"done_{first}": "yes", f"pain_{first}": "2", f"difficulty_{first}": "about_right",
        f"done_{second}": "yes", f"pain_{second}": "2"})
    assert half.status_code == 422 and world.count(ExerciseLog) == 0
    whole = send(patient, page, "/exercise", {
        f"done_{first}": "yes", f"pain_{first}": "2", f"difficulty_{first}": "about_right",
        f"done_{second}": "yes", f"pain_{second}": "4", f"difficulty_{second}": "too_hard"})
    assert whole.headers["location"] == f"/exercise?logged={first},{second}"
    assert world.count(ExerciseLog) == 2


# --------------------------------------------------------------------------- education


@pytest.fixture
def hostile_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped modules, with a script and a javascript: link slipped into one."""
    directory = tmp_path / "modules"
    shutil.copytree(DEFAULT_DIRECTORY, directory)
    path = directory / "understanding-back-pain.md"
    path.write_text(path.read_text() + "\n\n<script>alert('stolen')</script>\n\n"
                    "[Click me](javascript:alert(1)) and <img src=x onerror=alert(2)>\n")
    monkeypatch.setenv("CAREPATH_EDUCATION_DIR", str(directory))
    default_catalogue.cache_clear()
    yield
    default_catalogue.cache_clear()


def test_markdown_is_rendered_and_sanitised() -> None:
    html = render_markdown("# Title\n\n**Move** <script>x()</script> [a](https://nhs.uk) "
                           "[b](javascript:alert(1))", heading_offset=1)
    assert "<h2>Title</h2>" in html and "<strong>Move</strong>" in html
    assert "<script" not in html and 'href="javascript' not in html
    assert 'href="https://nhs.uk" rel="noopener noreferrer"' in html
    assert sanitise_html('<p onclick="x()">a<script>b()</script><iframe></iframe></p>') == \
        "<p>a</p>"


def test_a_module_is_shown_sanitised_and_confirming_it_completes_the_reading_task(
        world: World, hostile_module: None) -> None:
    patient, episode_id = patient_in_care(world)
    url = first_action(patient, "education")
    assert url == "/education/understanding-back-pain"
    page = patient.get(url)
    article = soup(page).select_one("article.markdown")
    assert article is not None and article.find(["script", "img"]) is None
    assert "alert('stolen')" in article.get_text()  # shown as text, never run
    assert all(not str(a.get("href", "")).startswith("javascript") for a in article.find_all("a"))
    assert article.find("h3") is not None and article.find(["h1", "h2"]) is None
    module = default_catalogue().get("understanding-back-pain")
    total = len(module.check_questions)
    questions = soup(page).select("form fieldset")
    assert len(questions) == total and all(q.find("legend") for q in questions)

    unanswered = send(patient, page, url, {})
    assert unanswered.status_code == 422
    assert "Choose an answer" in main_text(unanswered) and "Tick the box" in main_text(unanswered)
    right = {f"q{n}": str(q.answer) for n, q in enumerate(module.check_questions, 1)}
    done = send(patient, page, url, {**right, "confirmed_read": "yes"})
    assert done.status_code == 200, done.text
    text = main_text(done)
    assert f"Well done, you have finished this module. You got {total} of {total} right" in text
    assert module.check_questions[0].explanation in text and "is right" in text
    read = world.client("maja").get(f"/api/episodes/{episode_id}/education").json()["read"]
    assert read[0]["module"] == "understanding-back-pain"
    assert first_action(patient, "education") == "/education/staying-active"
    assert send(patient, page, url, right).status_code == 303  # sent twice: nothing happens
    assert "You have read this module" in main_text(patient.get(url))


# --------------------------------------------------------------------------- progress


def test_progress_shows_pain_and_function_with_a_plain_words_summary(world: World) -> None:
    patient, _ = patient_in_care(world)
    assert "after your first follow-up" in main_text(patient.get("/progress"))
    world.clock.advance(timedelta(days=14))
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))
    page = patient.get("/progress")
    text = main_text(page)
    assert "Your pain has gone down by 3 points since you started (6 → 3 out of 10): a " \
           "meaningful improvement" in text
    assert soup(page).select_one("canvas#pain-chart") is not None
    assert soup(page).select_one("script#progress-data") is not None
    rows = soup(page).select("table.scores tbody tr")
    assert [r.th.get_text(" ", strip=True).split(" 2026")[0] for r in rows][0].startswith(
        "When you started")
    api = patient.get("/api/progress").json()
    assert api["summary"][0] == next(li.get_text() for li in soup(page).select(".summary li"))
    assert [r["pain"] for r in api["rows"] if r["kind"] != "check_in"] == [6, 3]


# --------------------------------------------------------------------------- who may see


def _patient_urls(world: World) -> tuple[list[str], str]:
    patient, _ = patient_in_care(world, "anna")
    world.clock.advance(timedelta(days=7))
    world.sweep()
    task = first_action(patient, "check_in")
    return ["/today", "/exercise", "/progress", "/education/understanding-back-pain", task,
            "/api/today", "/api/progress"], task


def test_every_patient_page_refuses_a_physiotherapist_and_sends_nobody_to_login(
        world: World) -> None:
    urls, task = _patient_urls(world)
    physio = TestClient(world.app, raise_server_exceptions=False)
    csrf = physio.post("/api/auth/login", json={"username": "physio", "password": PASSWORD}
                       ).json()["csrf_token"]  # a cookie session, and its CSRF token
    anonymous = TestClient(world.app, raise_server_exceptions=False)
    for url in urls:
        assert physio.get(url).status_code in (403, 404), url
        response = anonymous.get(url, follow_redirects=False)
        if url.startswith("/api/"):
            assert response.status_code == 401, url
        else:
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next=")
    for url in ("/exercise", "/education/understanding-back-pain", task):
        refused = physio.post(url, data={"csrf_token": csrf, "action": "submit"})
        assert refused.status_code in (403, 404), url
        assert anonymous.post(url, data={"action": "submit"}).status_code == 403


def test_a_patient_cannot_open_another_patients_questionnaire(world: World) -> None:
    _, task = _patient_urls(world)
    refer(world, "Bertil", "bertil")
    response = login(world, "bertil").get(task)
    assert response.status_code == 404
    assert "Anna" not in response.text


def test_a_patient_whose_care_was_passed_on_sees_a_friendly_page(world: World) -> None:
    api, _ = refer(world, "Eva", "eva")
    complete(api, "red_flag_screen", {"age": 54, "red_flags": dict(A["no_red_flags"],
                                                                   saddle_numbness=True)})
    complete(world.client("physio"), "emergency_review",
             {"emergency_action": "sent_to_emergency_department"})
    patient = login(world, "eva")
    assert "Your care has been passed on" in main_text(patient.get("/today"))
    exercise = patient.get("/exercise")
    assert exercise.status_code == 200 and "passed on" in main_text(exercise)
    assert patient.get("/api/today").json()["episode_status"] == "escalated"


def test_every_input_on_the_patient_pages_has_a_label(world: World) -> None:
    patient, _ = patient_in_care(world)
    world.clock.advance(timedelta(days=7))
    world.sweep()
    check_in = first_action(patient, "check_in")
    pages = ["/today", "/exercise", "/progress", first_action(patient, "education"),
             check_in, f"{check_in}?step=2", f"{check_in}?step=3", f"{check_in}?step=4"]
    for url in pages:
        page = soup(patient.get(url))
        for control in page.select("main input, main select, main textarea"):
            if control.get("type") == "hidden":
                continue
            label = page.find("label", {"for": control.get("id")}) if control.get("id") \
                else None
            assert label is not None and label.get_text(strip=True), f"{url}: {control}"
        for group in page.select("main fieldset"):
            assert group.find("legend") and group.legend.get_text(strip=True), url
