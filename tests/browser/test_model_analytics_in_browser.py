"""A manager sees where patients wait, drawn over the pathway's diagram in Chromium: steps
shaded and labelled with the episodes waiting and the median time, paths out of decisions
labelled with how often they were taken; on a desktop and on a phone, with the same numbers
in the table below."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.service.conftest import complete, follow_up_answers, refer, through_first_visit

from .conftest import DESKTOP, PHONE, Person, World, log_in


def test_the_manager_sees_the_waiting_counts_and_paths_on_the_diagram(
        world: World, person: Person, screenshot_dir: Path) -> None:
    maja, _ = refer(world, "Maja Lind", "maja")
    olle, _ = refer(world, "Olle Berg", "olle")
    refer(world, "Nils Ek", "nils")
    for client in (maja, olle):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2, days=1))
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))

    for size, options in (("1280", DESKTOP), ("375", PHONE)):
        page = person(**options)
        log_in(page, "manager")
        page.get_by_role("link", name="Where patients wait on version 1").click()
        diagram = page.locator("[data-carepath-diagram][data-file='betterback.bpmn']")
        expect(diagram).to_have_attribute("data-carepath-diagram", "drawn")
        # Olle waits at his 2-week follow-up: shaded, and labelled with the count and median.
        follow_up = diagram.locator(".djs-element[data-element-id='follow_up_2w']")
        expect(follow_up).to_have_class(re.compile(r"carepath-heat-[1-4]"))
        label = diagram.locator(".djs-overlays[data-container-id='follow_up_2w'] "
                                ".carepath-heat-count")
        expect(label).to_have_text("1 waiting · median 0.0 h")
        timer = diagram.locator(".djs-overlays[data-container-id='follow_up_2w_timer'] "
                                ".carepath-heat-count")
        expect(timer).to_have_text("0 waiting · median 15.0 d")
        expect(diagram.locator(".carepath-branch-count").first).to_be_visible()
        expect(page.locator("#analytics-steps tr[data-element='follow_up_2w'] td").first) \
            .to_have_text("1")
        if size == "375":
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, \
                "sideways scrolling"
        page.screenshot(path=str(screenshot_dir / f"model-analytics-{size}.png"),
                        full_page=True)
