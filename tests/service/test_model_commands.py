"""`carepath model ...` for operators and scripts: the same rules as the pages, a plain table,
and a non-zero exit on every refusal."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from service.core.tables import Event, ModelVersion

from ..conftest import BETTERBACK_DIR
from .conftest import Run, World, complete, follow_up_answers, refer, through_first_visit
from .test_model_migration import FOUR_WEEKS, SIX_WEEKS, version_of, without_the_2_week_follow_up


def edited_bundle(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(BETTERBACK_DIR, bundle)
    main_file = bundle / "betterback.bpmn"
    main_file.write_text(edit(main_file.read_text()))
    return bundle


def test_deploy_list_and_diff(world: World, carepath: Run, tmp_path: Path) -> None:
    code, out, _ = carepath("deploy", str(edited_bundle(
        tmp_path, lambda text: text.replace(SIX_WEEKS, FOUR_WEEKS))))
    assert code == 0 and "as version 2" in out

    code, out, _ = carepath("list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["version", "active", "name"]
    assert lines[1].split()[:2] == ["2", "yes"] and lines[2].split()[0] == "1"

    code, out, _ = carepath("diff", "1", "2")
    assert code == 0
    assert "changed  timer" in out and "follow_up_6w_timer" in out and FOUR_WEEKS in out
    assert carepath("diff", "1", "1")[1].strip() == "versions 1 and 1 run the same pathway: " \
                                                    "no changes"


def test_a_bad_bundle_or_version_is_refused_with_a_line_and_exit_1(
        world: World, carepath: Run, tmp_path: Path) -> None:
    bad = edited_bundle(tmp_path, lambda text: text.replace(SIX_WEEKS, "open('/etc/passwd')"))
    code, out, err = carepath("deploy", str(bad))
    assert code == 1 and "follow_up_6w_timer" in err and "nothing was deployed" in err
    assert world.count(ModelVersion) == 1
    assert carepath("deploy", str(tmp_path / "nowhere"))[0] == 1
    code, _, err = carepath("diff", "1", "9")
    assert code == 1 and "there is no model version 9" in err
    code, _, err = carepath("migrate", "--to", "9")
    assert code == 1 and "there is no model version 9" in err


def test_migrate_dry_run_then_for_real_and_a_refusal_exits_1(
        world: World, carepath: Run, tmp_path: Path) -> None:
    maja_client, maja = refer(world, "Maja Lind", "maja")
    olle_client, olle = refer(world, "Olle Berg", "olle")
    for client in (maja_client, olle_client):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2, days=1))
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))
    # Maja waits for 6 weeks; Olle has the 2-week follow-up to fill in.
    assert carepath("deploy", str(edited_bundle(
        tmp_path / "four", lambda text: text.replace(SIX_WEEKS, FOUR_WEEKS))))[0] == 0
    assert carepath("deploy", str(edited_bundle(
        tmp_path / "removed", without_the_2_week_follow_up)))[0] == 0

    code, out, _ = carepath("migrate", "--to", "2", "--dry-run")
    assert code == 0 and out.splitlines()[-1] == "dry run: 2 can move, 0 refused; nothing changed"
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert "can move" in rows[str(maja)] and "6 weeks due" in rows[str(maja)]
    assert "can move" in rows[str(olle)]

    code, out, _ = carepath("migrate", "--to", "3", "--dry-run")
    assert code == 1 and out.splitlines()[-1].startswith("dry run: 0 can move, 2 refused")
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert "refused: the episode is at 'Follow-up questionnaires (2 weeks)'" in rows[str(olle)]
    assert "refused: the new version cannot read this episode's data" in rows[str(maja)]
    code, out, _ = carepath("migrate", "--to", "3", "--episode", str(olle))
    assert code == 1 and out.splitlines()[-1] == "moved 0, refused 1"

    code, out, _ = carepath("migrate", "--to", "2", "--episode", str(maja))
    assert code == 0 and out.splitlines()[-1] == "moved 1, refused 0"
    assert "moved" in out.splitlines()[1]
    assert (version_of(world, maja), version_of(world, olle)) == (2, 1)
    assert world.count(Event, name="episode_migrated") == 1


@pytest.mark.parametrize("name", ["forms/sub/x.json", "notes/x.bpmn", "x.json"])
def test_deploy_refuses_a_bundle_folder_holding_a_file_outside_its_own_folders(
        world: World, carepath: Run, tmp_path: Path, name: str) -> None:
    bundle = edited_bundle(tmp_path, lambda text: text)
    (bundle / name).parent.mkdir(parents=True, exist_ok=True)
    (bundle / name).write_text('{"type": "object"}')
    code, out, err = carepath("deploy", str(bundle))
    assert code != 0, out
    assert name in out + err and "not a model file name" in out + err, (out, err)
    assert world.count(ModelVersion) == 1
