"""The admins' staff accounts page in a real browser: an admin lands on it, adds a member of
staff, and on a phone deactivates, reactivates and gives a new password to a colleague whose
logins then end. Every page carries our favicon."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Person, log_in
from tests.service.conftest import World

NEW_PASSWORD = "a-fresh-start-for-you"


def test_an_admin_lands_on_staff_accounts_and_adds_a_physiotherapist(
        world: World, person: Person, screenshot_dir) -> None:  # type: ignore[no-untyped-def]
    admin = person()
    log_in(admin, "admin")
    expect(admin).to_have_url(re.compile(r"/staff$"))
    expect(admin.get_by_role("heading", name="Staff accounts")).to_be_visible()
    expect(admin.get_by_role("button", name="Deactivate physio", exact=True)).to_be_visible()
    expect(admin.get_by_role("button", name="Deactivate admin")).to_have_count(0)  # not oneself

    admin.get_by_label("Username").fill("newphysio")
    admin.get_by_label("Full name").fill("Nora Nyström")
    admin.get_by_label("Password (at least 8 characters)").fill(NEW_PASSWORD)
    admin.get_by_label("Role").select_option("physiotherapist")
    admin.get_by_role("button", name="Add the account").click()
    expect(admin.get_by_role("alert")).to_contain_text("Choose the clinic of a physiotherapist")
    expect(admin.get_by_label("Username")).to_have_value("newphysio")

    admin.get_by_label("Password (at least 8 characters)").fill(NEW_PASSWORD)
    admin.get_by_label("Clinic").select_option(label="North Physio")
    admin.get_by_role("button", name="Add the account").click()
    expect(admin.get_by_role("status")).to_contain_text("Account newphysio added.")
    expect(admin.get_by_text("Nora Nyström")).to_be_visible()
    # The page after a change was fetched anew (POST-redirect-GET): a reload adds nobody twice.
    expect(admin).to_have_url(re.compile(r"/staff\?done=add&user_id=\d+$"))
    admin.reload()
    expect(admin.get_by_role("status")).to_contain_text("Account newphysio added.")
    expect(admin.get_by_text("Nora Nyström")).to_have_count(1)
    admin.screenshot(path=str(screenshot_dir / "staff-accounts-desktop.png"), full_page=True)

    newcomer = person()
    newcomer.goto("/login")
    newcomer.get_by_label("Username").fill("newphysio")
    newcomer.get_by_label("Password").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Log in").click()
    expect(newcomer).to_have_url(re.compile(r"/worklist$"))


def test_every_page_shows_our_own_favicon(world: World, person: Person) -> None:
    page = person()
    page.goto("/login")
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("href", "/static/favicon.svg")
    answer = page.request.get("/static/favicon.svg")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in answer.text()


def test_an_admin_on_a_phone_deactivates_reactivates_and_resets_a_colleague(
        world: World, person: Person, screenshot_dir) -> None:  # type: ignore[no-untyped-def]
    colleague, admin = person(), person(**PHONE)
    log_in(colleague, "physio")
    log_in(admin, "admin")
    assert admin.evaluate("document.documentElement.scrollWidth") <= 375

    admin.get_by_role("button", name="Deactivate physio", exact=True).tap()
    expect(admin.get_by_role("status")).to_contain_text("Account physio deactivated")
    colleague.goto("/worklist")  # their login has ended at once
    expect(colleague.get_by_role("heading", name="Log in")).to_be_visible()
    colleague.get_by_label("Username").fill("physio")
    colleague.get_by_label("Password").fill("correct-horse-battery")
    colleague.get_by_role("button", name="Log in").click()
    expect(colleague.get_by_role("alert")).to_be_visible()

    admin.get_by_role("button", name="Reactivate physio", exact=True).tap()
    expect(admin.get_by_role("status")).to_contain_text("Account physio reactivated")

    admin.get_by_text("New password for physio", exact=True).tap()
    admin.get_by_label("New password for physio (at least 8 characters)").fill(NEW_PASSWORD)
    admin.get_by_label("New password for physio again").fill("something-else")
    admin.get_by_role("button", name="Set the new password").first.tap()
    expect(admin.get_by_role("alert")).to_contain_text("The two new passwords differ")
    admin.get_by_text("New password for physio", exact=True).tap()
    admin.get_by_label("New password for physio (at least 8 characters)").fill(NEW_PASSWORD)
    admin.get_by_label("New password for physio again").fill(NEW_PASSWORD)
    admin.screenshot(path=str(screenshot_dir / "staff-accounts-new-password-phone.png"),
                     full_page=True)
    admin.locator("details[open]").get_by_role("button", name="Set the new password").tap()
    expect(admin.get_by_role("status")).to_contain_text("given a new password")

    colleague.goto("/login")
    colleague.get_by_label("Username").fill("physio")
    colleague.get_by_label("Password").fill(NEW_PASSWORD)
    colleague.get_by_role("button", name="Log in").click()
    expect(colleague).to_have_url(re.compile(r"/worklist$"))
