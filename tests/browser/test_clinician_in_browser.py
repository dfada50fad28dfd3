"""Issue 16, clinicians: red flags first on the worklist; a task page that shows the patient
and who has claimed the task; the patient page on a phone and its diagram full screen; NICE
warnings beside their field; one row per visit in "who has opened your record". At 1280 and
375 px, screenshots kept in test-output/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, Person, log_in
from tests.browser.test_pages_in_browser import first_visit_ready
from tests.service.clinician_pages_support import patient_in_week_one
from tests.service.conftest import A, World, complete, find_task, refer, week

SIZES = pytest.mark.parametrize("size", ["1280", "375"])
VIEWPORTS = {"1280": DESKTOP, "375": PHONE}


def exercise_alert_then_red_flag(world: World, days_between: int = 0) -> None:
    """Maja's check-in raises an exercise alert review (due in 2 days); `days_between` later,
    Rolf's safety answers raise a red-flag review (due in 24 hours)."""
    patient, _ = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in", week(1, 9, pain_during=8))
    world.clock.advance(timedelta(days=days_between))
    flagged, _ = refer(world, "Rolf Berg", "rolf")
    complete(flagged, "red_flag_screen", {"age": 60, "red_flags": dict(
        A["no_red_flags"], night_pain=True, history_of_cancer=True)})


@SIZES
def test_an_urgent_red_flag_review_sits_above_overdue_tasks_with_a_word_not_only_colour(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    exercise_alert_then_red_flag(world, days_between=3)  # Maja's review is overdue by then

    page = person(**VIEWPORTS[size])
    log_in(page, "physio")
    expect(page).to_have_url(re.compile(r"/worklist$"))
    headings = page.locator("main h2")
    expect(headings.first).to_contain_text("Urgent: red flags")
    urgent = page.locator("section.worklist-urgent tbody tr")
    expect(urgent).to_have_count(1)
    expect(urgent.first).to_contain_text("Rolf Berg")
    expect(urgent.first).to_contain_text("Review red flag")
    expect(urgent.first.locator(".badge.urgent")).to_have_text(re.compile(r"Urgent"))
    # Due times in the clinic's zone (Europe/Stockholm), never UTC.
    expect(urgent.first.locator("td[data-label=Due]")).to_contain_text(
        re.compile(r"\d{4}, \d\d:\d\d CET"))
    expect(page.locator("main")).not_to_contain_text("UTC")
    # The urgent section comes before the overdue one in the page's order.
    titles = [t.split(" (")[0] for t in headings.all_inner_texts()]
    assert titles.index("⚠ Urgent: red flags") < titles.index("Overdue"), titles
    page.screenshot(path=str(screenshot_dir / f"clinician-urgent-worklist-{size}.png"),
                    full_page=True)


@SIZES
def test_a_physiotherapists_visit_shows_once_in_who_has_opened_my_record(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    _, episode_id = refer(world, "Anna Andersson", "anna")
    physio = person(**VIEWPORTS[size])
    log_in(physio, "physio")
    with physio.expect_response(re.compile(r"/diagram\.bpmn$")):
        physio.goto(f"/patients/{episode_id}")
    expect(physio.get_by_role("heading", name="Anna Andersson", level=1)).to_be_visible()

    anna = person(**VIEWPORTS[size])
    log_in(anna, "anna")
    anna.goto("/account")
    opened = anna.locator("section[aria-labelledby=opened-title] li")
    expect(opened).to_have_count(1)
    expect(opened.first).to_contain_text("physiotherapist")
    anna.screenshot(path=str(screenshot_dir / f"patient-who-opened-{size}.png"), full_page=True)


@SIZES
def test_a_task_page_shows_the_patient_the_reason_and_who_has_claimed_it(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    exercise_alert_then_red_flag(world)
    review = find_task(world.client("physio"), "exercise_alert_review")["task_id"]
    assert world.client("physio2").post(f"/api/tasks/{review}/claim").status_code == 200
    red_flag = find_task(world.client("physio"), "urgent_review")["task_id"]

    page = person(**VIEWPORTS[size])
    log_in(page, "physio")
    page.goto(f"/tasks/{review}")
    about = page.locator("section.task-patient")
    # Told before the form: the warning comes before the first field.
    warning = page.locator(".claimed-warning")
    expect(warning).to_have_text(
        "Claimed by physio2: ask them or a clinic lead before filling this in.")
    assert warning.evaluate("w => !!(w.compareDocumentPosition(document.querySelector("
                            "'main form')) & Node.DOCUMENT_POSITION_FOLLOWING)")
    expect(about.locator("dd").nth(0)).to_contain_text("Exercise alert")
    expect(about.locator("dd").nth(0)).to_contain_text("pain 9, during exercise 8")
    expect(about.locator("dd").nth(1)).to_have_text("medium")
    expect(about.locator("dd").nth(3)).to_have_text("physio2")
    pain = about.get_by_role("row", name=re.compile(r"^Pain"))
    expect(pain.get_by_role("cell").nth(0)).not_to_have_text("not yet")
    # Local time with its zone, never UTC.
    expect(page.locator("main")).to_contain_text(re.compile(r"Due \w{3} \d+ \w{3} \d{4}, "
                                                            r"\d\d:\d\d CET"))
    expect(page.locator("main")).not_to_contain_text("UTC")
    page.screenshot(path=str(screenshot_dir / f"clinician-task-patient-{size}.png"),
                    full_page=True)

    page.goto(f"/tasks/{red_flag}")
    expect(page.locator(".claimed-warning")).to_have_count(0)
    about = page.locator("section.task-patient")
    expect(about.locator("dd").nth(0)).to_contain_text("Red flag")
    # Words, not codes: the safety questions' own titles.
    expect(about.locator("dd").nth(2)).to_contain_text("Have had cancer")
    expect(about.locator("dd").nth(2)).to_contain_text("Pain at night that does not ease")
    expect(about.locator("dd").nth(2)).not_to_contain_text("history of cancer")
    expect(about.locator("dd").nth(3)).to_have_text("Nobody")
    page.screenshot(path=str(screenshot_dir / f"clinician-task-red-flag-{size}.png"),
                    full_page=True)

    page.get_by_role("link", name=re.compile("Rolf Berg")).first.click()
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
    expect(timeline).to_contain_text("Safety questions answered: Have had cancer; Pain at "
                                     "night that does not ease with rest or change of position")
    expect(timeline).to_contain_text("Referred by a clinician")
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", timeline.inner_text())
    page.screenshot(path=str(screenshot_dir / f"clinician-timeline-words-{size}.png"),
                    full_page=True)


def test_the_patient_page_fits_a_phone_and_its_diagram_opens_full_screen(
        world: World, person: Person, screenshot_dir: Path) -> None:
    patient, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in", week(1, 9, pain_during=8))

    page = person(**PHONE)
    log_in(page, "physio")
    page.goto(f"/patients/{episode_id}")
    expect(page.locator("#chart-pain")).to_be_visible()
    expect(page.locator("#diagram svg").first).to_be_attached()
    expect(page.locator(".timeline time").first).to_contain_text(re.compile(r"\d\d:\d\d CET$"))
    page.screenshot(path=str(screenshot_dir / "clinician-patient-phone-375.png"), full_page=True)
    # On a phone the layout viewport grows to fit what overflows: measure against 375 px.
    wide = page.evaluate("""() => [document.documentElement.scrollWidth,
        ...[...document.querySelectorAll('main *')]
           .filter(e => !e.closest('svg, .diagram') && e.getBoundingClientRect().right > 375.5)
           .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +
                            Math.round(e.getBoundingClientRect().right))]""")
    assert wide[0] <= 375, f"the page is {wide[0]} px wide at 375 px: {wide[1:]}"

    # The diagram opens full screen from the keyboard, and Escape brings it back.
    button = page.get_by_role("button", name="Open the diagram full screen")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#diagram-box")).to_have_class(re.compile(r"\bfull-screen\b"))
    expect(button).to_be_hidden()
    expect(page.get_by_role("button", name="Close the full-screen diagram")).to_be_focused()
    box = page.locator("#diagram").bounding_box()
    assert box is not None and box["height"] > 600, box
    page.screenshot(path=str(screenshot_dir / "clinician-diagram-full-screen-375.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#diagram-box")).not_to_have_class(re.compile(r"\bfull-screen\b"))
    expect(button).to_be_focused()


def test_the_diagram_opens_full_screen_on_a_laptop_too(
        world: World, person: Person, screenshot_dir: Path) -> None:
    _, episode_id = refer(world, "Anna Andersson", "anna")
    page = person()
    log_in(page, "physio")
    page.goto(f"/patients/{episode_id}")
    expect(page.locator("#diagram svg").first).to_be_attached()
    page.get_by_role("button", name="Open the diagram full screen").click()
    expect(page.locator("#diagram-box")).to_have_class(re.compile(r"\bfull-screen\b"))
    box = page.locator("#diagram").bounding_box()
    assert box is not None and box["width"] >= 1200 and box["height"] > 700, box
    page.screenshot(path=str(screenshot_dir / "clinician-diagram-full-screen-1280.png"))
    page.get_by_role("button", name="Close the full-screen diagram").click()
    expect(page.locator("#diagram-box")).not_to_have_class(re.compile(r"\bfull-screen\b"))


@SIZES
def test_a_nice_warning_appears_next_to_the_field_that_caused_it(
        world: World, person: Person, screenshot_dir: Path, size: str) -> None:
    _, task_id = first_visit_ready(world, "Maja Lind", "maja")
    page = person(**VIEWPORTS[size])
    log_in(page, "physio")
    page.goto(f"/tasks/{task_id}")
    treatments = page.get_by_role("group", name="Treatments given or planned")
    with page.expect_response(re.compile(r"/warnings$")):
        treatments.get_by_label("Traction", exact=True).check()
    beside = page.locator("#ng59-treatments")
    expect(beside).to_contain_text("NICE NG59 advises not to offer traction.")
    # Right after the treatments' group, not only at the bottom of the form.
    assert beside.evaluate("e => e.previousElementSibling.contains("
                           "document.querySelector('input[value=traction]'))")
    expect(page.locator("#ng59-imaging")).to_be_empty()

    with page.expect_response(re.compile(r"/warnings$")):
        page.get_by_role("group", name="Imaging requested").get_by_label("MRI").check()
    expect(page.locator("#ng59-imaging")).to_contain_text("no imaging")
    expect(page.locator("#guideline-warnings li")).to_have_count(2)
    beside.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"clinician-ng59-beside-field-{size}.png"),
                    full_page=True)

    with page.expect_response(re.compile(r"/warnings$")):
        treatments.get_by_label("Traction", exact=True).uncheck()
    expect(beside).to_be_empty()
    expect(page.locator("#ng59-imaging")).to_contain_text("no imaging")
