"""The pages work under the Content-Security-Policy (service/core/security_headers.py): each
role's landing page, the clinician's patient page (diagram and chart), the patient's
progress chart, the auditor's chart, the model editor (bpmn-js, dmn-js) and the API
documentation (Swagger UI) load and run in Chromium at 1280 pixels with no policy violation
and no error in the console."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.test_model_editor_in_browser import open_a_copy_of_version_1
from tests.service.conftest import refer, through_first_visit

from .conftest import DESKTOP, Person, World, log_in, wait_until

WATCH = """document.addEventListener('securitypolicyviolation', (event) => {
  window.reportViolation(`${location.pathname}: ${event.violatedDirective} blocked `
                         + (event.blockedURI || 'inline'));
});"""
"""Every violation the browser reports, from the first script of every page on."""

LANDING = {"anna": ("/today", "Today"), "physio": ("/worklist", "Worklist"),
           "lead": ("/worklist", "Worklist"), "manager": ("/models", "Model library"),
           "auditor": ("/audit", "Guideline adherence"), "admin": ("/staff", "Staff accounts")}


def watched(person: Person) -> tuple[Page, list[str]]:
    """A person's page that notes every policy violation and console error."""
    page = person(**DESKTOP)
    problems: list[str] = []
    page.expose_function("reportViolation", lambda text: problems.append(text))
    page.add_init_script(WATCH)

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return page, problems


def test_every_landing_page_the_editor_and_the_api_docs_run_under_the_policy(
        world: World, person: Person) -> None:
    patient, episode_id = refer(world, "Anna Andersson", "anna")
    through_first_visit(world, patient, "high_start_back")
    problems: list[str] = []
    for username, (path, heading) in LANDING.items():
        page, seen = watched(person)
        log_in(page, username)
        expect(page).to_have_url(re.compile(f"{path}$"))
        expect(page.get_by_role("heading", name=heading, exact=False).first).to_be_visible()
        if username == "auditor":
            wait_until(page, "document.getElementById('trend-chart').width > 0")
        if username == "physio":
            page.goto(f"/patients/{episode_id}")
            page.wait_for_load_state("networkidle")
        if username == "anna":
            page.goto("/progress")
            page.wait_for_load_state("networkidle")
        page.wait_for_load_state("networkidle")
        problems += seen

    page, seen = watched(person)
    open_a_copy_of_version_1(page)
    expect(page.locator(".editor-file[aria-current=true]")).to_have_text("betterback.bpmn")
    expect(page.locator(".djs-container svg").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    problems += seen

    page, seen = watched(person)
    page.goto("/docs")
    expect(page.locator(".opblock-summary", has_text="/api/tasks").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    problems += seen
    assert problems == []
