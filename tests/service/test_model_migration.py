"""A manager changes the pathway and moves running episodes onto the new version: new episodes
start on the newest version while running ones stay on theirs, a dry run says what would
happen to each episode and changes nothing, the migration then does exactly that, and an
episode that waits on a task the new version removed is refused and keeps its version."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlmodel import select

from service.core.db import transaction
from service.core.tables import Episode, Event, ReadyTask

from .conftest import World, complete, follow_up_answers, refer, through_first_visit

SIX_WEEKS = "weeks_after(care_started_at, settings['follow_up_weeks'][1])"
FOUR_WEEKS = "weeks_after(care_started_at, 4)"
DAY = timedelta(days=1)


def deploy_edit(world: World, edit: Any) -> int:
    """A manager drafts a copy of the active version, edits betterback.bpmn, deploys it."""
    manager = world.client("manager")
    draft = manager.post("/api/models/drafts", json={}).json()
    bpmn = draft["files"]["betterback.bpmn"]
    edited = edit(bpmn)
    assert edited != bpmn
    saved = manager.put(f"/api/models/drafts/{draft['id']}/files/betterback.bpmn",
                        json={"text": edited})
    assert saved.status_code == 200, saved.text
    deployed = manager.post(f"/api/models/drafts/{draft['id']}/deploy")
    assert deployed.status_code == 201, deployed.text
    version_id: int = deployed.json()["id"]
    return version_id


def without_the_2_week_follow_up(bpmn: str) -> str:
    """The 2-week follow-up task taken out: its timer leads straight to the red-flag check."""
    bpmn = re.sub(r'\s*<bpmn:sequenceFlow id="f_fu2_due"[^>]*/>', "", bpmn)
    bpmn = re.sub(r'\s*<bpmn:userTask id="follow_up_2w".*?</bpmn:userTask>', "", bpmn,
                  flags=re.S)
    bpmn = re.sub(r'\s*<bpmndi:BPMN(Shape|Edge) [^>]*bpmnElement="(follow_up_2w|f_fu2_due)"'
                  r'.*?</bpmndi:BPMN(Shape|Edge)>', "", bpmn, flags=re.S)
    bpmn = bpmn.replace('<bpmn:outgoing>f_fu2_due</bpmn:outgoing>',
                        '<bpmn:outgoing>f_fu2_done</bpmn:outgoing>')
    return bpmn.replace('sourceRef="follow_up_2w" targetRef="fu2_red_flag_check"',
                        'sourceRef="follow_up_2w_timer" targetRef="fu2_red_flag_check"')


def ready_names(world: World, episode_id: int) -> set[str]:
    with transaction(world.db, write=False) as session:
        return set(session.exec(select(ReadyTask.name)
                                .where(ReadyTask.episode_id == episode_id)).all())


def version_of(world: World, episode_id: int) -> int:
    with transaction(world.db, write=False) as session:
        episode = session.get(Episode, episode_id)
        assert episode is not None
        return episode.model_version_id


def test_a_migration_moves_one_chosen_patient_whose_timer_restarts_as_the_dry_run_said(
        world: World) -> None:
    started = world.clock.now()
    maja_client, maja = refer(world, "Maja Lind", "maja")
    olle_client, olle = refer(world, "Olle Berg", "olle")
    for client in (maja_client, olle_client):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2) + DAY)
    world.sweep()
    for username in ("maja", "olle"):  # logged in again: two weeks have passed
        complete(world.client(username), "follow_up_2w", follow_up_answers("improved_proms"))

    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    manager = world.client("manager")

    dry = manager.post("/api/models/migrations",
                       json={"to_version": version, "episodes": [maja], "dry_run": True})
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert plan["dry_run"] is True and plan["moved"] == 0 and plan["refused"] == 0
    (move,) = plan["moves"]
    assert move["episode_id"] == maja and move["ok"] is True and move["migrated"] is False
    assert "Waiting: 6 weeks" in move["now_at"]
    restarted = [t for t in move["timers"] if t["restarted"]]
    assert [t["step"] for t in restarted] == ["follow_up_6w_timer"]
    due_after = restarted[0]["due_after"]
    assert abs(_parse(due_after) - (started + timedelta(weeks=4))) < timedelta(minutes=5)
    assert abs(_parse(restarted[0]["due_before"]) - (started + timedelta(weeks=6))) \
        < timedelta(minutes=5)
    assert version_of(world, maja) == 1  # a dry run changes nothing

    done = manager.post("/api/models/migrations",
                        json={"to_version": version, "episodes": [maja], "dry_run": False})
    assert done.status_code == 200, done.text
    assert done.json()["moved"] == 1
    assert done.json()["moves"][0]["timers"] == plan["moves"][0]["timers"]
    assert version_of(world, maja) == version and version_of(world, olle) == 1
    with transaction(world.db, write=False) as session:
        audit = session.exec(select(Event).where(Event.episode_id == maja,
                                                 Event.name == "episode_migrated")).all()
    assert len(audit) == 1
    assert audit[0].data["from_version"] == 1 and audit[0].data["to_version"] == version

    # The timer falls due when the dry run said: Maja's follow-up at 4 weeks, Olle's at 6.
    world.clock.set(_parse(due_after) + timedelta(hours=1))
    world.sweep()
    assert "follow_up_6w" in ready_names(world, maja)
    assert "follow_up_6w" not in ready_names(world, olle)
    world.clock.set(started + timedelta(weeks=6, hours=1))
    world.sweep()
    assert "follow_up_6w" in ready_names(world, olle)
    complete(world.client("maja"), "follow_up_6w", follow_up_answers("improved_proms"))


def test_a_new_patient_starts_on_the_new_version_and_a_running_one_stays(world: World) -> None:
    _, maja = refer(world, "Maja Lind", "maja")
    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    _, nils = refer(world, "Nils Ek", "nils")
    assert version_of(world, maja) == 1 and version_of(world, nils) == version


def test_a_patient_waiting_on_a_task_the_new_version_removed_is_refused_with_the_reason(
        world: World) -> None:
    maja_client, maja = refer(world, "Maja Lind", "maja")
    through_first_visit(world, maja_client, "low_start_back")
    world.clock.advance(timedelta(weeks=2) + DAY)
    world.sweep()
    assert "follow_up_2w" in ready_names(world, maja)

    version = deploy_edit(world, without_the_2_week_follow_up)
    manager = world.client("manager")
    for dry_run in (True, False):
        answer = manager.post("/api/models/migrations",
                              json={"to_version": version, "dry_run": dry_run}).json()
        (move,) = answer["moves"]
        assert move["ok"] is False and move["migrated"] is False
        assert "follow_up_2w" in move["reason"] or "2 weeks" in move["reason"]
    assert version_of(world, maja) == 1
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))


def test_migrations_choose_by_stratum_and_refuse_bad_requests(world: World) -> None:
    low_client, low = refer(world, "Maja Lind", "maja")
    high_client, high = refer(world, "Olle Berg", "olle")
    through_first_visit(world, low_client, "low_start_back")
    through_first_visit(world, high_client, "high_start_back")
    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    manager = world.client("manager")
    chosen = manager.post("/api/models/migrations", json={
        "to_version": version, "stratum": "high"}).json()
    assert [m["episode_id"] for m in chosen["moves"]] == [high]
    everyone = manager.post("/api/models/migrations", json={"to_version": version}).json()
    assert [m["episode_id"] for m in everyone["moves"]] == [low, high]

    for body, status in [({"to_version": 99}, 404),
                         ({"to_version": version, "episodes": [999]}, 422),
                         ({"to_version": version, "stratum": "severe"}, 422),
                         ({"to_version": 0}, 422)]:
        response = manager.post("/api/models/migrations", json=body)
        assert response.status_code == status, (body, response.text)
    assert world.client("physio").post("/api/models/migrations",
                                       json={"to_version": version}).status_code == 403
    assert version_of(world, low) == version_of(world, high) == 1


def test_the_diff_says_what_changed_in_words(world: World) -> None:
    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    answer = world.client("manager").get(f"/api/models/1/diff/{version}")
    assert answer.status_code == 200, answer.text
    changes = answer.json()["changes"]
    assert [(c["kind"], c["what"], c["element"]) for c in changes] == [
        ("changed", "timer", "follow_up_6w_timer")]
    assert "4" in changes[0]["words"]
    assert answer.json()["markers"] == {"betterback.bpmn": {"follow_up_6w_timer": "changed"}}
    same = world.client("manager").get("/api/models/1/diff/1").json()
    assert same["changes"] == []


def _parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)



def test_a_migration_by_step_takes_only_the_episodes_at_that_step(world: World) -> None:
    maja_client, maja = refer(world, "Maja Lind", "maja")
    olle_client, olle = refer(world, "Olle Berg", "olle")
    for client in (maja_client, olle_client):
        through_first_visit(world, client, "low_start_back")
    world.clock.advance(timedelta(weeks=2) + DAY)
    world.sweep()
    complete(world.client("maja"), "follow_up_2w", follow_up_answers("improved_proms"))
    # Maja waits for 6 weeks; Olle has the 2-week follow-up open.
    version = deploy_edit(world, lambda bpmn: bpmn.replace(SIX_WEEKS, FOUR_WEEKS))
    manager = world.client("manager")
    for step, expected in (("follow_up_6w_timer", [maja]), ("follow_up_2w", [olle]),
                           ("discharge", [])):
        answer = manager.post("/api/models/migrations", json={
            "to_version": version, "step": step, "dry_run": False}).json()
        assert [m["episode_id"] for m in answer["moves"]] == expected, step
    assert version_of(world, maja) == version_of(world, olle) == version
