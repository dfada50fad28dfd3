"""An auditor's pages in Chromium: the indicators of a period with the month-by-month chart,
and the log page saying the event log is whole, on a laptop and on a phone."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from service.core.tables import Event
from tests.service.conftest import refer, through_first_visit

from .conftest import DESKTOP, PHONE, Person, World, log_in, wait_until


def test_an_auditor_reads_the_indicators_and_checks_the_log(
        world: World, person: Person, screenshot_dir: Path) -> None:
    for name, username, stratum in (("Maja Lind", "maja", "low_start_back"),
                                    ("Olle Berg", "olle", "high_start_back")):
        client, _ = refer(world, name, username)
        through_first_visit(world, client, stratum)
    world.clock.advance(timedelta(days=15))  # past indicator 4's 14 days: Olle never exercised
    world.sweep()
    events = world.count(Event)
    for size, options in (("1280", DESKTOP), ("375", PHONE)):
        page = person(**options)
        log_in(page, "auditor")
        expect(page).to_have_url(re.compile(r"/audit$"))
        expect(page.get_by_role("heading", name="Guideline adherence")).to_be_visible()
        overall = page.locator("section", has=page.get_by_role("heading",
                                                                name="All clinics: 2 episodes"))
        row = overall.locator("tr", has_text="Risk stratified at first contact").first
        expect(row).to_contain_text("2 / 2")
        expect(row).to_contain_text("100%")
        wait_until(page, "document.getElementById('trend-chart').width > 0")
        assert page.evaluate("document.documentElement.scrollWidth") <= int(size), \
            "sideways scrolling"
        page.screenshot(path=str(screenshot_dir / f"30-audit-{size}.png"), full_page=True)
        assert "Maja" not in page.content() and "Olle" not in page.content()

        overall.get_by_role("link", name="1 episode not meeting it, and why").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("4. Medium/high risk")
        expect(page.locator("#breaches tbody tr")).to_have_count(1)
        expect(page.locator("#breaches")).to_contain_text("Episode 2")
        page.screenshot(path=str(screenshot_dir / f"32-audit-breaches-{size}.png"),
                        full_page=True)
        assert "Olle" not in page.content()
        page.go_back()

        page.get_by_role("link", name="Conformance", exact=True).click()
        expect(page.locator("#summary-title")).to_contain_text(re.compile(r"of 2 episodes"))
        assert page.evaluate("document.documentElement.scrollWidth") <= int(size), \
            "sideways scrolling"
        page.screenshot(path=str(screenshot_dir / f"33-audit-conformance-{size}.png"),
                        full_page=True)

        page.get_by_role("link", name="Log", exact=True).click()
        expect(page.locator("#verify-result")).to_contain_text(f"{events} events chain correctly")
        expect(page.locator("#events tbody tr")).to_have_count(min(events, 50))
        assert page.evaluate("document.documentElement.scrollWidth") <= int(size), \
            "sideways scrolling"
        page.screenshot(path=str(screenshot_dir / f"31-audit-log-{size}.png"), full_page=True)
        with page.expect_download() as exported:
            page.get_by_role("button", name="Events for process mining (XES)").click()
        xes = Path(exported.value.path()).read_text()
        assert xes.count("<trace>") == 2 and "Maja" not in xes
        assert "pseudonymised" in exported.value.suggested_filename
    assert world.count(Event) == events  # reading changes nothing
