"""Managers edit a model as a draft: start one from a version, save files as they work, upload
files made in other tools (checked first, all or nothing), see every problem, and deploy a
draft without problems as a new version that new episodes start on."""

from __future__ import annotations

import io
import zipfile

import pytest

from service.core.tables import Episode, ModelDraft, ModelVersion

from .conftest import World, refer
from .conftest import page_login as log_in
from .conftest import soup as html

SIX_WEEKS = "weeks_after(care_started_at, settings['follow_up_weeks'][1])"
FOUR_WEEKS = "weeks_after(care_started_at, 4)"


def new_draft(world: World, manager: object = None) -> tuple[object, dict]:
    client = manager or world.client("manager")
    response = client.post("/api/models/drafts", json={})  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    return client, response.json()


def test_a_draft_starts_as_a_copy_of_the_active_version_and_saves_as_the_manager_works(
        world: World) -> None:
    manager, draft = new_draft(world)
    assert draft["base_version_id"] == 1 and draft["deployed_version_id"] is None
    assert {"pathway.toml", "betterback.bpmn", "forms/intake.json"} <= set(draft["files"])
    bpmn = draft["files"]["betterback.bpmn"]
    assert SIX_WEEKS in bpmn

    saved = manager.put(f"/api/models/drafts/{draft['id']}/files/betterback.bpmn",
                        json={"text": bpmn.replace(SIX_WEEKS, FOUR_WEEKS)})
    assert saved.status_code == 200, saved.text
    assert saved.json()["name"] == "betterback.bpmn"

    again = manager.get(f"/api/models/drafts/{draft['id']}").json()  # a reload
    assert FOUR_WEEKS in again["files"]["betterback.bpmn"]
    assert world.count(ModelVersion) == 1  # saving is not deploying


@pytest.mark.parametrize("name", ["%2E%2E/%2E%2E/x.json", "%2Ftmp/x.json",
                                  "forms/%2E%2E/%2E%2E/x.json", "forms/sub/x.json", "x.py",
                                  "notes/x.bpmn", ".bpmn", "forms/x.json%00.bpmn"])
def test_a_file_name_outside_the_bundle_is_refused(world: World, name: str) -> None:
    manager, draft = new_draft(world)
    response = manager.put(f"/api/models/drafts/{draft['id']}/files/{name}",
                           json={"text": "{}"})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    # A NUL in the name is refused before any route reads it (core.request_guard).
    assert "is not a model file name" in message or "NUL character" in message, message
    files = manager.get(f"/api/models/drafts/{draft['id']}").json()["files"]
    assert files == draft["files"]


def test_problems_list_every_issue_with_file_and_element_and_block_the_deploy(
        world: World) -> None:
    manager, draft = new_draft(world)
    bpmn = draft["files"]["betterback.bpmn"]
    broken = (bpmn.replace(SIX_WEEKS, "__import__('os').system('id')")
              .replace('<spiffworkflow:property name="form" value="intake"',
                       '<spiffworkflow:property name="form" value="no_such_form"'))
    assert broken != bpmn
    manager.put(f"/api/models/drafts/{draft['id']}/files/betterback.bpmn",
                json={"text": broken})

    found = manager.get(f"/api/models/drafts/{draft['id']}/problems").json()
    assert found["deployable"] is False
    messages = [f"{p['file']} {p['element']} {p['message']}" for p in found["problems"]]
    assert any("no_such_form" in m for m in messages), messages
    assert any("betterback.bpmn" in m and "not allowed" in m for m in messages), messages
    assert all(p["file"] for p in found["problems"])

    deploy = manager.post(f"/api/models/drafts/{draft['id']}/deploy")
    assert deploy.status_code == 422
    assert deploy.json()["error"]["code"] == "invalid_model"
    assert deploy.json()["error"]["fields"]
    assert world.count(ModelVersion) == 1


def test_a_deployed_draft_is_the_newest_version_and_new_episodes_start_on_it(
        world: World) -> None:
    refer(world, "Maja Lind", "maja")
    manager, draft = new_draft(world)
    bpmn = draft["files"]["betterback.bpmn"]
    manager.put(f"/api/models/drafts/{draft['id']}/files/betterback.bpmn",
                json={"text": bpmn.replace(SIX_WEEKS, FOUR_WEEKS)})
    assert manager.get(f"/api/models/drafts/{draft['id']}/problems").json() == {
        "deployable": True, "problems": []}

    deployed = manager.post(f"/api/models/drafts/{draft['id']}/deploy")
    assert deployed.status_code == 201, deployed.text
    version = deployed.json()
    assert version["id"] == 2 and version["active"] is True

    refer(world, "Olle Berg", "olle")
    with world.db.connect() as connection:
        versions = dict(connection.exec_driver_sql(
            "SELECT p.display_name, e.model_version_id FROM episodes e "
            "JOIN patients p ON p.id = e.patient_id").all())
    assert versions == {"Maja Lind": 1, "Olle Berg": 2}  # Maja stays on hers

    # The draft is kept as the record of the work, read-only.
    kept = manager.get(f"/api/models/drafts/{draft['id']}").json()
    assert kept["deployed_version_id"] == 2
    refused = manager.put(f"/api/models/drafts/{draft['id']}/files/pathway.toml",
                          json={"text": "x"})
    assert refused.status_code == 409
    assert "deployed as version 2" in refused.json()["error"]["message"]
    assert world.count(Episode) == 2


def _zip(files: dict[str, str], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in files.items():
            bundle.writestr(top + name, text)
    return buffer.getvalue()


def test_an_upload_adds_files_made_elsewhere_and_a_hostile_one_changes_nothing(
        world: World) -> None:
    manager, draft = new_draft(world)
    url = f"/api/models/drafts/{draft['id']}"
    toml = draft["files"]["pathway.toml"]
    bundle = _zip({"pathway.toml": toml + "\n# edited elsewhere\n",
                   "forms/extra_notes.json": '{"type": "object"}'}, top="betterback/")
    response = manager.post(f"{url}/upload",
                            files={"files": ("betterback.zip", bundle, "application/zip")})
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert files["pathway.toml"].endswith("# edited elsewhere\n")
    assert "forms/extra_notes.json" in files

    before = manager.get(url).json()["files"]
    hostile = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
               '<definitions>&e;</definitions>')
    for upload in (
        {"files": ("evil.bpmn", hostile.encode(), "application/xml")},
        {"files": ("bundle.zip", _zip({"../../escape.bpmn": "<x/>"}), "application/zip")},
        {"files": ("bundle.zip", b"not a zip", "application/zip")},
        {"files": ("notes.txt", b"hello", "text/plain")},
    ):
        refused = manager.post(f"{url}/upload", files=upload)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["message"]
    assert manager.get(url).json()["files"] == before
    assert world.count(ModelVersion) == 1


ESCAPING_NAMES = ["../../x.json", "/tmp/x.json", "forms/../../x.json"]
"""Names that would climb out of a bundle, start at the root, or leave forms/ for elsewhere."""


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_a_name_outside_the_bundle_is_refused_every_way_a_file_comes_in(
        world: World, name: str) -> None:
    """The draft's file API, loose and zipped uploads, a draft saved before the rule, and the
    older whole-bundle POST: each says what a file may be called, and saves nothing."""
    manager, draft = new_draft(world)
    url = f"/api/models/drafts/{draft['id']}"
    form = b'{"type": "object"}'
    refusals = [
        manager.put(f"{url}/files/{name.replace('.', '%2E').replace('/', '%2F')}",
                    json={"text": form.decode()}),
        manager.delete(f"{url}/files/{name.replace('.', '%2E').replace('/', '%2F')}"),
        manager.post(f"{url}/upload", files={"files": (name, form, "application/json")}),
        manager.post(f"{url}/upload", files={"files": ("bundle.zip", _zip({name: form.decode()}),
                                                       "application/zip")}),
        manager.post(f"{url}/upload", files={"files": (
            "bundle.zip", _zip({"pathway.toml": draft["files"]["pathway.toml"],
                                name: form.decode()}, top="betterback/"),
            "application/zip")}),
    ]
    for refused in refusals:
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert "is not a model file name" in error["message"], error
        assert "pathway.toml, NAME.bpmn, NAME.dmn or forms/NAME.json" in error["message"]
    assert manager.get(url).json()["files"] == draft["files"]

    deployed = manager.post("/api/models", json={"files": {**draft["files"], name: form.decode()}})
    assert deployed.status_code == 422, deployed.text
    error = deployed.json()["error"]
    assert error["code"] == "invalid_model"
    assert [f["field"] for f in error["fields"]] == [f"{name}:"], error
    assert "not a model file name" in error["fields"][0]["message"]
    assert world.count(ModelVersion) == 1


def test_a_draft_holding_a_name_from_before_the_rule_lists_it_and_is_not_deployed(
        world: World) -> None:
    from service.core.db import transaction

    manager, draft = new_draft(world)
    with transaction(world.db, write=True) as session:
        stored = session.get(ModelDraft, draft["id"])
        assert stored is not None
        stored.files = {**stored.files, "../../x.json": '{"type": "object"}'}
        session.add(stored)
    found = manager.get(f"/api/models/drafts/{draft['id']}/problems").json()
    assert found["deployable"] is False
    assert [p["file"] for p in found["problems"]] == ["../../x.json"], found
    refused = manager.post(f"/api/models/drafts/{draft['id']}/deploy")
    assert refused.status_code == 422, refused.text
    assert world.count(ModelVersion) == 1


def test_only_managers_reach_drafts(world: World) -> None:
    _, draft = new_draft(world)
    for username in ("physio", "lead", "auditor", "admin"):
        client = world.client(username)
        assert client.get(f"/api/models/drafts/{draft['id']}").status_code == 403
        assert client.post("/api/models/drafts", json={}).status_code == 403
        assert client.post(f"/api/models/drafts/{draft['id']}/deploy").status_code == 403
    assert world.client().get(f"/api/models/drafts/{draft['id']}").status_code == 401
    assert world.client("manager").get("/api/models/drafts/999").status_code == 404
    assert world.count(ModelDraft) == 1


def test_the_library_starts_a_draft_and_lists_it(world: World) -> None:
    manager = log_in(world, "manager")
    page = html(manager.get("/models"))
    form = page.select_one("form[action='/models/drafts']")
    assert form is not None
    token = form.select_one("input[name=csrf_token]")["value"]
    opened = manager.post("/models/drafts", data={"csrf_token": token, "from_version": "1"},
                          follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/models/drafts/1"
    editor = manager.get("/models/drafts/1")
    assert editor.status_code == 200
    listed = html(manager.get("/models")).select("ul.drafts li a")
    assert [a["href"] for a in listed] == ["/models/drafts/1", "/models/drafts/1/whatif"]
    assert log_in(world, "physio").get("/models/drafts/1").status_code == 403
