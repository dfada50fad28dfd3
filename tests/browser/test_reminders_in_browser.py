"""The account page's reminder settings in a real browser, on a laptop (1280 px) and a phone
(375 px): a patient gives an address, chooses a time and quiet hours, is told about a wrong
time next to the field, and makes a private calendar link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Person, log_in
from tests.service.conftest import World, refer


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_a_patient_sets_their_reminders_on_the_account_page(
        world: World, person: Person, screenshot_dir, device: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    refer(world, "Anna Ek", "anna")
    page: Page = person(**device)
    log_in(page, "anna")
    page.goto("/account")
    section = page.get_by_role("region", name="Reminders")
    expect(section).to_be_visible()
    expect(page.get_by_label("Send me reminder emails")).to_be_checked()
    page.get_by_label("Email address").fill("anna@example.org")
    page.get_by_label("Time of the daily reminder").fill("07:30")
    page.get_by_label("Quiet hours start (optional)").fill("22:00")
    page.get_by_role("button", name="Save reminder settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Give quiet hours a start and an end")
    expect(page.get_by_label("Quiet hours start (optional)")).to_have_attribute(
        "aria-invalid", "true")
    page.get_by_label("Quiet hours end (optional)").fill("08:00")
    page.get_by_role("button", name="Save reminder settings").click()
    expect(page.get_by_role("status")).to_contain_text("Your reminder settings are saved.")
    expect(page.get_by_label("Time of the daily reminder")).to_have_value("07:30")
    expect(page.get_by_label("Email address")).to_have_value("anna@example.org")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= device["viewport"]["width"], "the page scrolls sideways"
    page.get_by_role("button", name="Make a calendar link").click()
    expect(page.locator("#calendar-url")).to_contain_text("/calendar/")
    name = "1280" if device is DESKTOP else "375"
    page.get_by_role("region", name="Reminders").screenshot(
        path=str(screenshot_dir / f"account-reminders-{name}.png"))
