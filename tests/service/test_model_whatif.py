"""What-if before deploy: a draft next to the deployed version over a simulated cohort, from
the managers' API, the command line and the domain's simulator; nothing written anywhere."""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from pathways.models import read_bundle_dir
from service.models import whatif

from ..conftest import BETTERBACK_DIR
from .conftest import A, Run, World, complete, refer


def edited(tmp_path: Path, file: str, *changes: tuple[str, str]) -> Path:
    """A copy of the reference bundle with `file`'s text changed (each change made once)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(BETTERBACK_DIR, bundle)
    text = (bundle / file).read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (bundle / file).write_text(text)
    return bundle


FOUR_WEEK_FOLLOW_UP = ("pathway.toml", ("follow_up_weeks = [2, 6, 12]",
                                        "follow_up_weeks = [2, 4, 12]"))


def draft_of(manager: TestClient, bundle: Path) -> int:
    """A draft holding the bundle's files, as a manager uploads them."""
    draft = manager.post("/api/models/drafts", json={"from_version": 1})
    assert draft.status_code == 201, draft.text
    draft_id: int = draft.json()["id"]
    for name, content in read_bundle_dir(bundle).items():
        saved = manager.put(f"/api/models/drafts/{draft_id}/files/{name}",
                            json={"text": content.decode()})
        assert saved.status_code == 200, saved.text
    return draft_id


def finished(manager: TestClient, job: dict[str, Any], seconds: float = 60) -> dict[str, Any]:
    """The job's answer once it has stopped running."""
    deadline = time.monotonic() + seconds
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = manager.get(f"/api/models/whatif/{job['id']}")
        assert answer.status_code == 200, answer.text
        job = answer.json()
    assert job["state"] != "running", "the what-if run did not finish"
    return job


def all_rows(world: World) -> dict[str, int]:
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        model = next(m for m in (m.class_ for m in SQLModel._sa_registry.mappers)
                     if getattr(m, "__table__", None) is table)
        counts[table.name] = world.count(model)
    return counts


@pytest.fixture
def manager(world: World) -> Iterator[TestClient]:
    yield world.client("manager")
    whatif.JOBS.cancel_all()  # nothing left running for the next test
    assert whatif.JOBS.wait_all(30)


def test_a_4_week_follow_up_moves_that_workload_two_weeks_earlier_and_writes_nothing(
        world: World, manager: TestClient, tmp_path: Path) -> None:
    draft_id = draft_of(manager, edited(tmp_path, *FOUR_WEEK_FOLLOW_UP))
    before = all_rows(world)
    started = manager.post(f"/api/models/drafts/{draft_id}/whatif",
                           json={"cohort": "synthetic", "patients": 16, "weeks": 9})
    assert started.status_code == 202, started.text
    job = finished(manager, started.json())
    assert job["state"] == "done", job["error"]
    assert all_rows(world) == before

    follow_ups = job["result"]["tasks"]["follow_up_6w"]
    old, new = follow_ups["deployed"], follow_ups["candidate"]
    assert sum(old) == sum(new) > 0
    assert new == old[2:] + [0, 0]  # every one of them two weeks earlier
    assert job["result"]["tasks"]["follow_up_2w"]["deployed"] == \
        job["result"]["tasks"]["follow_up_2w"]["candidate"]

    table = manager.get(f"/api/models/whatif/{job['id']}/comparison.csv")
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows[0][:3] == ["group", "measure", "version 1 (deployed)"]
    assert rows[0][3].startswith(f"draft {draft_id} (") and rows[0][4] == "change"
    moved = [r for r in rows if r[0] == "task follow_up_6w" and r[4] not in ("", "0")]
    assert moved, "the CSV shows the follow-ups moving"


def test_finished_episodes_are_replayed_with_the_answers_they_gave(
        world: World, manager: TestClient) -> None:
    patient, _ = refer(world, "Ebba Ek", "ebba")
    complete(patient, "red_flag_screen", {"age": 60, "red_flags": dict(
        A["no_red_flags"], saddle_numbness=True, bladder_bowel_change=True)})
    complete(world.client("physio"), "emergency_review",
             {"emergency_action": "sent_to_emergency_department"})
    started = manager.post("/api/models/1/whatif",
                           json={"cohort": "finished", "patients": 5, "weeks": 2})
    assert started.status_code == 202, started.text
    result = finished(manager, started.json())["result"]
    assert result["patients"] == 1
    assert result["source"] == "the answers of the latest 1 finished episodes"
    escalations = next(r for r in result["rows"] if r["measure"].startswith("Escalations"))
    assert (escalations["deployed"], escalations["candidate"]) == (1, 1)
    assert result["tasks"]["emergency_review"]["deployed"][0] == 1


def test_a_run_can_be_cancelled(world: World, manager: TestClient,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.app.state, "settings",
                        world.settings.model_copy(update={"whatif_max_patients": 5000}))
    started = manager.post("/api/models/1/whatif",
                           json={"cohort": "synthetic", "patients": 5000, "weeks": 12})
    assert started.status_code == 202, started.text
    job = started.json()
    busy = manager.post("/api/models/1/whatif", json={"patients": 2, "weeks": 1})
    assert busy.status_code == 409  # one run at a time
    cancelled = manager.post(f"/api/models/whatif/{job['id']}/cancel")
    assert cancelled.status_code == 200
    job = finished(manager, cancelled.json(), seconds=30)
    assert job["state"] == "cancelled" and job["result"] is None
    assert job["done"] < job["total"]
    assert manager.get(f"/api/models/whatif/{job['id']}/comparison.csv").status_code == 409


def test_only_managers_run_what_ifs_and_limits_are_named(world: World,
                                                         manager: TestClient) -> None:
    for username in ("physio", "auditor", "admin", "lead"):
        refused = world.client(username).post("/api/models/1/whatif", json={"patients": 2})
        assert refused.status_code == 403, username
    too_many = manager.post("/api/models/1/whatif", json={"patients": 100_000})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["fields"][0]["field"] == "patients"
    no_episodes = manager.post("/api/models/1/whatif", json={"cohort": "finished", "patients": 5})
    assert no_episodes.status_code == 422
    assert "synthetic" in no_episodes.json()["error"]["message"]
    assert manager.get("/api/models/whatif/" + "0" * 32).status_code == 404




def test_the_command_line_prints_the_comparison_and_refuses_in_one_line(
        world: World, carepath: Run, tmp_path: Path) -> None:
    bundle = edited(tmp_path, *FOUR_WEEK_FOLLOW_UP)
    before = all_rows(world)
    code, out, err = carepath("whatif", str(bundle), "--patients", "12", "--weeks", "8")
    assert code == 0, err
    assert all_rows(world) == before
    lines = out.splitlines()
    assert lines[0].startswith(f"{bundle} next to version 1 (deployed): 12 synthetic")
    assert lines[1].split() == ["group", "measure", "deployed", "candidate", "change"]
    assert any(line.startswith("Indicators (%)") for line in lines)

    for argv, says in [
        (("whatif", str(tmp_path / "nowhere")), "is not a directory"),
        (("whatif", str(bundle), "--cohort", "finished"), "no episode has finished yet"),
        (("whatif", str(bundle), "--weeks", "53"), "--weeks must be at most 52"),
    ]:
        code, out, err = carepath(*argv)
        assert code == 1 and not out
        assert err.count("\n") == 1 and says in err, err
    (bundle / "betterback.bpmn").write_text("<not bpmn")
    code, out, err = carepath("whatif", str(bundle))
    assert code == 1 and err.count("\n") == 1 and "cannot run" in err, err
