"""The pages in a real browser: headless Chromium against the live server, one browser context
(cookies, viewport) per person. Data is prepared server-side with the World helpers; the
browser then does what people do: log in, click, tap, type, and read what the page says.

Every main page is saved as a full-page screenshot in test-output/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from service.core.tables import Event, ExerciseLog, TaskSubmission
from tests.browser.conftest import DESKTOP, PHONE, Person, log_in
from tests.service.conftest import (
    A,
    World,
    complete,
    find_task,
    follow_up_answers,
    refer,
    through_first_visit,
    week,
)

ERROR_HEADINGS = re.compile(r"^(Not found|You cannot do that)$")


def first_visit_ready(world: World, name: str, username: str) -> tuple[int, str]:
    """A referred patient who answered the safety questions and the intake questionnaires:
    the first visit waits for a physiotherapist. Returns the episode and the task id."""
    patient, episode_id = refer(world, name, username)
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task = find_task(world.client("physio"), "first_visit")
    return episode_id, str(task["task_id"])


def fill_first_visit(page: Page) -> None:
    """The first-visit form, generated from its JSON Schema: text areas, radio groups and
    check boxes, each found by its label (inside its group where labels repeat)."""
    expect(page.get_by_role("heading", name="First visit")).to_be_visible()
    page.get_by_label("Assessment").fill("Non-specific low back pain, no neurological deficit.")
    page.get_by_label("Shared plan").fill("Stay active, education, graded exercise.")
    group = page.get_by_role("group", name="Working diagnosis")
    group.get_by_label("Non-specific low back pain").check()
    group = page.get_by_role("group", name="Key education messages given")
    for message in ("Good prognosis", "Stay active", "No routine imaging"):
        group.get_by_label(message, exact=True).check()
    page.get_by_role("group", name="Imaging requested").get_by_label("None").check()
    page.get_by_role("group", name="Referral").get_by_label("None").check()
    group = page.get_by_role("group", name="Treatments given or planned")
    for treatment in ("Exercise", "Education"):
        group.get_by_label(treatment, exact=True).check()
    for finding in ("Leg pain", "Balance concern", "Fear of lifting"):
        page.get_by_role("group", name=finding).get_by_label("No", exact=True).check()
    expect(page.get_by_role("group", name="Leg pain").get_by_label("No", exact=True)) \
        .to_be_checked()


def log_today(page: Page, done: dict[str, tuple[str, str]],
              sets: dict[str, str] | None = None) -> None:
    """Today's session on the one form: each exercise named done with (pain, difficulty),
    and for those in `sets`, the sets done."""
    for title, (pain, difficulty) in done.items():
        block = page.get_by_role("group", name=re.compile(rf"^{title} \(level"))
        block.get_by_label("Done", exact=True).check()
        if sets and title in sets:
            block.get_by_label(re.compile(r"^Sets done")).select_option(sets[title])
        block.get_by_label(re.compile(r"^Pain during or after")).select_option(pain)
        block.get_by_role("group", name=re.compile(r"^How hard")).get_by_label(
            difficulty).check()
    page.get_by_role("button", name="Save today's session").click()


# --------------------------------------------------------------------------- 1. physiotherapist


def test_a_physiotherapist_claims_with_one_click_and_records_the_first_visit(
        world: World, person: Person, screenshot_dir: Path) -> None:
    episode_id, task_id = first_visit_ready(world, "Maja Lind", "maja")
    page = person()
    log_in(page, "physio", shot=screenshot_dir / "01-login.png")
    expect(page).to_have_url(re.compile(r"/worklist$"))
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()

    # A filter chosen by its label swaps the rows in place.
    with page.expect_response(re.compile(r"/worklist/rows\?")):
        page.get_by_label("Task type").select_option(label="First visit")
    row = page.locator(f"#task-{task_id}")
    expect(row.get_by_role("cell").filter(has_text="Maja Lind")).to_be_visible()
    expect(row.locator("td[data-label='Claimed by']")).to_have_text("Nobody")
    page.screenshot(path=str(screenshot_dir / "02-worklist.png"), full_page=True)

    # One click claims: htmx swaps the row, the page itself stays (no navigation).
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.__samePage = true")
    with page.expect_response(re.compile(rf"/tasks/{task_id}/claim$")) as claimed:
        row.get_by_role("button", name="Claim First visit for Maja Lind").click()
    assert claimed.value.status == 200
    expect(row.get_by_role("button", name="Release First visit for Maja Lind")).to_be_visible()
    expect(row.locator("td[data-label='Claimed by']")).to_have_text("physio")
    assert page.evaluate("window.__samePage") is True and navigations == []
    expect(page).to_have_url(re.compile(r"/worklist$"))

    row.get_by_role("link", name="First visit").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.get_by_text("Patient: Maja Lind.")).to_be_visible()
    fill_first_visit(page)
    page.screenshot(path=str(screenshot_dir / "03-task-form.png"), full_page=True)
    page.get_by_role("button", name="Save and complete").click()

    expect(page).to_have_url(re.compile(rf"/patients/{episode_id}\?done={task_id}$"))
    expect(page.get_by_role("heading", name="Maja Lind", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Saved: First visit.")
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
    recorded = timeline.get_by_role("listitem").filter(has_text="First visit recorded")
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text("First visit recorded: Non-specific low back pain by physio")
    page.wait_for_load_state("networkidle")  # the diagram and charts are drawn by script
    page.screenshot(path=str(screenshot_dir / "04-patient-page.png"), full_page=True)


# --------------------------------------------------------------------------- 2. patient, phone


def test_a_patient_on_a_phone_logs_two_sessions_and_reads_a_module(
        world: World, person: Person, screenshot_dir: Path) -> None:
    from pathways.education import default_catalogue

    api, _ = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "medium_start_back")
    page = person(**PHONE)
    log_in(page, "maja")
    expect(page).to_have_url(re.compile(r"/today$"))
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "sideways scrolling"
    page.screenshot(path=str(screenshot_dir / "05-today.png"), full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exercise").tap()
    expect(page.get_by_role("heading", name="Your exercises")).to_be_visible()
    for _ in range(2):  # two sessions, a minute apart
        world.clock.advance(timedelta(minutes=1))
        log_today(page, {"Walking": ("3", "About right")})
        expect(page.get_by_role("status")).to_contain_text("Walking (level 1)")
    expect(page.get_by_text("2 sessions logged this week")).to_be_visible()
    assert world.count(ExerciseLog, exercise="walking") == 2
    today = page.get_by_role("list", name="Exercise in the last 7 days").get_by_role(
        "listitem").last
    expect(today).to_contain_text("✓ 2")
    expect(today).to_contain_text("2 sessions done")
    page.screenshot(path=str(screenshot_dir / "06-exercise.png"), full_page=True)

    module = default_catalogue().get("understanding-back-pain")
    page.goto(f"/education/{module.id}")
    expect(page.get_by_role("heading", name=module.title, level=1)).to_be_visible()
    for number, question in enumerate(module.check_questions, 1):
        group = page.get_by_role("group", name=f"{number}. {question.question}")
        group.get_by_label(question.options[question.answer], exact=True).check()
    page.get_by_label("I have read this module").check()
    page.get_by_role("button", name="Send my answers").tap()
    total = len(module.check_questions)
    expect(page.get_by_role("status")).to_contain_text(
        f"Well done, you have finished this module. You got {total} of {total} right.")
    feedback = page.locator("section.feedback")
    expect(feedback.get_by_text("is right.")).to_have_count(total)
    expect(feedback).to_contain_text(module.check_questions[0].explanation)
    page.screenshot(path=str(screenshot_dir / "07-education.png"), full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Progress").tap()
    expect(page.get_by_role("heading", name="Your progress")).to_be_visible()
    expect(page.get_by_role("table")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot_dir / "09-progress.png"), full_page=True)


# --------------------------------------------------------------------------- 3. two at once


def test_the_second_of_two_physiotherapists_on_one_form_sees_already_done(
        world: World, person: Person, screenshot_dir: Path) -> None:
    episode_id, task_id = first_visit_ready(world, "Rolf Berg", "rolf")
    first, second = person(), person()
    log_in(first, "physio")
    log_in(second, "physio2")
    for page in (first, second):
        page.goto(f"/tasks/{task_id}")
        fill_first_visit(page)

    first.get_by_role("button", name="Save and complete").click()
    expect(first).to_have_url(re.compile(rf"/patients/{episode_id}\?done="))
    expect(first.get_by_role("status")).to_have_text("Saved: First visit.")

    with second.expect_response(lambda r: r.request.method == "POST"
                                and r.url.endswith(f"/tasks/{task_id}")) as answer:
        second.get_by_role("button", name="Save and complete").click()
    assert answer.value.status == 409
    expect(second.get_by_role("heading", name="Already done", level=1)).to_be_visible()
    expect(second.get_by_text("What to do next:")).to_be_visible()
    expect(second.get_by_role("main")).to_contain_text("Reload your list to see what is next")
    expect(second.get_by_role("link", name="Back to my page")).to_be_visible()
    second.screenshot(path=str(screenshot_dir / "10-already-done-409.png"), full_page=True)
    assert world.count(Event, episode_id=episode_id, name="first_visit_recorded") == 1
    assert world.count(TaskSubmission, task_id=task_id, submitted_by=world.users["physio"]) == 1


# --------------------------------------------------------------------------- 4. privacy


def test_a_patient_cannot_open_another_patients_pages(world: World, person: Person) -> None:
    refer(world, "Anna Ek", "anna")
    bertil, bertil_episode = refer(world, "Bertil Bo", "bertil")
    bertil_task = find_task(bertil, "red_flag_screen")["task_id"]
    page = person()
    log_in(page, "anna")
    for url in (f"/patients/{bertil_episode}", f"/questionnaire/{bertil_task}",
                f"/tasks/{bertil_task}"):
        response = page.goto(url)
        assert response is not None and response.status in (403, 404), (url, response.status)
        expect(page.get_by_role("heading", level=1)).to_have_text(ERROR_HEADINGS)
        expect(page.get_by_text("What to do next:")).to_be_visible()
        assert "Bertil" not in page.content(), url
        assert page.title() and "Bertil" not in page.title()


# --------------------------------------------------------------------------- 5. keyboard only


def tab_to(page: Page, wanted: str, limit: int = 30) -> None:
    """Press Tab until the focused element matches the CSS selector `wanted`; every control
    passed on the way must have an accessible name."""
    focused = page.locator(":focus")
    for _ in range(limit):
        page.keyboard.press("Tab")
        expect(focused).to_have_count(1)
        expect(focused).to_have_accessible_name(re.compile(r"\w"))
        if focused.evaluate("(el, css) => el.matches(css)", wanted):
            return
    raise AssertionError(f"{wanted} cannot be reached with Tab")


def test_a_questionnaire_step_can_be_answered_with_the_keyboard_alone(
        world: World, person: Person, screenshot_dir: Path) -> None:
    api, _ = refer(world, "Eva Holm", "eva")
    complete(api, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    page = person()
    log_in(page, "eva")
    expect(page).to_have_url(re.compile(r"/today$"))

    tab_to(page, ".action.questionnaire h2 a")
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"^Question 1 of \d+$"))).to_be_visible()
    total = int(page.locator("#step-count").inner_text().rsplit(" ", 1)[1])
    page.screenshot(path=str(screenshot_dir / "08-questionnaire-step.png"), full_page=True)

    tab_to(page, "input[type=radio]")
    focused = page.locator(":focus")
    expect(focused).to_have_accessible_name("No")
    expect(focused).not_to_be_checked()
    page.keyboard.press("Space")
    expect(focused).to_be_checked()
    tab_to(page, "button[value=next]")
    expect(page.locator(":focus")).to_have_accessible_name("Next")
    page.keyboard.press("Enter")

    expect(page.get_by_text(f"Question 2 of {total}", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?step=2$"))
    tab_to(page, "button[value=back]")  # going back shows the answer was kept
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Question 1 of {total}", exact=True)).to_be_visible()
    expect(page.get_by_label("No", exact=True)).to_be_checked()


def test_a_patient_reporting_saddle_numbness_is_told_to_get_emergency_care_at_once(
        world: World, person: Person, screenshot_dir: Path) -> None:
    """domain.md 2.3: the instruction comes on the very next screen, before anything else, and
    again on /today until a clinician closes the emergency."""
    refer(world, "Eva Holm", "eva")
    for size, options in (("375", PHONE), ("1280", None)):
        page = person(**options) if options else person()
        log_in(page, "eva")
        if size == "375":
            page.locator(".action.safety h2 a").click()
            expect(page.get_by_text(re.compile(r"^Question 1 of \d+$"))).to_be_visible()
            page.locator("input[name=age]").fill("45")
            page.get_by_role("button", name="Next").click()
            while page.get_by_role("button", name="Send my answers").count() == 0:
                legend = page.locator("fieldset legend").first.inner_text()
                answer = "true" if "genitals, buttocks" in legend else "false"
                page.locator(f"input[type=radio][value={answer}]").check()
                page.locator("button[value=next]").click()
            page.get_by_role("button", name="Send my answers").click()
        expect(page).to_have_url(re.compile(r"/today"))
        alert = page.locator("main [role=alert]").first
        expect(alert).to_contain_text("Get emergency care today")
        expect(alert).to_contain_text("Go to an emergency department now")
        expect(alert.get_by_role("link", name="Call 112")).to_be_visible()
        box = alert.bounding_box()
        assert box is not None and box["y"] < 200 and box["width"] <= int(size)
        page.screenshot(path=str(screenshot_dir / f"11-emergency-{size}.png"), full_page=True)
    physio = world.client("physio")
    complete(physio, "emergency_review", {"emergency_action": "sent_to_emergency_department"})
    page.reload()
    expect(page.get_by_text("Get emergency care today")).to_have_count(0)


def test_a_manager_lands_on_the_model_library(world: World, person: Person,
                                              screenshot_dir: Path) -> None:
    refer(world, "Eva Holm", "eva")
    for size, options in (("375", PHONE), ("1280", None)):
        page = person(**options) if options else person()
        log_in(page, "manager")
        expect(page).to_have_url(re.compile(r"/models$"))
        expect(page.get_by_role("heading", name="Model library")).to_be_visible()
        expect(page.get_by_text("Active: new episodes start here")).to_be_visible()
        expect(page.get_by_role("link", name=re.compile(r"^Download version \d+"))).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= int(size), \
            "sideways scrolling"
        page.screenshot(path=str(screenshot_dir / f"13-model-library-{size}.png"), full_page=True)


# ---------------------------------------------------------------- patients, round two


@pytest.mark.parametrize("size", ["375", "1280"])
def test_a_patient_logs_all_of_todays_exercises_with_one_form(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    api, episode_id = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "medium_start_back")
    page = person(**(PHONE if size == "375" else DESKTOP))
    log_in(page, "maja")
    page.goto("/exercise")
    titles = page.locator(".session-exercise h3").all_inner_texts()
    assert len(titles) >= 2, titles
    # A timed exercise asks no sets; one dosed in sets offers its count, already chosen.
    in_sets = page.locator(".session-exercise", has=page.get_by_label(re.compile("^Sets done")))
    timed = page.locator(".session-exercise").filter(
        has_not=page.get_by_label(re.compile("^Sets done")))
    assert in_sets.count() and timed.count(), titles
    first = in_sets.first.locator("h3").inner_text().split(" (level")[0]
    second = timed.first.locator("h3").inner_text().split(" (level")[0]
    planned = in_sets.first.get_by_label(re.compile("^Sets done"))
    dose = re.search(r"(\d+) x \d+", in_sets.first.locator("h3").inner_text())
    assert dose is not None
    expect(planned).to_have_value(dose[1])
    log_today(page, {first: ("2", "About right"), second: ("5", "Too hard")}, sets={first: "1"})
    expect(page.get_by_role("status")).to_contain_text(f"{first} (level 1)")
    expect(page.get_by_role("status")).to_contain_text(f"{second} (level 1)")
    assert world.count(ExerciseLog) == 2  # one log per exercise, one session
    logged = world.client("maja").get(f"/api/episodes/{episode_id}/exercise-logs").json()
    assert sorted((log["sets"] is None, log["sets"]) for log in logged) == [
        (False, 1), (True, None)]
    expect(page.get_by_text("1 session logged this week")).to_be_visible()
    expect(page.get_by_role("list", name="Exercise in the last 7 days").get_by_role(
        "listitem").last).to_contain_text("1 session done")
    assert page.evaluate("document.documentElement.scrollWidth") <= int(size)
    page.screenshot(path=str(screenshot_dir / f"p16-exercise-session-{size}.png"),
                    full_page=True)


@pytest.mark.parametrize("size", ["375", "1280"])
def test_after_a_check_in_today_counts_the_logged_sessions_and_names_the_new_levels_once(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    api, episode_id = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "medium_start_back")
    for _ in range(3):  # three earlier days of walking, logged through the API
        world.clock.advance(timedelta(days=1))
        logged = world.client("maja").post(f"/api/episodes/{episode_id}/exercise-logs", json={
            "exercise": "walking", "level": 1, "pain_nrs": 2, "difficulty": "about_right"})
        assert logged.status_code == 201, logged.text
    world.clock.advance(timedelta(days=4))
    world.sweep()
    page = person(**(PHONE if size == "375" else DESKTOP))
    log_in(page, "maja")
    page.goto("/exercise")
    log_today(page, {"Walking": ("2", "About right")})
    expect(page.get_by_text("4 sessions logged this week")).to_be_visible()
    world.clock.advance(timedelta(minutes=5))

    # The check-in does not ask what carepath knows: the count is filled in from the logs.
    page.goto("/today")
    page.locator(".action.check_in h2 a").click()
    expect(page.get_by_text(re.compile(r"^Question 2 of \d+$"))).to_be_visible()
    for _ in range(12):
        if page.get_by_role("button", name="Send my answers").count():
            break
        legend = page.locator("fieldset legend").first.inner_text()
        if page.locator("input[type=radio][value='3']").count():
            page.locator("input[type=radio][value='3']").check()
        elif page.locator("input[type=radio][value=true]").count():
            settled = "true" if "settle" in legend else "false"
            page.locator(f"input[type=radio][value={settled}]").check()
        page.locator("button[value=next]").click()
    sessions = page.locator("ul.review > li").filter(has_text="Exercise sessions done")
    expect(sessions.locator("span.muted")).to_have_text("4")
    page.get_by_role("button", name="Send my answers").click()

    expect(page).to_have_url(re.compile(r"/today\?sent=check_in_progress$"))
    main = page.locator("main")
    expect(page.get_by_role("status")).to_contain_text("has moved up")
    expect(main).not_to_contain_text("next week")
    expect(main).not_to_contain_text("0 sessions logged this week")
    expect(main).to_contain_text("0 sessions logged since your check-in today")
    expect(main.locator(".action.exercise")).to_contain_text("Walking: ")
    expect(main.locator(".action.exercise")).to_contain_text("(level 2 of 4)")
    expect(page.get_by_role("list", name="Exercise in the last 7 days").get_by_role(
        "listitem").last).to_contain_text("1 session done")
    with Session(world.db) as session:
        week = session.exec(select(Event.data).where(
            Event.episode_id == episode_id, Event.name == "exercise_week_completed")).one()
    assert week["sessions_done"] == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= int(size)
    page.screenshot(path=str(screenshot_dir / f"p16-today-after-check-in-{size}.png"),
                    full_page=True)


@pytest.mark.parametrize("size", ["375", "1280"])
def test_the_intake_asks_in_plain_questions_under_a_heading_a_patient_understands(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    from service.patients.wording import QUESTIONS

    api, _ = refer(world, "Eva Holm", "eva")
    complete(api, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    page = person(**(PHONE if size == "375" else DESKTOP))
    log_in(page, "eva")
    page.locator(".action.questionnaire h2 a").click()
    legend = page.locator("fieldset legend").first
    expect(legend.locator(".group-title")).to_have_text("How your back affects you")
    expect(legend).to_contain_text(QUESTIONS["start_back.SB1"])
    expect(page.locator("main")).not_to_contain_text("STarT Back")
    page.screenshot(path=str(screenshot_dir / f"p16-questionnaire-heading-{size}.png"),
                    full_page=True)
    url = page.url.split("?")[0]
    page.goto(f"{url}?step=8")
    expect(page.locator("fieldset legend").first).to_contain_text(
        QUESTIONS["start_back.SB8"])
    expect(page.locator("main")).not_to_contain_text("Low mood")
    assert all(q.endswith("?") for q in QUESTIONS.values())
    assert page.evaluate("document.documentElement.scrollWidth") <= int(size)


@pytest.mark.parametrize("size", ["375", "1280"])
def test_progress_says_the_latest_pain_before_the_follow_up_comparison(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    api, _ = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "medium_start_back")
    world.clock.advance(timedelta(days=14))
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))
    world.clock.advance(timedelta(days=1))
    complete(world.client("maja"), "weekly_check_in", week(3, 8))
    page = person(**(PHONE if size == "375" else DESKTOP))
    log_in(page, "maja")
    page.goto("/progress")
    first = page.locator(".summary li").first
    expect(first).to_contain_text("Latest: your pain was 8 out of 10 at your week")
    expect(first).to_contain_text("5 points worse than at your 2-week follow-up (3)")
    expect(page.locator(".summary")).to_contain_text("meaningful improvement")
    assert page.evaluate("document.documentElement.scrollWidth") <= int(size)
    page.screenshot(path=str(screenshot_dir / f"p16-progress-latest-{size}.png"),
                    full_page=True)
