"""The model editor's browser side without the server's draft routes: the bundles build, the
editor's moddle descriptor writes back every spiffworkflow element and script of the reference
pathway, read-only diagrams draw with their markers, and the editor page (its template
rendered here, the draft API answered by the test) opens, edits and saves the reference
bundle in Chromium.

Node (from scripts/setup.sh's npm) runs the build and the round trip; without it, or without
Chromium, these tests skip locally and fail in CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import Browser, Page, Route, expect

from pathways.models import load_bundle, read_bundle_dir
from service.core.pages import TEMPLATES, VENDOR_FILES, Viewer
from tests.browser.conftest import DESKTOP, PHONE, TIMEOUT_MS
from tests.service.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bpmn" / "betterback"
NODE_MODULES = ROOT / "node_modules"
ORIGIN = "http://carepath.test"
"""Never resolved: the test answers every request of the page itself (Playwright routes)."""
CSRF = "csrf-token-of-the-test"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
TEXTS = {BPMN + name for name in ("script", "conditionExpression", "timeDate", "timeDuration",
                                  "timeCycle", "documentation", "loopCardinality",
                                  "loopDataInputRef", "loopDataOutputRef")}


def node() -> str:
    found = shutil.which("node")
    if found is None:
        unavailable("node is not installed (scripts/setup.sh installs npm)")
    return found or "node"


@pytest.fixture(scope="module")
def built() -> None:
    """The bundles, built as scripts/setup.sh builds them."""
    if not (NODE_MODULES / "esbuild").is_dir():
        unavailable("node_modules has no esbuild: run scripts/setup.sh (npm ci)")
    subprocess.run([node(), "scripts/bundle.mjs"], cwd=ROOT, check=True, capture_output=True)


def test_the_bundles_are_built_beside_the_libraries_with_their_fonts_inside(
        built: None) -> None:
    for name in ("carepath-editor.js", "carepath-editor.css", "carepath-diagram.js"):
        assert (NODE_MODULES / VENDOR_FILES[name]).stat().st_size > 100_000, name
    css = (NODE_MODULES / VENDOR_FILES["carepath-editor.css"]).read_text()
    assert "bpmn-icon-user-task" in css and "dmn-icon-decision-table" in css
    # The icon fonts are inside the CSS as WOFF ("wOF" in base64); only the old formats no
    # browser asks for stay references (a request for them would 404).
    assert css.count(";base64,d09G") >= 2
    references = {url for url in re.findall(r"url\([\"']?([^)\"']+)", css)
                  if not url.startswith("data:")}
    assert all(re.search(r"\.(eot|ttf|svg)([?#]|$)", url) for url in references), references


# -- the moddle round trip


def moddle_facts(root: Any) -> list[tuple[str | None, str, tuple[tuple[str, str], ...],
                                          str | None]]:
    """Every spiffworkflow element, script, condition, timer and documentation, with the id of
    the element it belongs to, its attributes and its text."""
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments: the editor warns that it drops them
        if element.tag.startswith(SPIFF) or element.tag in TEXTS:
            owner = element
            while owner.get("id") is None:
                owner = owner.getparent()
            found.append((owner.get("id"), element.tag, tuple(sorted(element.attrib.items())),
                          element.text if len(element) == 0 else None))
    return found


def test_opening_and_saving_a_model_keeps_every_carepath_element_and_script() -> None:
    files = sorted(BUNDLE.glob("*.bpmn"))
    if not (NODE_MODULES / "bpmn-moddle").is_dir():
        unavailable("node_modules has no bpmn-moddle: run scripts/setup.sh (npm ci)")
    run = subprocess.run([node(), str(Path(__file__).with_name("moddle_round_trip.mjs")),
                          *map(str, files)], check=True, capture_output=True, text=True)
    written = json.loads(run.stdout)
    for file in files:
        result = written[str(file)]
        assert result["warnings"] == [], file.name
        assert result["untyped"] == [], f"{file.name}: elements the descriptor does not type"
        before = moddle_facts(etree.parse(str(file)).getroot())
        after = moddle_facts(etree.fromstring(result["xml"].encode()))
        assert len(before) > 10 and after == before, file.name
        assert "BPMNShape" in result["xml"], f"{file.name}: laid out"
    # Saved as the editor saves them, the bundle still passes every deploy-time check.
    bundle = read_bundle_dir(BUNDLE)
    bundle.update({file.name: written[str(file)]["xml"].encode() for file in files})
    load_bundle(bundle)


# -- read-only diagrams (carepath-diagram.js)


def serve_static(route: Route, path: str) -> bool:
    if path == "/static/carepath.css":
        route.fulfill(path=str(ROOT / "service" / "static" / "carepath.css"))
        return True
    name = path.removeprefix("/static/vendor/")
    if name != path and name in VENDOR_FILES:
        route.fulfill(path=str(NODE_MODULES / VENDOR_FILES[name]))
        return True
    return False


def bundle_files() -> dict[str, str]:
    return {str(p.relative_to(BUNDLE)): p.read_text() for p in sorted(BUNDLE.rglob("*"))
            if p.suffix in (".bpmn", ".dmn", ".json", ".toml")}


DIAGRAM_PAGE = """<!doctype html><html lang="en"><head><title>diagrams</title>
<link rel="stylesheet" href="/static/carepath.css">
<link rel="stylesheet" href="/static/vendor/diagram-js.css">
<link rel="stylesheet" href="/static/vendor/bpmn-js.css">
<script src="/static/vendor/carepath-diagram.js" defer></script></head><body><main>
<div class="diagram" id="changes" data-carepath-diagram data-src="/api/models/1/files"
  data-file="red_flag_check.bpmn"
  data-markers='{"triage_red_flags": "changed", "red_flag_check_done": "added",
                 "no_such_step": "added"}'>
</div>
<div class="diagram" id="broken" data-carepath-diagram data-src="/missing.bpmn"></div>
</main></body></html>"""


def test_a_diagram_without_layout_is_drawn_with_its_changes_tagged_in_words(
        built: None, browser: Browser) -> None:
    files = bundle_files()
    ids = re.findall(r'<bpmn:(?:businessRuleTask|endEvent) id="([^"]+)"',
                     files["red_flag_check.bpmn"])
    assert {"triage_red_flags", "red_flag_check_done"} <= set(ids), ids

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body=DIAGRAM_PAGE, content_type="text/html")
        elif path == "/api/models/1/files":
            route.fulfill(json=files)
        elif not serve_static(route, path):
            route.fulfill(status=404, body="not found")

    context = browser.new_context(**DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.route(ORIGIN + "/**", answer)
    page.goto(ORIGIN + "/")
    expect(page.locator("#changes")).to_have_attribute("data-carepath-diagram", "drawn")
    expect(page.locator("#broken")).to_have_attribute("data-carepath-diagram", "failed")
    expect(page.locator("#broken")).to_contain_text("The diagram could not be drawn")
    changes = page.locator("#changes")
    expect(changes.locator(".djs-element.carepath-changed")).to_have_count(1)
    expect(changes.locator(".djs-element.carepath-added")).to_have_count(1)
    expect(changes.locator(".carepath-tag")).to_have_text(["changed", "added"])
    expect(page.locator(".carepath-legend")).to_contain_text('"added" (green)')
    context.close()


# -- the editor page, its API answered here


@dataclass(frozen=True)
class EditorPage:
    """The fields models/editor.html reads (the server's page dataclass has the same)."""

    draft_id: int = 7
    name: str = "BetterBack low back pain pathway"
    base_version_id: int | None = 1
    deployed_version_id: int | None = None
    roles: tuple[str, ...] = ("patient", "physiotherapist", "clinic_lead")
    alerts: tuple[str, ...] = ("emergency", "red_flag", "exercise", "not_improving",
                               "education")
    education_modules: tuple[tuple[str, str], ...] = (("pain_science", "Why backs hurt"),)
    helpers: tuple[str, ...] = ("iso_duration", "weeks_after")


@dataclass
class DraftServer:
    """The draft API as the editor uses it: files kept in memory, every PUT recorded."""

    files: dict[str, str]
    problems: list[dict[str, Any]]
    saved: list[tuple[str, str, str | None]]
    html: str

    def answer(self, route: Route) -> None:
        request = route.request
        path = request.url.removeprefix(ORIGIN).split("?")[0]
        base = "/api/models/drafts/7"
        if path == "/models/drafts/7":
            route.fulfill(body=self.html, content_type="text/html")
        elif path == base:
            route.fulfill(json={"id": 7, "name": "x", "base_version_id": 1,
                                "deployed_version_id": None, "updated_at": "2026-12-01T10:00Z",
                                "files": self.files})
        elif path.startswith(base + "/files/") and request.method == "PUT":
            name = path.removeprefix(base + "/files/")
            text = json.loads(request.post_data or "{}")["text"]
            self.saved.append((name, text, request.headers.get("x-csrf-token")))
            self.files[name] = text
            route.fulfill(json={"name": name, "saved_at": "2026-12-01T14:02:00+01:00"})
        elif path == base + "/problems":
            route.fulfill(json={"deployable": not self.problems, "problems": self.problems})
        elif not serve_static(route, path):
            route.fulfill(status=404, json={"detail": f"no route {path} here"})


@pytest.fixture
def draft_server() -> DraftServer:
    html = TEMPLATES.get_template("models/editor.html").render(
        page=EditorPage(), viewer=Viewer(id=1, name="Mona", role="manager", csrf_token=CSRF))
    problems = [
        {"file": "betterback.bpmn", "element": "follow_up_6w_timer", "message": "unknown name"},
        {"file": "red_flag_triage.dmn", "element": "rf_cancer", "message": "overlaps"},
        {"file": "pathway.toml", "element": None, "message": "pi_sessions must be 1 to 12"},
    ]
    return DraftServer(bundle_files(), problems, [], html)


@pytest.fixture
def editor(built: None, browser: Browser, draft_server: DraftServer) -> Iterator[Page]:
    context = browser.new_context(**DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(ORIGIN + "/**", draft_server.answer)
    page.goto(ORIGIN + "/models/drafts/7")
    page.evaluate("window.carepathEditor.ready")
    yield page
    context.close()
    assert errors == []


def select(page: Page, element_id: str) -> None:
    page.evaluate("""async (id) => {
        const modeler = await window.carepathEditor.modeler('betterback.bpmn');
        modeler.get('selection').select(modeler.get('elementRegistry').get(id));
    }""", element_id)


def test_a_manager_edits_a_timer_and_a_task_and_the_draft_is_saved(
        editor: Page, draft_server: DraftServer, screenshot_dir: Path) -> None:
    page = editor
    # The main process opens first, drawn as shipped (it carries its diagram); opening it
    # saves nothing.
    expect(page.locator(".editor-file[aria-current=true]")).to_have_text("betterback.bpmn")
    expect(page.locator(".editor-pane:not([hidden]) .djs-element")).not_to_have_count(0)
    expect(page.locator("#editor-status")).not_to_contain_text("laid out automatically")
    assert draft_server.saved == []

    select(page, "red_flag_screen")
    group = page.locator("[data-group-id='group-carepath']")
    expect(group.locator("#bio-properties-panel-carepath-form")).to_have_value("red_flag_screen")
    expect(group.locator("#bio-properties-panel-carepath-role")).to_have_value("")
    group.locator("#bio-properties-panel-carepath-role").select_option("physiotherapist")
    group.locator("#bio-properties-panel-carepath-alert").select_option("red_flag")

    select(page, "follow_up_6w_timer")
    value = page.locator("#bio-properties-panel-timerEventDefinitionValue")
    expect(value).to_have_value("weeks_after(care_started_at, settings['follow_up_weeks'][1])")
    value.fill("weeks_after(care_started_at, 7)")
    expect(page.locator("#editor-status")).to_have_text(re.compile(r"^Saved \d\d:\d\d\.$"))
    page.screenshot(path=str(screenshot_dir / "editor-1-timer.png"))

    name, text, token = draft_server.saved[-1]
    assert (name, token) == ("betterback.bpmn", CSRF)
    assert "weeks_after(care_started_at, 7)" in text and "BPMNShape" in text
    task = etree.fromstring(text.encode()).find(f".//{BPMN}userTask[@id='red_flag_screen']")
    properties = {p.get("name"): p.get("value") for p in task.iter(SPIFF + "property")}
    assert properties["role"] == "physiotherapist" and properties["alert"] == "red_flag"
    assert properties["form"] == "red_flag_screen"


def test_validation_marks_problems_and_deploy_waits_for_a_clean_one(
        editor: Page, draft_server: DraftServer, screenshot_dir: Path) -> None:
    page = editor
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#editor-status")).to_contain_text("3 problems found")
    problems = page.locator("#editor-problem-list .editor-problem")
    expect(problems).to_have_count(3)
    expect(page.locator(".djs-element.carepath-problem")).to_have_count(1)
    expect(page.locator(".editor-problem-badge")).to_have_text("⚠ 1 problem")
    expect(page.get_by_role("button", name="Deploy")).to_be_disabled()
    page.screenshot(path=str(screenshot_dir / "editor-2-problems.png"), full_page=True)

    problems.filter(has_text="rf_cancer").click()  # opens the decision table at that rule
    expect(page.locator(".editor-file[aria-current=true]")).to_contain_text("red_flag_triage")
    expect(page.locator(".editor-pane:not([hidden]) .tjs-table")).to_be_visible()
    expect(page.locator(".carepath-problem-cell").first).to_be_visible()

    draft_server.problems.clear()
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#editor-status")).to_contain_text("No problems found")
    expect(page.get_by_role("button", name="Deploy")).to_be_enabled()
    expect(page.locator(".djs-element.carepath-problem")).to_have_count(0)


def test_a_form_shows_its_preview_and_the_page_fits_a_phone(
        built: None, browser: Browser, draft_server: DraftServer, screenshot_dir: Path) -> None:
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    page.route(ORIGIN + "/**", draft_server.answer)
    page.goto(ORIGIN + "/models/drafts/7")
    page.evaluate("window.carepathEditor.ready")
    page.evaluate("window.carepathEditor.validate()")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "sideways scrolling"
    page.screenshot(path=str(screenshot_dir / "editor-3-phone.png"), full_page=True)

    page.locator(".editor-file[data-file='forms/weekly_check_in.json']").tap()
    pane = page.locator(".editor-pane[data-file='forms/weekly_check_in.json']")
    preview = pane.locator(".editor-preview")
    expect(preview.get_by_role("group", name="Did that pain settle by the next morning?")
           ).to_be_visible()
    text = pane.locator("textarea")
    text.fill(text.input_value().replace("Pain this week, 0 to 10", "Pain this week"))
    expect(preview.get_by_label("Pain this week (required)")).to_be_visible()
    expect(page.locator("#editor-status")).to_contain_text("Saved")
    assert draft_server.saved[-1][0] == "forms/weekly_check_in.json"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "sideways scrolling"
    context.close()
