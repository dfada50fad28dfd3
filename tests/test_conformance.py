"""Conformance of an episode's path with the reference model: every case of cases.yaml run
through the engine fits; steps dropped, added, swapped or done late are found and named; and
the alignments agree with pm4py's on the same net and logs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from pathways.cases import load_cases, run_case
from pathways.conformance import (
    ConformanceResult,
    LoggedEvent,
    ProcessNet,
    align,
    check_conformance,
    episode_path,
    process_net,
)
from pathways.models import PathwayModel, load_bundle

from .conftest import BETTERBACK_DIR

CASES = load_cases(BETTERBACK_DIR)
LOW_RISK = CASES[0]["name"]
"""Screen, intake, first visit, three modules, the 2-, 6- and 12-week follow-ups, discharge."""
PM4PY_CASES = [CASES[i]["name"] for i in (0, 2, 4)]
"""Completed cases that end at the pathway's end, not by leaving it (a terminate end event
empties its process, which a plain Petri net, and so pm4py, cannot express). The medium-risk
case with registry follow-up fits too, but takes pm4py's A* nearly a minute."""

Log = list[LoggedEvent]


@pytest.fixture(scope="module")
def net(betterback: PathwayModel) -> ProcessNet:
    return process_net(betterback)


@pytest.fixture(scope="module")
def logs(betterback: PathwayModel) -> dict[str, Log]:
    """Each case's event log, as the engine wrote it."""
    return {case["name"]: [LoggedEvent.of(event) for step in run_case(betterback, case)
                           for event in step.events] for case in CASES}


def judge(net: ProcessNet, betterback: PathwayModel, log: Log,
          max_states: int | None = None) -> ConformanceResult:
    if max_states is None:
        return check_conformance(net, log, betterback.step_names())
    return check_conformance(net, log, betterback.step_names(), max_states)


def index_of(log: Log, element: str, nth: int = 0) -> int:
    found = [i for i, e in enumerate(log) if e.element == element
             and e.name in ("task_completed", "timer_fired")]
    return found[nth]


def dropped(element: str) -> Callable[[Log], Log]:
    def change(log: Log) -> Log:
        at = index_of(log, element)
        return log[:at] + log[at + 1:]
    return change


def inserted(element: str, after: str) -> Callable[[Log], Log]:
    def change(log: Log) -> Log:
        at = index_of(log, after)
        return log[:at + 1] + [dataclasses.replace(log[at], element=element)] + log[at + 1:]
    return change


def swapped(first: str, second: str) -> Callable[[Log], Log]:
    def change(log: Log) -> Log:
        a, b = index_of(log, first), index_of(log, second)
        changed = list(log)
        changed[a], changed[b] = log[b], log[a]
        return changed
    return change


def late(element: str, days: int) -> Callable[[Log], Log]:
    def change(log: Log) -> Log:
        at = index_of(log, element)
        return log[:at] + [dataclasses.replace(log[at], at=log[at].at + timedelta(days=days))
                           ] + log[at + 1:]
    return change


def test_the_log_records_people_s_tasks_and_timers_as_steps(logs: dict[str, Log]) -> None:
    path = episode_path(logs[LOW_RISK])
    assert [s.element for s in path.steps] == [
        "red_flag_screen", "intake_questionnaires", "first_visit", "read_module",
        "read_module", "read_module", "follow_up_2w_timer", "follow_up_2w",
        "follow_up_6w_timer", "follow_up_6w", "follow_up_12w_timer", "follow_up_12w",
        "discharge"]
    assert path.completed and not path.migrated
    assert all(s.due_at is not None for s in path.steps if s.kind == "task")


def test_the_net_has_a_visible_transition_for_each_logged_step_kind(net: ProcessNet) -> None:
    assert {"red_flag_screen", "first_visit", "pi_session", "read_module", "exercise_week",
            "follow_up_2w_timer", "registry_timer", "urgent_review",
            "specialist_answer"} <= net.labels
    # Scripts, business rules, gateways and called processes leave no step of their own.
    assert not {"score_baseline", "stratify_risk", "care_split", "screen_red_flag_check",
                "decide_progression"} & net.labels


@pytest.mark.parametrize("name", [c["name"] for c in CASES])
def test_every_reference_case_fits_its_model(name: str, net: ProcessNet,
                                             betterback: PathwayModel,
                                             logs: dict[str, Log]) -> None:
    result = judge(net, betterback, logs[name])
    assert (result.status, result.fits, result.deviations) == ("conforms", True, ()), \
        result.note


@pytest.mark.parametrize(("change", "expected"), [
    (dropped("first_visit"), [("missing", "first_visit", 3)]),
    (dropped("follow_up_6w"), [("missing", "follow_up_6w", 10)]),
    (inserted("specialist_answer", after="first_visit"), [("unexpected", "specialist_answer", 4)]),
    (swapped("follow_up_6w_timer", "follow_up_6w"), [("wrong_order", "follow_up_6w", 9)]),
    (swapped("red_flag_screen", "intake_questionnaires"),
     [("wrong_order", "intake_questionnaires", 1)]),
], ids=["first visit dropped", "6-week follow-up dropped", "an unexpected step",
        "a follow-up before its timer", "intake before the safety questions"])
def test_an_injected_deviation_is_found_and_named(
        change: Callable[[Log], Log], expected: list[tuple[str, str, int]], net: ProcessNet,
        betterback: PathwayModel, logs: dict[str, Log]) -> None:
    result = judge(net, betterback, change(logs[LOW_RISK]))
    assert (result.status, result.fits) == ("deviates", False)
    assert [(d.kind, d.step, d.position) for d in result.deviations] == expected
    assert result.deviations[0].name in result.deviations[0].detail
    assert "does not fit" in result.note


def test_a_step_completed_after_its_due_time_is_late_though_the_path_fits(
        net: ProcessNet, betterback: PathwayModel, logs: dict[str, Log]) -> None:
    log = late("first_visit", days=9)(logs[LOW_RISK])
    result = judge(net, betterback, log)
    assert (result.status, result.fits) == ("deviates", True)
    [deviation] = result.deviations
    assert (deviation.kind, deviation.step, deviation.position) == ("late", "first_visit", 3)
    # Due 7 days after it became ready (first_visit_due_days), done 9 days later.
    assert "completed 2 days after it was due (2026-01-12T09:00:00+00:00)" in deviation.detail


def test_a_running_episode_is_judged_as_far_as_it_has_gone(
        net: ProcessNet, betterback: PathwayModel, logs: dict[str, Log]) -> None:
    running = [e for e in logs[LOW_RISK] if e.name != "episode_completed"]
    cut = running[:index_of(running, "discharge")]
    assert judge(net, betterback, cut).status == "conforms"
    # Once the engine says the episode is over (at its normal end), a path that stops short
    # misses its end.
    finished = [*cut, logs[LOW_RISK][-1]]
    assert logs[LOW_RISK][-1].data == {"terminated_by": None}
    result = judge(net, betterback, finished)
    assert [(d.kind, d.step) for d in result.deviations] == [("missing", "discharge")]


def test_an_episode_that_left_the_pathway_ends_where_the_log_says(
        net: ProcessNet, betterback: PathwayModel, logs: dict[str, Log]) -> None:
    left = logs["an emergency red flag leaves the pathway at once with a clinician task due "
                "within an hour"]
    assert left[-1].data == {"terminated_by": "left_pathway"}
    assert judge(net, betterback, left).status == "conforms"
    said_normal_end = [*left[:-1], dataclasses.replace(left[-1], data={"terminated_by": None})]
    assert judge(net, betterback, said_normal_end).fits is False


def test_a_path_too_complex_to_align_says_so(net: ProcessNet, betterback: PathwayModel,
                                             logs: dict[str, Log]) -> None:
    net.memo.clear()  # the limit counts the search's own work
    result = judge(net, betterback, dropped("first_visit")(logs[LOW_RISK]), max_states=5)
    assert (result.status, result.fits) == ("too_complex", False)
    assert "too complex to align" in result.note


INCLUSIVE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
                  targetNamespace="https://carepath.example/test">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
    <bpmn:inclusiveGateway id="g"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:inclusiveGateway>
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_model_with_an_element_it_cannot_represent_is_reported_not_judged() -> None:
    from pathways.conformance import UnsupportedModelError

    model = load_bundle({"pathway.toml": b'process = "p"\n', "p.bpmn": INCLUSIVE}, lint=False)
    with pytest.raises(UnsupportedModelError, match="g: a InclusiveGateway"):
        process_net(model)
    result = check_conformance(UnsupportedModelError("g", "not yet"), [])
    assert result.status == "unsupported" and "cannot be checked" in result.note


# -- pm4py (test-only: AGPL) aligns the same logs on the same net


def pm4py_cost(net: ProcessNet, labels: list[str]) -> tuple[int, float]:
    """pm4py's alignment of one trace on `net`: (log and model moves, fitness)."""
    from pm4py.algo.conformance.alignments.petri_net import algorithm as alignments
    from pm4py.objects.log.obj import Event, EventLog, Trace
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils import petri_utils

    petri = PetriNet("pathway")
    places = [PetriNet.Place(f"p{i}") for i in range(len(net.places))]
    for place in places:
        petri.places.add(place)
    for transition in net.transitions:
        made = PetriNet.Transition(f"t{transition.id}", transition.label)
        petri.transitions.add(made)
        for place in transition.consumes:
            petri_utils.add_arc_from_to(places[place], made, petri)
        for place in transition.produces:
            petri_utils.add_arc_from_to(made, places[place], petri)
    initial = Marking({places[p]: 1 for p in net.initial})
    final = Marking({places[net.final]: 1})
    log = EventLog([Trace([Event({"concept:name": label}) for label in labels])])
    [result] = alignments.apply(log, petri, initial, final)
    # pm4py costs 10,000 per log or model move and 1 per silent move.
    answer: dict[str, Any] = result
    return int(answer["cost"]) // 10_000, float(answer["fitness"])


PM4PY_CHANGES = {
    "as run": lambda log: log,
    "first visit dropped": dropped("first_visit"),
    "discharge dropped": dropped("discharge"),
    "an unexpected step": inserted("specialist_answer", after="first_visit"),
    "a follow-up before its timer": swapped("follow_up_6w_timer", "follow_up_6w"),
    "intake before the safety questions": swapped("red_flag_screen", "intake_questionnaires"),
}


SLOW_FOR_PM4PY = {"a follow-up before its timer"}
"""Its alignment takes pm4py 30 to 60 s on the longer cases: checked on the low-risk one."""


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # pm4py's numpy matrices
@pytest.mark.parametrize(("case", "change"), [
    (case, change) for case in PM4PY_CASES for change in PM4PY_CHANGES
    if case == PM4PY_CASES[0] or change not in SLOW_FOR_PM4PY])
def test_alignments_agree_with_pm4py(case: str, change: str, net: ProcessNet,
                                     logs: dict[str, Log]) -> None:
    path = episode_path(PM4PY_CHANGES[change](logs[case]))
    labels = [s.element for s in path.steps]
    ours = align(net, labels, completed=True, ending=None)  # pm4py's net: the normal end
    theirs, fitness = pm4py_cost(net, labels)
    assert ours.deviations == theirs
    assert (fitness == 1.0) == (ours.deviations == 0)
    assert (change == "as run") == (ours.deviations == 0)
