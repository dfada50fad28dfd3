"""A patient's event log told in sentences, for the clinician's patient page: what happened
and who did it, oldest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pathways.education import EducationError, default_catalogue
from pathways.exercises import ExerciseError, default_library
from pathways.vocabulary import Vocabulary, plain
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
    return plain(value) if value not in (None, "") else None


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


def _flags_text(data: Mapping[str, Any], v: Vocabulary) -> str:
    flags = [v.title(k) for k, on in (data.get("red_flags") or {}).items() if on]
    return "; ".join(flags) or "no red flags"


def _referral_text(data: Mapping[str, Any]) -> str:
    source = (data.get("referral") or {}).get("source")
    return {"self": "Referred themselves", "clinician": "Referred by a clinician"}.get(
        str(source), f"Referred ({words(source) or 'source not given'})")


def _sessions(count: Any) -> str:
    return f"{count} session" + ("" if count == 1 else "s")


LEVEL_MOVES = {"progress": "moved up a level", "regress": "moved down a level"}
"""What exercise_progression.dmn's per-exercise decisions do to an exercise's level."""
WEEK_OUTCOMES = {"progress": "Up a level", "hold": "Same level",
                 "hold_alert": "Same level; physiotherapist alerted",
                 "regress_alert": "Down a level; physiotherapist alerted",
                 "regress": "Down a level"}
"""The week's overall progression (the pathway's `progression`), as the adherence table says it."""


def _level_changes(data: Mapping[str, Any]) -> str:
    """Which exercises moved up or down, by their titles (exercise_decisions and the new
    exercise_programme are in the same order)."""
    decisions = list(data.get("exercise_decisions") or [])
    programme = list(data.get("exercise_programme") or [])
    moved: dict[str, list[str]] = {}
    for decision, item in zip(decisions, programme, strict=False):
        move = LEVEL_MOVES.get(str(decision).removesuffix("_alert"))
        if move and isinstance(item, Mapping):
            moved.setdefault(move, []).append(_exercise_title(item.get("exercise")))
    parts = [f"{', '.join(titles)} {move}" for move, titles in moved.items()]
    return "; ".join(parts) or "no exercise moved"


def _exercise_title(exercise: Any) -> str:
    try:
        return default_library().get(str(exercise)).title
    except ExerciseError:
        return words(exercise) or "an exercise"


Sentence = Callable[[Mapping[str, Any], Vocabulary], str]

SENTENCES: dict[str, Sentence] = {
    "episode_started": lambda d, v: _referral_text(d),
    "red_flag_screened": lambda d, v: f"Safety questions answered: {_flags_text(d, v)}",
    "red_flag_raised": lambda d, v: "Red flag raised: "
    f"{v.label('red_flag_outcome', d.get('red_flag_outcome'))}",
    "red_flag_reviewed": lambda d, v: "Red flag reviewed: "
    f"{v.label('red_flag_decision', d.get('red_flag_decision')).lower()}",
    "baseline_recorded": lambda d, v: f"Baseline recorded: {_scores_text(d.get('baseline'))}",
    "risk_stratified": lambda d, v: f"Risk stratified: {d.get('stratum')}",
    "first_visit_recorded": lambda d, v: "First visit recorded: "
    f"{v.label('working_diagnosis', d.get('working_diagnosis')) or 'no diagnosis given'}",
    "education_assigned": lambda d, v: f"{len(d.get('education_modules') or [])} education "
    "modules assigned",
    "education_completed": lambda d, v: ("Read again" if d.get("education_attempt") == 2
                                         else "Read")
    + f" \u201c{_module_title(d.get('module_read'))}\u201d" + _check_text(d),
    "education_check_failed": lambda d, v: "Check of understanding not passed for "
    f"\u201c{_module_title(d.get('module_read'))}\u201d: offered again, physiotherapist told",
    "education_follow_up_recorded": lambda d, v: "Followed up "
    f"\u201c{_module_title(d.get('module_read'))}\u201d: "
    f"{v.label('education_follow_up', d.get('education_follow_up')).lower()}",
    "exercise_started": lambda d, v: f"Exercise programme started "
    f"({len(d.get('exercise_programme') or [])} exercises)",
    "exercise_week_completed": lambda d, v: f"Exercise week {d.get('programme_week')}: "
    f"{_sessions(d.get('sessions_done'))}, pain {d.get('week_pain_nrs')}, "
    f"during exercise {d.get('pain_during')}",
    "exercise_level_changed": lambda d, v: f"Exercise levels changed after week "
    f"{d.get('programme_week')}: {_level_changes(d)}",
    "exercise_alert_reviewed": lambda d, v: "Exercise alert reviewed: "
    f"{v.label('alert_action', d.get('alert_action')).lower()}",
    "exercise_completed": lambda d, v: f"Exercise programme finished after "
    f"{d.get('programme_week')} weeks",
    "pi_session_delivered": lambda d, v: "Psychologically informed session: "
    + (", ".join(v.labels_of("session_topics", d.get("session_topics") or []))
       or "no topics noted"),
    "follow_up_due": lambda d, v: f"{d.get('follow_up_week')}-week follow-up due",
    "follow_up_completed": lambda d, v: f"{d.get('follow_up_week')}-week follow-up: "
    f"{_scores_text(d.get('follow_up_scores'))}; {_improvement_text(d.get('improvement'))}",
    "escalation_reviewed": lambda d, v: "Not improving, reviewed: "
    f"{v.label('escalation_decision', d.get('escalation_decision')).lower()}",
    "programme_changed": lambda d, v: "Programme changed: "
    f"{v.label('escalation_decision', d.get('escalation_decision')).lower()}",
    "episode_escalated": lambda d, v: "Left the pathway: " + _left_because(d, v)
    + (f" ({d['referred_to']})" if d.get("referred_to") else ""),
    "episode_discharged": lambda d, v: "Discharged: "
    f"{v.label('discharge_outcome', d.get('discharge_outcome')).lower()}"
    + (f"; final scores: {_scores_text(d['follow_up_scores'])}" if d.get("follow_up_scores")
       else ""),
    "registry_questionnaire_completed": lambda d, v: f"Registry questionnaire "
    f"({d.get('registry_month_done')} months): {_scores_text(d.get('registry_scores'))}",
    "episode_completed": lambda d, v: "Pathway complete",
    "patient_password_reset": lambda d, v: "The patient's login was given a new password",
    "message_sent": lambda d, v: "Message from the patient" if d.get("side") == "patient"
    else "Message to the patient",
    "clinician_task_created": lambda d, v: "Call back asked for"
    if d.get("name") == "call_back" else "Task made by hand",
    "clinician_task_completed": lambda d, v: "Called back"
    if d.get("name") == "call_back" else "Task made by hand done",
    "task_completed": lambda d, v: f"{d.get('title')} done" + (" (late)" if d.get("overdue")
                                                               else ""),
}
"""Event name -> a sentence for people. Unknown events are shown by name."""
HIDDEN = {"timer_fired"}
"""Engine bookkeeping the events around it already say in words."""
BY_PERSON = {"episode_started", "patient_password_reset", "message_sent",
             "clinician_task_created", "clinician_task_completed"}
"""Events a person does directly (not through a task)."""


def _left_because(data: Mapping[str, Any], v: Vocabulary) -> str:
    """Why the episode left the pathway: the first decision on record, in its form's words."""
    for field in ("escalation_decision", "red_flag_decision", "emergency_action",
                  "red_flag_outcome"):
        if data.get(field):
            return v.label(field, data[field]).lower()
    return "escalated"


def timeline(ctx: Context, events: list[Event], people_tasks: set[str],
             vocabulary: Vocabulary) -> tuple[TimelineItem, ...]:
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
            sentence = describe(event.data or {}, vocabulary) if describe else (
                words(event.name) or event.name).capitalize()
        except (TypeError, ValueError, AttributeError):
            sentence = (words(event.name) or event.name).capitalize()
        by_person = event.name in BY_PERSON or event.element in people_tasks
        items.append(TimelineItem(event.at, when(event.at), event.name, sentence,
                                  names.get(event.actor_id) if event.actor_id and by_person
                                  else None))
    return tuple(items)
