"""Model versions as a manager meets them: what a new version changes, in words, and moving
a running episode onto it (refused, with the reason, when the episode cannot move)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from pathways.cases import START_DATA
from pathways.clock import ManualClock
from pathways.education import default_catalogue
from pathways.engine import PathwayEngine
from pathways.errors import StateMismatchError
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel, load_bundle, read_bundle_dir
from pathways.task_views import ReadyTask
from pathways.versions import Change, MigrationPlan, TimerChange, diff_models, plan_migration

from .conftest import BETTERBACK_DIR

ANSWERS = yaml.safe_load((BETTERBACK_DIR / "cases.yaml").read_text())["answers"]
SHORT = {"programme_weeks": 3, "registry_follow_up_months": []}
SIX_WEEKS = b"weeks_after(care_started_at, settings['follow_up_weeks'][1])"
FOUR_WEEKS = b"weeks_after(care_started_at, 4)"


def _version(*edits: tuple[str, bytes, bytes]) -> PathwayModel:
    """The reference bundle with each (file, old, new) replacement made (old must be there)."""
    files = read_bundle_dir(BETTERBACK_DIR)
    for name, old, new in edits:
        assert old in files[name], f"{old!r} is not in {name}"
        files[name] = files[name].replace(old, new)
    return load_bundle(files)


def _without(block_start: str, block_end: str) -> tuple[str, bytes, bytes]:
    """An edit of betterback.bpmn that cuts out one element (from its start tag to its end)."""
    text = (BETTERBACK_DIR / "betterback.bpmn").read_text()
    found = re.search(re.escape(block_start) + r".*?" + re.escape(block_end), text, re.DOTALL)
    assert found is not None
    return "betterback.bpmn", found.group(0).encode(), b""


WITHOUT_NOTE_RISK_FACTORS = (
    _without('<bpmn:scriptTask id="note_risk_factors"', "</bpmn:scriptTask>"),
    ("betterback.bpmn", b'targetRef="note_risk_factors"', b'targetRef="intake_questionnaires"'),
    ("betterback.bpmn", b'<bpmn:sequenceFlow id="f_to_intake" sourceRef="note_risk_factors" '
                        b'targetRef="intake_questionnaires"/>', b""),
    ("betterback.bpmn", b"<bpmn:incoming>f_to_intake</bpmn:incoming>",
     b"<bpmn:incoming>f_screen_continue</bpmn:incoming>"),
)
WITHOUT_FIRST_VISIT = (
    _without('<bpmn:userTask id="first_visit"', "</bpmn:userTask>"),
    ("betterback.bpmn", b"<bpmn:flowNodeRef>first_visit</bpmn:flowNodeRef>", b""),
    ("betterback.bpmn", b'sourceRef="stratify_risk" targetRef="first_visit"',
     b'sourceRef="stratify_risk" targetRef="plan_care"'),
    ("betterback.bpmn", b'<bpmn:sequenceFlow id="f_visited" sourceRef="first_visit" '
                        b'targetRef="plan_care"/>', b""),
    ("betterback.bpmn", b"<bpmn:incoming>f_visited</bpmn:incoming>",
     b"<bpmn:incoming>f_stratified</bpmn:incoming>"),
)

EDUCATION_RENAMED = (
    ("education_track.bpmn", b'id="education_track"', b'id="education_track_v2"'),
    ("betterback.bpmn", b'calledElement="education_track"', b'calledElement="education_track_v2"'),
)
"""The education track as another process: its old process is gone from the bundle."""


# -- a patient, driven with the clock


def _task(instance: PathwayInstance, name: str) -> ReadyTask:
    return next(t for t in instance.ready_tasks() if t.name == name)


def _answers(task: ReadyTask) -> dict[str, Any]:
    if task.education_module:
        module = default_catalogue().get(task.education_module)
        return {"answers": [q.answer for q in module.check_questions], "confirmed_read": True}
    if task.name.startswith(("follow_up", "registry")):
        return {"proms": ANSWERS["improved_proms"], "red_flags": ANSWERS["no_new_flags"]}
    answers: dict[str, dict[str, Any]] = {
        "red_flag_screen": {"age": 40, "red_flags": ANSWERS["no_red_flags"]},
        "intake_questionnaires": {"start_back": ANSWERS["medium_start_back"],
                                  "proms": ANSWERS["baseline_proms"]},
        "first_visit": ANSWERS["first_visit"],
        "weekly_check_in": ANSWERS["good_week"],
        "discharge": {"discharge_outcome": "recovered",
                      "self_management_plan": "Keep active every day."},
    }
    return answers[task.name]


def _complete(instance: PathwayInstance, name: str) -> None:
    task = _task(instance, name)
    instance.complete_task(task.id, _answers(task), actor=task.role)


def _wait(instance: PathwayInstance, clock: ManualClock, days: int) -> None:
    clock.advance(timedelta(days=days))
    instance.fire_due_timers()


def _at_first_visit(engine: PathwayEngine) -> PathwayInstance:
    instance = engine.start(START_DATA, settings=SHORT)
    _complete(instance, "red_flag_screen")
    _complete(instance, "intake_questionnaires")
    return instance


def _waiting_on_six_weeks(engine: PathwayEngine, clock: ManualClock) -> tuple[
        PathwayInstance, datetime]:
    """A medium-risk patient two weeks into care: the 2-week follow-up done, the 6-week one
    and the third exercise week waiting, the first education module still to read."""
    instance = _at_first_visit(engine)
    _complete(instance, "first_visit")
    care_started_at = clock.now()
    for _week in (1, 2):
        _wait(instance, clock, 7)
        _complete(instance, "weekly_check_in")
    _complete(instance, "follow_up_2w")
    assert {t.name for t in instance.waiting_timers()} == {"exercise_week", "follow_up_6w_timer"}
    assert [t.name for t in instance.ready_tasks()] == ["read_module"]
    return instance, care_started_at


def _to_the_end(instance: PathwayInstance, clock: ManualClock) -> None:
    """Do every task as it comes, and let time pass to the next timer when none is ready."""
    for _step in range(200):
        if instance.is_completed:
            return
        ready = instance.ready_tasks()
        if ready:
            instance.complete_task(ready[0].id, _answers(ready[0]), actor=ready[0].role)
            continue
        wake = instance.next_wake_at()
        assert wake is not None, "nothing ready and nothing to wait for"
        clock.set(max(wake, clock.now()))
        instance.fire_due_timers()
    raise AssertionError("the episode did not end")


def _timer(plan: MigrationPlan, element: str) -> TimerChange:
    return next(t for t in plan.timers if t.element == element)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# -- what a new version changes, in words


def test_the_same_bundle_loaded_twice_changes_nothing(betterback: PathwayModel) -> None:
    assert diff_models(betterback, load_bundle(read_bundle_dir(BETTERBACK_DIR))) == []


def test_a_comment_changes_nothing_that_runs_and_says_so(betterback: PathwayModel) -> None:
    commented = _version(("pathway.toml", b"[settings]", b"# Reviewed in March.\n[settings]"))
    assert diff_models(betterback, commented) == [Change(
        "changed", "file", "pathway.toml", None,
        "File pathway.toml changed only in comments, layout or descriptions; nothing that "
        "runs is different")]


def test_a_shorter_wait_for_the_six_week_follow_up_is_one_timer_change(
        betterback: PathwayModel) -> None:
    assert diff_models(betterback, _version(("betterback.bpmn", SIX_WEEKS, FOUR_WEEKS))) == [
        Change("changed", "timer", "betterback.bpmn", "follow_up_6w_timer",
               "Timer '6 weeks' now falls due at weeks_after(care_started_at, 4) "
               "(was weeks_after(care_started_at, settings['follow_up_weeks'][1]))")]


def test_a_removed_task_is_named_and_so_is_the_gateway_that_now_skips_it(
        betterback: PathwayModel) -> None:
    changes = diff_models(betterback, _version(*WITHOUT_NOTE_RISK_FACTORS))
    assert Change("removed", "task", "betterback.bpmn", "note_risk_factors",
                  "Task 'Note risk factors' was removed") in changes
    gateway = next(c for c in changes if c.element == "screen_route_gate")
    assert gateway.kind == "changed" and gateway.what == "gateway"
    assert gateway.words == ("Gateway 'Stay on the pathway?' now leads to 'Fill in the intake "
                             "questionnaires' when red_flag_route == 'continue' (was to 'Note "
                             "risk factors')")


def test_a_changed_setting_shows_old_and_new_values(betterback: PathwayModel) -> None:
    changed = _version(("pathway.toml", b"follow_up_weeks = [2, 6, 12]",
                        b"follow_up_weeks = [2, 4, 12]"))
    assert diff_models(betterback, changed) == [Change(
        "changed", "setting", "pathway.toml", "follow_up_weeks",
        "Setting follow_up_weeks changed from [2, 6, 12] to [2, 4, 12]")]


def test_a_changed_decision_rule_names_the_cell_that_changed(betterback: PathwayModel) -> None:
    dmn = "start_back_stratification.dmn"
    changed = _version((dmn, b"&gt;= 4", b"&gt;= 5"), (dmn, b"&lt; 4", b"&lt; 5"))
    changes = diff_models(betterback, changed)
    assert [c.element for c in changes] == ["rule_high", "rule_low", "rule_medium"]
    assert changes[0] == Change(
        "changed", "decision rule", dmn, "rule_high",
        "Decision 'STarT Back stratification' rule 1 (rule_high) changed: "
        "'Psychosocial subscale (0-5)' is now >= 5 (was >= 4)")


def test_a_new_decision_rule_reads_as_a_rule(betterback: PathwayModel) -> None:
    dmn = "start_back_stratification.dmn"
    rule = (b'<rule id="rule_very_high"><inputEntry id="vh_ps"><text>&gt; 4</text></inputEntry>'
            b'<inputEntry id="vh_total"><text></text></inputEntry>'
            b'<outputEntry id="vh_out"><text>"high"</text></outputEntry></rule>'
            b"</decisionTable>")
    changes = diff_models(betterback, _version((dmn, b"</decisionTable>", rule),
                                               (dmn, b"&gt;= 4", b"== 4")))
    assert Change(
        "added", "decision rule", dmn, "rule_very_high",
        "Decision 'STarT Back stratification' has a new rule 4 (rule_very_high): when "
        "Psychosocial subscale (0-5) > 4, Stratum is \"high\"") in changes
    assert [c.element for c in changes] == ["rule_high", "rule_very_high"]


def test_a_field_added_to_a_form_is_named(betterback: PathwayModel) -> None:
    files = read_bundle_dir(BETTERBACK_DIR)
    form = json.loads(files["forms/intake.json"])
    form["properties"]["pain_today"] = {"type": "integer", "minimum": 0, "maximum": 10}
    files["forms/intake.json"] = json.dumps(form).encode()
    assert diff_models(betterback, load_bundle(files)) == [Change(
        "changed", "form", "forms/intake.json", "intake",
        "Form 'intake' has new fields pain_today")]


def test_changes_come_in_file_then_element_order(betterback: PathwayModel) -> None:
    changed = _version(("betterback.bpmn", SIX_WEEKS, FOUR_WEEKS),
                       ("pathway.toml", b"pi_sessions = 4", b"pi_sessions = 5"),
                       *WITHOUT_NOTE_RISK_FACTORS)
    changes = diff_models(betterback, changed)
    assert changes == sorted(changes, key=lambda c: (c.file, c.element or ""))
    assert {c.file for c in changes} == {"betterback.bpmn", "pathway.toml"}


# -- moving a running episode onto another version


def test_a_patient_waiting_for_six_weeks_is_moved_to_four_and_keeps_the_rest(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(("betterback.bpmn", SIX_WEEKS, FOUR_WEEKS)), clock)
    instance, care_started_at = _waiting_on_six_weeks(old, clock)
    state = instance.state_json()

    plan = plan_migration(old, new, state)

    assert plan.ok and plan.reason is None
    follow_up = _timer(plan, "follow_up_6w_timer")
    assert follow_up.restarted and follow_up.name == "Waiting: 6 weeks"
    assert follow_up.due_before == care_started_at + timedelta(weeks=6)
    assert follow_up.due_after == care_started_at + timedelta(weeks=4)
    exercise = _timer(plan, "exercise_week")
    assert not exercise.restarted
    assert exercise.due_after == exercise.due_before == care_started_at + timedelta(weeks=3)
    assert len(plan.timers) == 2
    assert plan.ready_tasks == instance.ready_tasks()  # same ids, same due times
    assert plan.steps_after == plan.steps_before
    assert plan.next_wake_at == care_started_at + timedelta(weeks=3)
    assert plan.events == ()
    assert state == instance.state_json()  # the saved episode is left as it was


def test_the_moved_patient_goes_on_to_the_end_on_the_new_version(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(("betterback.bpmn", SIX_WEEKS, FOUR_WEEKS)), clock)
    instance, care_started_at = _waiting_on_six_weeks(old, clock)
    plan = plan_migration(old, new, instance.state_json())
    assert plan.state_json is not None

    moved = new.restore(plan.state_json)
    assert moved.ready_tasks() == plan.ready_tasks
    _complete(moved, "read_module")
    _wait(moved, clock, 7)
    _complete(moved, "weekly_check_in")
    clock.set(care_started_at + timedelta(weeks=4))
    events = moved.fire_due_timers()
    assert ("follow_up_due", 6) in [(e.name, e.data.get("follow_up_week")) for e in events]
    assert "follow_up_6w" in [t.name for t in moved.ready_tasks()]
    _to_the_end(moved, clock)
    assert moved.is_completed


def test_a_patient_already_past_the_new_time_gets_the_follow_up_at_once(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(("betterback.bpmn", SIX_WEEKS, FOUR_WEEKS)), clock)
    instance, care_started_at = _waiting_on_six_weeks(old, clock)
    clock.set(care_started_at + timedelta(weeks=5))

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok and plan.ready_tasks is not None
    assert _timer(plan, "follow_up_6w_timer") == TimerChange(
        "follow_up_6w_timer", "Waiting: 6 weeks", care_started_at + timedelta(weeks=6), None,
        True)
    assert "follow_up_6w" in [t.name for t in plan.ready_tasks]
    assert "follow_up_6w" in plan.steps_after
    assert [(e.name, e.data) for e in plan.events] == [("follow_up_due", {"follow_up_week": 6})]


def test_moving_to_a_version_that_differs_only_in_a_comment_restarts_nothing(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    commented = _version(("pathway.toml", b"[settings]", b"# Reviewed in March.\n[settings]"))
    assert commented.digest != betterback.digest
    new = PathwayEngine(commented, clock)
    instance, _care_started_at = _waiting_on_six_weeks(old, clock)

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok and plan.state_json is not None
    assert [t.restarted for t in plan.timers] == [False, False]
    assert all(t.due_before == t.due_after for t in plan.timers)
    assert plan.ready_tasks == instance.ready_tasks()
    assert plan.steps_after == plan.steps_before
    assert new.restore(plan.state_json).waiting_timers() == instance.waiting_timers()
    with pytest.raises(StateMismatchError):
        old.restore(plan.state_json)  # the new state is the new version's


def test_a_changed_setting_moves_the_timers_that_read_it(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(("pathway.toml", b"follow_up_weeks = [2, 6, 12]",
                                  b"follow_up_weeks = [2, 4, 12]")), clock)
    instance, care_started_at = _waiting_on_six_weeks(old, clock)

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok
    assert _timer(plan, "follow_up_6w_timer") == TimerChange(
        "follow_up_6w_timer", "Waiting: 6 weeks", care_started_at + timedelta(weeks=6),
        care_started_at + timedelta(weeks=4), True)
    assert not _timer(plan, "exercise_week").restarted  # reads exercise_cycle_days only


def test_a_step_added_after_a_waiting_timer_runs_when_it_fires(
        betterback: PathwayModel, clock: ManualClock) -> None:
    note = (b'<bpmn:sequenceFlow id="f_fu6_due" sourceRef="follow_up_6w_timer" '
            b'targetRef="note_six_weeks"/>'
            b'<bpmn:scriptTask id="note_six_weeks" name="Note six weeks">'
            b'<bpmn:extensionElements><spiffworkflow:properties>'
            b'<spiffworkflow:property name="event:six_weeks_noted" value="follow_up_week"/>'
            b'</spiffworkflow:properties></bpmn:extensionElements>'
            b'<bpmn:incoming>f_fu6_due</bpmn:incoming><bpmn:outgoing>f_fu6_noted</bpmn:outgoing>'
            b'<bpmn:script>six_weeks_noted = True</bpmn:script></bpmn:scriptTask>'
            b'<bpmn:sequenceFlow id="f_fu6_noted" sourceRef="note_six_weeks" '
            b'targetRef="follow_up_6w"/>')
    new_version = _version(
        ("betterback.bpmn", b'<bpmn:sequenceFlow id="f_fu6_due" sourceRef="follow_up_6w_timer" '
                            b'targetRef="follow_up_6w"/>', note),
        ("betterback.bpmn", b"<bpmn:incoming>f_fu6_due</bpmn:incoming>\n      <bpmn:outgoing>"
                            b"f_fu6_done", b"<bpmn:incoming>f_fu6_noted</bpmn:incoming>\n"
                            b"      <bpmn:outgoing>f_fu6_done"))
    assert {(c.kind, c.element) for c in diff_models(betterback, new_version)} == {
        ("added", "note_six_weeks"), ("changed", "follow_up_6w_timer")}
    old, new = PathwayEngine(betterback, clock), PathwayEngine(new_version, clock)
    instance, care_started_at = _waiting_on_six_weeks(old, clock)

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok and plan.state_json is not None
    assert not _timer(plan, "follow_up_6w_timer").restarted
    moved = new.restore(plan.state_json)
    clock.set(care_started_at + timedelta(weeks=6))
    assert "six_weeks_noted" in [e.name for e in moved.fire_due_timers()]
    assert "follow_up_6w" in [t.name for t in moved.ready_tasks()]


def test_a_ready_task_with_a_new_due_time_keeps_its_id_and_its_loop_goes_on(
        betterback: PathwayModel, clock: ManualClock) -> None:
    due = b"value=\"iso_duration(days=settings['education_due_days'])\"/>\n            " \
          b"<spiffworkflow:property name=\"event:education_completed\" value=\"module_read, " \
          b"education_check, education_attempt\"/>\n            <spiffworkflow:property " \
          b"name=\"event:education_check_failed\""
    new = PathwayEngine(_version(("education_track.bpmn", due, due.replace(
        b"settings['education_due_days']", b"1"))), clock)
    old = PathwayEngine(betterback, clock)
    instance, _care_started_at = _waiting_on_six_weeks(old, clock)
    [before] = instance.ready_tasks()

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok and plan.ready_tasks is not None and plan.state_json is not None
    [after] = plan.ready_tasks
    assert (after.id, after.name, after.education_module) == (
        before.id, "read_module", before.education_module)
    assert after.due_at == clock.now() + timedelta(days=1) != before.due_at
    moved = new.restore(plan.state_json)
    read = []
    while tasks := [t for t in moved.ready_tasks() if t.name == "read_module"]:
        _complete(moved, "read_module")
        read.append(tasks[0].education_module)
    assert len(read) >= 3 and len(set(read)) == len(read), read


def test_a_patient_at_a_task_the_new_version_removed_is_not_moved(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(*WITHOUT_FIRST_VISIT), clock)
    instance = _at_first_visit(old)
    state = instance.state_json()

    plan = plan_migration(old, new, state)

    assert not plan.ok
    assert plan.reason == "the episode is at 'First visit' (first_visit), which the new " \
                          "version removed"
    assert plan.steps_before == ("first_visit",)
    assert (plan.state_json, plan.ready_tasks, plan.steps_after) == (None, None, ())
    assert old.restore(state).ready_tasks() == instance.ready_tasks()


def test_a_patient_past_a_step_the_new_version_removed_is_not_moved(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(*WITHOUT_NOTE_RISK_FACTORS), clock)
    instance = _at_first_visit(old)

    plan = plan_migration(old, new, instance.state_json())

    assert not plan.ok
    assert plan.reason == ("the new version cannot read this episode's data: the episode went "
                           "through 'Note risk factors' (note_risk_factors), which the new "
                           "version removed")


def test_a_patient_in_a_called_process_the_new_version_lacks_is_not_moved(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(*EDUCATION_RENAMED), clock)
    instance, _care_started_at = _waiting_on_six_weeks(old, clock)

    plan = plan_migration(old, new, instance.state_json())

    assert not plan.ok
    assert plan.reason == ("the episode is in 'Education track' (education), whose process "
                           "education_track the new version does not have")


def test_a_patient_not_yet_in_the_missing_process_is_moved(
        betterback: PathwayModel, clock: ManualClock) -> None:
    old = PathwayEngine(betterback, clock)
    new = PathwayEngine(_version(*EDUCATION_RENAMED), clock)
    instance = _at_first_visit(old)

    plan = plan_migration(old, new, instance.state_json())

    assert plan.ok and plan.state_json is not None
    moved = new.restore(plan.state_json)
    _complete(moved, "first_visit")
    assert moved.ready_tasks()[0].process == "read_each_module"
    _to_the_end(moved, clock)
