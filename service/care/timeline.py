"""A patient's event log told in sentences, for the clinician's patient page: what happened
and who did it, oldest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pathways.education import EducationError, default_catalogue
from service.care.worklist import user_names, when
from service.core.context import Context
from service.core.score_text import score_text
from service.core.tables import Event


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    at_text: str
    name: str
    sentence: str
    by: str | None


def words(value: Any) -> str | None:
    return str(value).replace("_", " ") if value not in (None, "") else None


MEASURE_NAMES = {"pain": "pain", "disability": "disability", "psfs": "PSFS", "pseq": "PSEQ"}
"""The questionnaire measures (prom_scores' keys) as sentences name them."""


def _scores_text(scores: Mapping[str, Any] | None) -> str:
    parts = [f"{label} {score_text(scores[key])}" for key, label in MEASURE_NAMES.items()
             if scores and isinstance(scores.get(key), int | float)]
    return ", ".join(parts) or "no scores"


def _improvement_text(improvement: Mapping[str, Any] | None) -> str:
    """The pathway's verdict: improved on a primary measure (which), or not; an event from
    before the primary measures were configured says only whether any measure improved."""
    improvement = improvement or {}
    if "primary_improved" not in improvement:
        return "improved" if improvement.get("any_improved") else "not improved"
    primary = [str(m) for m in improvement.get("primary_measures") or []]
    supporting = [str(m) for m in improvement.get("supporting_measures") or []]

    def named(measures: list[str], joiner: str = "and") -> str:
        return f" {joiner} ".join(MEASURE_NAMES.get(m, m) for m in measures)

    improved = [m for m in primary if improvement.get(m) is True]
    if improved:
        return f"improved ({named(improved)})"
    also = [m for m in supporting if improvement.get(m) is True]
    return f"not improved on {named(primary, 'or')}" + (
        f" ({named(also)} improved)" if also else "")


def _module_title(module: Any) -> str:
    try:
        return default_catalogue().get(str(module)).title
    except EducationError:
        return words(module) or "a module"


def _check_text(data: Mapping[str, Any]) -> str:
    check = data.get("education_check") or {}
    return (f" ({check.get('correct')} of {check.get('total')} check answers right)"
            if check else "")


SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "episode_started": lambda d: f"Referred ({words((d.get('referral') or {}).get('source'))})",
    "red_flag_screened": lambda d: "Safety questions answered: "
    + (", ".join(words(k) or "" for k, v in (d.get("red_flags") or {}).items() if v)
       or "no red flags"),
    "red_flag_raised": lambda d: f"Red flag raised: {words(d.get('red_flag_outcome'))}",
    "red_flag_reviewed": lambda d: f"Red flag reviewed: {words(d.get('red_flag_decision'))}",
    "baseline_recorded": lambda d: f"Baseline recorded: {_scores_text(d.get('baseline'))}",
    "risk_stratified": lambda d: f"Risk stratified: {d.get('stratum')}",
    "first_visit_recorded": lambda d: "First visit recorded: "
    f"{words(d.get('working_diagnosis')) or 'no diagnosis given'}",
    "education_assigned": lambda d: f"{len(d.get('education_modules') or [])} education "
    "modules assigned",
    "education_completed": lambda d: ("Read again" if d.get("education_attempt") == 2 else "Read")
    + f" \u201c{_module_title(d.get('module_read'))}\u201d" + _check_text(d),
    "education_check_failed": lambda d: "Check of understanding not passed for "
    f"\u201c{_module_title(d.get('module_read'))}\u201d: offered again, physiotherapist told",
    "education_follow_up_recorded": lambda d: "Followed up "
    f"\u201c{_module_title(d.get('module_read'))}\u201d: {words(d.get('education_follow_up'))}",
    "exercise_started": lambda d: f"Exercise programme started "
    f"({len(d.get('exercise_programme') or [])} exercises)",
    "exercise_week_completed": lambda d: f"Exercise week {d.get('programme_week')}: "
    f"{d.get('sessions_done')} sessions, pain {d.get('week_pain_nrs')}, "
    f"during exercise {d.get('pain_during')}",
    "exercise_level_changed": lambda d: f"Exercise level changed: {words(d.get('progression'))}",
    "exercise_alert_reviewed": lambda d: f"Exercise alert reviewed: "
    f"{words(d.get('alert_action'))}",
    "exercise_completed": lambda d: f"Exercise programme finished after "
    f"{d.get('programme_week')} weeks",
    "pi_session_delivered": lambda d: "Psychologically informed session: "
    + (", ".join(words(t) or "" for t in d.get("session_topics") or []) or "no topics noted"),
    "follow_up_due": lambda d: f"{d.get('follow_up_week')}-week follow-up due",
    "follow_up_completed": lambda d: f"{d.get('follow_up_week')}-week follow-up: "
    f"{_scores_text(d.get('follow_up_scores'))}; {_improvement_text(d.get('improvement'))}",
    "escalation_reviewed": lambda d: f"Not improving, reviewed: "
    f"{words(d.get('escalation_decision'))}",
    "programme_changed": lambda d: f"Programme changed: {words(d.get('escalation_decision'))}",
    "episode_escalated": lambda d: "Left the pathway: " + (
        words(d.get("escalation_decision") or d.get("red_flag_decision")
               or d.get("emergency_action") or d.get("red_flag_outcome")) or "escalated")
    + (f" ({d['referred_to']})" if d.get("referred_to") else ""),
    "episode_discharged": lambda d: f"Discharged: {words(d.get('discharge_outcome'))}"
    + (f"; final scores: {_scores_text(d['follow_up_scores'])}" if d.get("follow_up_scores")
       else ""),
    "registry_questionnaire_completed": lambda d: f"Registry questionnaire "
    f"({d.get('registry_month_done')} months): {_scores_text(d.get('registry_scores'))}",
    "episode_completed": lambda d: "Pathway complete",
    "patient_password_reset": lambda d: "The patient's login was given a new password",
    "task_completed": lambda d: f"{d.get('title')} done" + (" (late)" if d.get("overdue")
                                                            else ""),
}
"""Event name -> a sentence for people. Unknown events are shown by name."""
HIDDEN = {"timer_fired"}
BY_PERSON = {"episode_started", "patient_password_reset"}
"""Events a person does directly (not through a task)."""
"""Engine bookkeeping the events around it already say in words."""


def timeline(ctx: Context, events: list[Event],
              people_tasks: set[str]) -> tuple[TimelineItem, ...]:
    """Events as sentences, oldest first. "By" names the person only for what a person did:
    a referral, a new password for the patient, or a task of theirs (the steps the engine
    runs after it are not theirs)."""
    names = user_names(ctx, {e.actor_id for e in events if e.actor_id})
    items = []
    for index, event in enumerate(events):
        following = events[index + 1] if index + 1 < len(events) else None
        if event.name in HIDDEN or (
                event.name == "task_completed" and following is not None
                and following.element == event.element and following.name in SENTENCES):
            continue  # the task's own event says it better
        describe = SENTENCES.get(event.name)
        try:
            sentence = describe(event.data or {}) if describe else (
                words(event.name) or event.name).capitalize()
        except (TypeError, ValueError, AttributeError):
            sentence = (words(event.name) or event.name).capitalize()
        by_person = event.name in BY_PERSON or event.element in people_tasks
        items.append(TimelineItem(event.at, when(event.at), event.name, sentence,
                                  names.get(event.actor_id) if event.actor_id and by_person
                                  else None))
    return tuple(items)
