"""A manager's work on the pathway, end to end in Chromium against the real server: edit the
reference model in the modeler, validate, deploy; new patients start on the new version
while running ones stay; a dry run then a migration move one chosen patient, whose timer
restarts as the dry run said. Hostile uploads are refused and deploy nothing, a version that
removed the step a patient waits on is refused for that patient, and models made with other
tools open in the editor."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlmodel import select

from service.core import clinic_time
from service.core.db import transaction
from service.core.tables import ModelDraft, ModelVersion
from tests.service.conftest import complete, follow_up_answers, refer, through_first_visit
from tests.service.test_model_migration import (
    FOUR_WEEKS,
    SIX_WEEKS,
    deploy_edit,
    ready_names,
    version_of,
    without_the_2_week_follow_up,
)

from .conftest import DESKTOP, PHONE, Person, World, log_in, wait_until

OTHER_TOOLS = Path(__file__).parent / "other_tools"


def open_a_copy_of_version_1(page: Page) -> None:
    log_in(page, "manager")
    expect(page).to_have_url(re.compile(r"/models$"))
    page.get_by_role("button", name="Edit a copy of version 1").click()
    expect(page).to_have_url(re.compile(r"/models/drafts/\d+$"))
    wait_until(page, "window.carepathEditor !== undefined")
    page.evaluate("window.carepathEditor.ready")


def select_on_diagram(page: Page, file: str, element_id: str) -> None:
    """Select an element on the diagram, as a click on it does."""
    page.evaluate("""async ([file, id]) => {
        const modeler = await window.carepathEditor.modeler(file);
        const element = modeler.get('elementRegistry').get(id);
        modeler.get('canvas').scrollToElement(element);
        modeler.get('selection').select(element);
    }""", [file, element_id])


def test_a_manager_moves_the_6_week_follow_up_to_4_weeks_and_migrates_one_patient(
        world: World, person: Person, screenshot_dir: Path) -> None:
    started = world.clock.now()
    maja_client, maja = refer(world, "Maja Lind", "maja")
    olle_client, olle = refer(world, "Olle Berg", "olle")
    for client in (maja_client, olle_client):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2, days=1))
    world.sweep()
    for username in ("maja", "olle"):
        complete(world.client(username), "follow_up_2w", follow_up_answers("improved_proms"))

    page = person(**DESKTOP)
    open_a_copy_of_version_1(page)
    expect(page.locator(".editor-file[aria-current=true]")).to_have_text("betterback.bpmn")
    select_on_diagram(page, "betterback.bpmn", "follow_up_6w_timer")
    value = page.locator("#bio-properties-panel-timerEventDefinitionValue")
    expect(value).to_have_value(SIX_WEEKS)
    value.fill(FOUR_WEEKS)
    expect(page.locator("#editor-status")).to_have_text(re.compile(r"^Saved \d\d:\d\d\.$"))
    page.screenshot(path=str(screenshot_dir / "20-editor-timer-1280.png"))
    page.reload()  # the draft was saved as the manager worked: a reload loses nothing
    wait_until(page, "window.carepathEditor !== undefined")
    page.evaluate("window.carepathEditor.ready")
    select_on_diagram(page, "betterback.bpmn", "follow_up_6w_timer")
    expect(page.locator("#bio-properties-panel-timerEventDefinitionValue")).to_have_value(
        FOUR_WEEKS)

    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#editor-status")).to_contain_text("No problems found")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#editor-result")).to_contain_text("Deployed as version 2")
    with transaction(world.db, write=False) as session:
        version = session.get(ModelVersion, 2)
        assert version is not None and version.active
        assert FOUR_WEEKS in version.files["betterback.bpmn"]

    # New patients start on version 2; Maja and Olle stay on version 1 for now.
    nils_client, nils = refer(world, "Nils Ek", "nils")
    assert (version_of(world, maja), version_of(world, olle), version_of(world, nils)) == \
        (1, 1, 2)

    page.goto("/models/1/diff/2")
    expect(page.locator("#changes")).to_contain_text("6 weeks")
    expect(page.locator("[data-carepath-diagram]").first).to_have_attribute(
        "data-carepath-diagram", "drawn")
    expect(page.locator(".djs-element.carepath-changed")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "21-version-diff-1280.png"), full_page=True)

    page.goto("/models/2/migrate")
    page.get_by_text(re.compile(r"^Choose episodes")).click()
    page.get_by_role("checkbox", name=f"Episode {maja} on version 1, low risk").check()
    page.get_by_role("button", name="Dry run").click()
    due = clinic_time.local(started + timedelta(weeks=4)).strftime("%-d %b %Y, %H:%M")
    row = page.locator(f"tr[data-episode='{maja}']")
    expect(row).to_contain_text("Can move")
    expect(row).to_contain_text(f'Timer "6 weeks" restarts, due {due}')
    expect(page.locator("tr[data-episode]")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "22-migration-dry-run-1280.png"), full_page=True)
    assert version_of(world, maja) == 1

    page.get_by_role("button", name=re.compile(r"^Migrate the 1 episode")).click()
    expect(page.locator("#migration-result")).to_contain_text("Migrated 1 episode")
    expect(page.locator(f"tr[data-episode='{maja}']")).to_contain_text(
        f'Timer "6 weeks" restarts, due {due}')
    assert (version_of(world, maja), version_of(world, olle)) == (2, 1)

    # Maja's follow-up falls due at 4 weeks, as the dry run said; Olle's stays at 6.
    world.clock.set(started + timedelta(weeks=4, hours=1))
    world.sweep()
    assert "follow_up_6w" in ready_names(world, maja)
    assert "follow_up_6w" not in ready_names(world, olle)
    world.clock.set(started + timedelta(weeks=6, hours=1))
    world.sweep()
    assert "follow_up_6w" in ready_names(world, olle)

    # Nils, who started on version 2, has his at 4 weeks from his own first visit.
    nils_started = world.clock.now()
    through_first_visit(world, world.client("nils"), "low_start_back")
    world.clock.advance(timedelta(weeks=2, days=1))
    world.sweep()
    complete(world.client("nils"), "follow_up_2w", follow_up_answers("improved_proms"))
    world.clock.set(nils_started + timedelta(weeks=4) - timedelta(hours=1))
    world.sweep()
    assert "follow_up_6w" not in ready_names(world, nils)
    world.clock.set(nils_started + timedelta(weeks=4, hours=1))
    world.sweep()
    assert "follow_up_6w" in ready_names(world, nils)
    del nils_client


def test_a_hostile_upload_is_refused_and_deploys_nothing(
        world: World, person: Person, screenshot_dir: Path) -> None:
    page = person(**DESKTOP)
    open_a_copy_of_version_1(page)
    files_before = page.evaluate("window.carepathEditor.files()")
    hostile = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<definitions>&x;</definitions>')
    page.locator("#editor-upload").set_input_files(
        files=[{"name": "evil.bpmn", "mimeType": "application/xml", "buffer": hostile}])
    expect(page.locator("#editor-status")).to_contain_text("DOCTYPE")
    page.screenshot(path=str(screenshot_dir / "23-editor-hostile-upload-1280.png"))
    assert page.evaluate("window.carepathEditor.files()") == files_before
    with transaction(world.db, write=False) as session:
        (draft,) = session.exec(select(ModelDraft)).all()
        assert "evil.bpmn" not in draft.files
    assert world.count(ModelVersion) == 1


def test_a_version_that_removed_the_step_a_patient_waits_on_is_refused_for_them(
        world: World, person: Person, screenshot_dir: Path) -> None:
    maja_client, maja = refer(world, "Maja Lind", "maja")
    through_first_visit(world, maja_client, "low_start_back")
    world.clock.advance(timedelta(weeks=2, days=1))
    world.sweep()
    assert "follow_up_2w" in ready_names(world, maja)
    version = deploy_edit(world, without_the_2_week_follow_up)

    page = person(**PHONE)
    log_in(page, "manager")
    page.goto(f"/models/{version}/migrate")
    page.get_by_role("button", name="Dry run").click()
    row = page.locator(f"tr[data-episode='{maja}']")
    expect(row).to_contain_text("Refused")
    expect(row).to_contain_text("Follow-up questionnaires (2 weeks)")
    expect(page.get_by_role("button", name=re.compile("^Migrate"))).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "sideways scrolling"
    page.screenshot(path=str(screenshot_dir / "24-migration-refused-375.png"), full_page=True)
    assert version_of(world, maja) == 1


def test_models_made_with_other_tools_open_in_the_editor(
        world: World, person: Person, screenshot_dir: Path) -> None:
    page = person(**DESKTOP)
    open_a_copy_of_version_1(page)
    files = sorted(OTHER_TOOLS.glob("*.bpmn"))
    page.locator("#editor-upload").set_input_files([str(path) for path in files])
    for path in files:
        tab = page.locator(f".editor-file[data-file='{path.name}']")
        expect(tab).to_have_count(1)
        tab.click()
        pane = page.locator(f".editor-pane[data-file='{path.name}']")
        expect(pane.locator(".djs-element.djs-shape").first).to_be_visible()
        first_task = re.search(r'<(?:bpmn:)?(?:userTask|task) [^>]*id="([^"]+)"',
                               path.read_text())
        assert first_task is not None
        expect(pane.locator(f".djs-element[data-element-id='{first_task.group(1)}']")
               ).to_have_count(1)
        page.screenshot(path=str(screenshot_dir / f"25-other-tool-{path.stem}-1280.png"))
    # The file without a diagram was laid out once and saved with its layout.
    page.evaluate("window.carepathEditor.save()")
    with transaction(world.db, write=False) as session:
        (draft,) = session.exec(select(ModelDraft)).all()
    assert "BPMNShape" in draft.files["no_diagram.bpmn"]
    # ... and what only carepath reads in it survived the layout: the loop's data name.
    assert "<bpmn:loopDataInputRef>reminder_days</bpmn:loopDataInputRef>" in \
        draft.files["no_diagram.bpmn"]
    assert "signavio" in draft.files["signavio_export.bpmn"]
