"""The education track of the reference pathway: modules by need, and a check of understanding
not passed offers the module again and tells the physiotherapist, once. The pathway runs with a
simulated clock and is saved and restored after every step, as the service does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml

from pathways.clock import ManualClock
from pathways.education import default_catalogue
from pathways.engine import PathwayEngine
from pathways.events import DomainEvent
from pathways.instance import PathwayInstance
from pathways.models import PathwayModel

from .conftest import BETTERBACK_DIR

ANSWERS = yaml.safe_load((BETTERBACK_DIR / "cases.yaml").read_text())["answers"]

# -- driving the pathway step by step

class Episode:
    """One patient's instance, saved and restored after every step."""

    def __init__(self, model: PathwayModel) -> None:
        self.clock = ManualClock()
        self.engine = PathwayEngine(model, self.clock)
        self.instance: PathwayInstance = self.engine.start({"referral": {"source": "self"}})
        self.events: list[DomainEvent] = []

    def ready(self) -> dict[str, tuple[str | None, str | None]]:
        """Ready task name -> (role, education module)."""
        return {t.name: (t.role, t.education_module) for t in self.instance.ready_tasks()}

    def complete(self, name: str, data: dict[str, Any]) -> list[DomainEvent]:
        task = next(t for t in self.instance.ready_tasks() if t.name == name)
        events = self.instance.complete_task(task.id, data, actor=task.role)
        self.instance = self.engine.restore(self.instance.state_json())
        self.events += events
        return events

    def advance(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))
        self.events += self.instance.fire_due_timers()
        self.instance = self.engine.restore(self.instance.state_json())

    def read(self, name: str, right: bool) -> list[DomainEvent]:
        """The patient reads the module of task `name`; one answer is wrong unless `right`."""
        module = default_catalogue().get(self.ready()[name][1] or "")
        answers = [q.answer for q in module.check_questions]
        if not right:
            answers[-1] = (answers[-1] + 1) % len(module.check_questions[-1].options)
        return self.complete(name, {"answers": answers, "confirmed_read": True})


def named(events: list[DomainEvent], name: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.name == name]


@pytest.fixture
def reading(betterback: PathwayModel) -> Iterator[Episode]:
    """A low-risk patient after the first visit: three modules to read, the first is open."""
    episode = Episode(betterback)
    episode.complete("red_flag_screen", {"age": 40, "red_flags": ANSWERS["no_red_flags"]})
    episode.complete("intake_questionnaires", {"start_back": ANSWERS["low_start_back"],
                                               "proms": ANSWERS["baseline_proms"]})
    episode.complete("first_visit", ANSWERS["first_visit"])
    assert episode.ready() == {"read_module": ("patient", "understanding-back-pain")}
    yield episode


def test_a_check_not_passed_offers_the_module_again_and_tells_the_physiotherapist(
        reading: Episode) -> None:
    events = reading.read("read_module", right=False)

    assert reading.ready() == {
        "read_module_again": ("patient", "understanding-back-pain"),
        "talk_through_module": ("physiotherapist", "understanding-back-pain")}
    [failed] = named(events, "education_check_failed")
    assert failed == {"module_read": "understanding-back-pain",
                      "education_check": {"correct": 2, "total": 3, "passed": False}}
    assert named(events, "education_completed") == [{**failed, "education_attempt": 1}]
    talk = next(t for t in reading.instance.ready_tasks() if t.name == "talk_through_module")
    assert (talk.alert, talk.form, talk.title) == (
        "education", "education_follow_up", "Talk through an education module")
    assert talk.due_at is not None and (talk.due_at - reading.clock.now()).days == 2


def test_a_passed_check_asks_nothing_of_the_physiotherapist(reading: Episode) -> None:
    events = reading.read("read_module", right=True)
    assert named(events, "education_check_failed") == []
    assert reading.ready() == {"read_module": ("patient", "staying-active")}


def test_reading_again_and_passing_goes_on_to_the_next_module_once_talked_through(
        reading: Episode) -> None:
    reading.read("read_module", right=False)
    events = reading.read("read_module_again", right=True)
    assert named(events, "education_completed") == [{
        "module_read": "understanding-back-pain", "education_attempt": 2,
        "education_check": {"correct": 3, "total": 3, "passed": True}}]
    # The physiotherapist still talks it through before the next module.
    assert reading.ready() == {
        "talk_through_module": ("physiotherapist", "understanding-back-pain")}

    events = reading.complete("talk_through_module", {
        "education_follow_up": "discussed_with_patient", "note": "Went over scans and rest."})
    assert named(events, "education_follow_up_recorded") == [{
        "module_read": "understanding-back-pain", "education_follow_up": "discussed_with_patient"}]
    assert reading.ready() == {"read_module": ("patient", "staying-active")}
    assert "Went over" not in reading.instance.state_json()  # notes stay out of the state


def test_a_second_check_not_passed_does_not_loop_again(reading: Episode) -> None:
    reading.read("read_module", right=False)
    reading.complete("talk_through_module", {"education_follow_up": "will_discuss_at_next_visit"})
    events = reading.read("read_module_again", right=False)

    assert named(events, "education_check_failed") == []  # the physiotherapist knows already
    assert reading.ready() == {"read_module": ("patient", "staying-active")}
    reading.read("read_module", right=True)
    reading.read("read_module", right=True)
    assert reading.ready() == {}
    read = [e["module_read"] for e in named(reading.events, "education_completed")]
    assert read == ["understanding-back-pain", "understanding-back-pain", "staying-active",
                    "flare-up-plan"]
    assert len(named(reading.events, "education_check_failed")) == 1


def test_each_module_gets_its_own_second_chance(reading: Episode) -> None:
    reading.read("read_module", right=False)
    reading.read("read_module_again", right=True)
    reading.complete("talk_through_module", {"education_follow_up": "discussed_with_patient"})
    reading.read("read_module", right=False)
    assert reading.ready() == {
        "read_module_again": ("patient", "staying-active"),
        "talk_through_module": ("physiotherapist", "staying-active")}


def test_leaving_the_pathway_while_a_module_is_offered_again_ends_cleanly(
        reading: Episode) -> None:
    """The exercise and follow-up branches run on; an emergency flag at the 6-week follow-up
    ends the episode while the education track waits inside a module: nothing of it may stay
    behind."""
    reading.read("read_module", right=False)
    no_flags = ANSWERS["no_new_flags"]
    reading.advance(14)
    reading.complete("follow_up_2w", {"proms": ANSWERS["unchanged_proms"], "red_flags": no_flags})
    reading.advance(28)
    reading.complete("follow_up_6w", {"proms": ANSWERS["unchanged_proms"],
                                      "red_flags": {**no_flags, "saddle_numbness": True}})
    assert {"read_module_again", "talk_through_module", "emergency_review"} <= set(
        reading.ready())

    events = reading.complete("emergency_review",
                              {"emergency_action": "sent_to_emergency_department"})

    assert [e.name for e in events][-1] == "episode_completed"
    assert reading.instance.is_completed and reading.ready() == {}
