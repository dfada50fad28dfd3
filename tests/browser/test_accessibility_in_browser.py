"""The main pages of every role pass axe-core's automated accessibility check (the npm
package, injected by the test from node_modules) with no serious or critical violations, on a
laptop and on a phone. axe finds about a third of the problems a person would (contrast,
names, labels, landmarks, ARIA misuse); the keyboard and screen-reader tests beside it cover
more."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import DESKTOP, PHONE, Person, log_in
from tests.service.conftest import (
    A,
    World,
    complete,
    find_task,
    refer,
    through_first_visit,
    unavailable,
)

AXE = Path("axe-core") / "axe.min.js"
SERIOUS = ("serious", "critical")
SIZES = {"1280": DESKTOP, "375": PHONE}


def run_axe(page: Page, axe: Path) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA rules and best
    practices), only the serious and critical ones."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script> element: the pages' Content-Security-Policy
        # runs no inline script, and Playwright's evaluate is not subject to it.
        page.evaluate(axe.read_text())
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [v for v in violations if v.get("impact") in SERIOUS]


def describe(url: str, size: str, violations: list[dict[str, Any]]) -> list[str]:
    return [f"{url} at {size} px: {v['id']} ({v['impact']}): {v['help']}; "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            for v in violations]


@pytest.fixture
def axe(world: World) -> Path:
    path = world.settings.node_modules / AXE
    if not path.is_file():
        unavailable(f"axe-core is not installed at {path}; run `npm ci`")
    return path


def _scene(world: World) -> dict[str, list[str]]:
    """Patients at the stages whose pages people use most; each role's pages to check."""
    maja, maja_episode = refer(world, "Maja Lind", "maja")
    through_first_visit(world, maja, "medium_start_back")
    eva, _ = refer(world, "Eva Holm", "eva")
    complete(eva, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    questionnaire = find_task(eva, "intake_questionnaires")["task_id"]
    olle, _ = refer(world, "Olle Berg", "olle")
    complete(olle, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(olle, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    first_visit = find_task(world.client("physio"), "first_visit")["task_id"]
    return {
        "": ["/login"],
        "maja": ["/today", "/exercise", "/progress", "/account"],
        "eva": [f"/questionnaire/{questionnaire}"],
        "physio": ["/worklist", f"/tasks/{first_visit}", f"/patients/{maja_episode}"],
        "manager": ["/models", "/models/1/analytics"],
        "auditor": ["/audit"],
        "admin": ["/staff"],
    }


@pytest.mark.parametrize("size", SIZES)
def test_every_roles_main_pages_have_no_serious_accessibility_violations(
        world: World, person: Person, axe: Path, screenshot_dir: Path, size: str) -> None:
    pages = _scene(world)
    problems: list[str] = []
    for username, urls in pages.items():
        page = person(**SIZES[size])
        if username:
            log_in(page, username)
        for url in urls:
            answer = page.goto(url)
            assert answer is not None and answer.ok, (url, answer and answer.status)
            page.wait_for_load_state("networkidle")
            problems += describe(url, size, run_axe(page, axe))
            name = url.strip("/").split("/")[0] or "home"
            page.screenshot(path=str(screenshot_dir / f"a11y-{name}-{size}.png"),
                            full_page=True)
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_problem_when_there_is_one(
        world: World, person: Person, axe: Path) -> None:
    """The check itself works: an unlabelled field and low-contrast text are reported."""
    page = person()
    page.goto("/login")
    page.evaluate("""() => {
        document.getElementById('username').removeAttribute('id');
        document.querySelector('h1').style.color = '#ddd';
    }""")
    found: Callable[[], set[str]] = lambda: {v["id"] for v in run_axe(page, axe)}  # noqa: E731
    assert {"label", "color-contrast"} <= found()
