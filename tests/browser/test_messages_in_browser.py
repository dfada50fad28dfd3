"""Messages in a browser, on a laptop and on a phone: a patient writes to the clinic from
Today, the physiotherapist sees it unread on the worklist and answers from the patient's
page, and the patient reads the answer. Each page passes axe-core's check (no serious or
critical violations); screenshots under test-output/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Person, log_in
from tests.browser.test_accessibility_in_browser import (
    SIZES,
    axe,  # noqa: F401  (a fixture)
    describe,
    run_axe,
)
from tests.service.conftest import World, refer


def _checked(page: Page, axe_path: Path, url: str, size: str, shots: Path, name: str,
             problems: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    problems += describe(url, size, run_axe(page, axe_path))
    page.screenshot(path=str(shots / f"messages-{name}-{size}.png"), full_page=True)


@pytest.mark.parametrize("size", SIZES)
def test_a_patient_writes_and_her_physiotherapist_answers(
        world: World, person: Person, axe: Path,  # noqa: F811
        screenshot_dir: Path, size: str) -> None:
    _, episode = refer(world, "Maja Lind", "maja")
    problems: list[str] = []

    patient = person(**SIZES[size])
    log_in(patient, "maja")
    patient.goto("/today")
    patient.get_by_role("link", name="Messages to and from your clinic").click()
    expect(patient.get_by_role("heading", name="Messages", exact=True)).to_be_visible()
    question = "Is it normal that it aches (pain < 4) after walking?"
    patient.get_by_label("Your message").fill(question)
    patient.get_by_role("button", name="Send").click()
    expect(patient.get_by_role("status")).to_contain_text("Your message is sent")
    expect(patient.locator(".thread .text").last).to_have_text(question)
    _checked(patient, axe, "/messages", size, screenshot_dir, "patient-sent", problems)

    physio = person(**SIZES[size])
    log_in(physio, "physio")
    physio.goto("/worklist")
    expect(physio.locator("#unread-total")).to_contain_text("1 unread message from patients")
    _checked(physio, axe, "/worklist", size, screenshot_dir, "worklist", problems)
    physio.goto(f"/patients/{episode}#messages")
    section = physio.locator("#messages")
    expect(section.locator(".thread .text").last).to_have_text(question)
    section.get_by_label("Your message").fill("Yes, a little. Walk a bit less for a week.")
    section.get_by_role("button", name="Send").click()
    expect(section.locator(".thread .text").last).to_have_text(
        "Yes, a little. Walk a bit less for a week.")
    _checked(physio, axe, f"/patients/{episode}", size, screenshot_dir, "physio-answered",
             problems)
    section.get_by_role("button", name="Call back").click()
    expect(physio.locator("#messages")).to_contain_text("Call back task on the worklist")
    physio.goto("/worklist")
    expect(physio.locator("#unread-total")).to_contain_text("No unread messages")
    expect(physio.get_by_role("link", name="Call back Maja Lind")).to_be_visible()

    patient.goto("/today")
    patient.get_by_role("link", name="Messages: 1 new from your clinic").click()
    expect(patient.locator(".thread .text").last).to_have_text(
        "Yes, a little. Walk a bit less for a week.")
    _checked(patient, axe, "/messages", size, screenshot_dir, "patient-answer", problems)
    assert not problems, "\n".join(problems)
