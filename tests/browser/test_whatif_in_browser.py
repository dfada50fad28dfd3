"""What if a draft were deployed, in Chromium: a manager asks for the comparison of a draft
that moves the 6-week follow-up to 4 weeks, follows the run, and reads the chart, the table
and the CSV link, on a desktop and on a phone."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from sqlmodel import select

from service.core.db import transaction
from service.core.tables import ModelDraft, ModelVersion

from .conftest import DESKTOP, PHONE, Person, World, log_in, wait_until


def four_week_follow_up_draft(world: World) -> int:
    with transaction(world.db, write=True) as session:
        version = session.exec(select(ModelVersion)
                               .where(ModelVersion.active == True)).one()  # noqa: E712
        files = dict(version.files)
        files["pathway.toml"] = files["pathway.toml"].replace(
            "follow_up_weeks = [2, 6, 12]", "follow_up_weeks = [2, 4, 12]")
        draft = ModelDraft(name="Follow-up at 4 weeks", base_version_id=version.id,
                           files=files, updated_at=world.clock.now())
        session.add(draft)
        session.flush()
        return draft.id or 0


def test_a_manager_compares_a_draft_with_the_deployed_version(
        world: World, person: Person, screenshot_dir: Path) -> None:
    draft_id = four_week_follow_up_draft(world)
    page = person(**DESKTOP)
    log_in(page, "manager")
    page.get_by_role("link", name="what if it were deployed?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"What if draft {draft_id} (Follow-up at 4 weeks) were deployed?")
    page.get_by_label("Patients", exact=True).fill("20")
    page.get_by_label("Weeks from each referral").fill("9")
    page.screenshot(path=str(screenshot_dir / "60-whatif-form-1280.png"), full_page=True)
    page.get_by_role("button", name="Run the comparison").click()
    expect(page).to_have_url(re.compile(r"/models/whatif/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", name="Done")).to_be_visible(timeout=60_000)
    table = page.locator("#whatif-table")
    expect(table).to_contain_text("Tasks per week: physiotherapist")
    expect(table).to_contain_text("Median days to discharge")
    wait_until(page, "window.Chart !== undefined && "
                     "window.Chart.getChart(document.getElementById('whatif-chart')) "
                     "!== undefined")
    csv_link = page.get_by_role("link", name="Download the comparison (CSV)")
    expect(csv_link).to_have_attribute("href", re.compile(r"/comparison\.csv$"))
    page.screenshot(path=str(screenshot_dir / "61-whatif-result-1280.png"), full_page=True)

    phone = person(**PHONE)
    log_in(phone, "manager")
    phone.goto(page.url)
    expect(phone.get_by_role("heading", name="Done")).to_be_visible()
    wide = phone.evaluate("document.documentElement.scrollWidth")
    assert wide <= 375, f"the page is {wide} px wide on a 375 px phone"
    phone.screenshot(path=str(screenshot_dir / "62-whatif-result-375.png"), full_page=True)
