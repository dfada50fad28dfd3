"""One's account in a real browser: a patient on a phone changes the password their clinician
gave them, and every other login of theirs ends."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Person, log_in
from tests.service.conftest import World, refer

NEW_PASSWORD = "my-own-secret-words"


def test_a_patient_on_a_phone_changes_the_password_their_clinician_gave_them(
        world: World, person: Person, screenshot_dir) -> None:  # type: ignore[no-untyped-def]
    refer(world, "Anna Ek", "anna")
    laptop, phone = person(), person(**PHONE)
    log_in(laptop, "anna")
    log_in(phone, "anna")

    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Account").tap()
    expect(phone.get_by_role("heading", name="Your account")).to_be_visible()
    phone.get_by_label("Current password").fill("not-what-i-was-given")
    phone.get_by_label("New password (at least 8 characters)").fill(NEW_PASSWORD)
    phone.get_by_label("New password again").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Change password").tap()
    expect(phone.get_by_role("alert")).to_contain_text("That is not your current password.")
    expect(phone.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    phone.screenshot(path=str(screenshot_dir / "account-wrong-password-phone.png"),
                     full_page=True)

    phone.get_by_label("Current password").fill("correct-horse-battery")
    phone.get_by_label("New password (at least 8 characters)").fill(NEW_PASSWORD)
    phone.get_by_label("New password again").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Change password").tap()

    expect(phone.get_by_role("heading", name="Log in")).to_be_visible()
    expect(phone.get_by_role("status")).to_contain_text("Log in with your new password")
    phone.get_by_label("Username").fill("anna")
    phone.get_by_label("Password").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Log in").tap()
    expect(phone.get_by_role("button", name="Log out")).to_be_visible()

    laptop.goto("/today")  # the other device's session has ended
    expect(laptop.get_by_role("heading", name="Log in")).to_be_visible()
