"""What a clinician reads about the patient on a task page: stratum, baseline and latest
scores (as the patient page computes them), red flags, why the task is there, and who has
claimed it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from pathways.vocabulary import Vocabulary, vocabulary_of
from service.care.page_views import score_charts
from service.care.schemas import TaskPublic
from service.care.timeline import MEASURE_NAMES, words
from service.care.worklist import TASK_ALERTS, user_names
from service.core.context import Context
from service.core.score_text import score_text
from service.core.tables import Episode, Event

REASON_EVENTS = ("red_flag_screened", "red_flag_raised", "follow_up_completed",
                 "escalation_reviewed", "exercise_week_completed", "education_check_failed")


@dataclass(frozen=True)
class ScoreLine:
    title: str
    baseline: str
    latest: str
    """The latest score after the baseline, with its verdict ("not yet" before one)."""


@dataclass(frozen=True)
class TaskPatient:
    stratum: str | None
    scores: tuple[ScoreLine, ...]
    red_flags: tuple[str, ...]
    """The safety answers that were yes, in words, and the triage's outcome."""
    reasons: tuple[str, ...]
    """Why the task is there: its alert, and what raised it."""
    claimed_by: str | None
    claimed_by_someone_else: bool


def task_patient(ctx: Context, task: TaskPublic) -> TaskPatient:
    """The patient of an open task the caller works (views.task_detail has checked that)."""
    episode = ctx.session.get(Episode, task.episode_id)
    events = list(ctx.session.exec(select(Event).where(
        Event.episode_id == task.episode_id, col(Event.name).in_(REASON_EVENTS))
        .order_by(col(Event.id))).all())
    latest = {e.name: e.data or {} for e in events}
    scores = tuple(ScoreLine(
        c.title, score_text(c.baseline) if c.baseline is not None else "not yet",
        f"{score_text(c.points[-1].value)} ({c.points[-1].verdict})"
        if len(c.points) > 1 else "not yet") for c in score_charts(ctx, task.episode_id))
    names = user_names(ctx, {task.claimed_by}) if task.claimed_by else {}
    vocabulary = (ctx.engines.engine_by_id(ctx.session, episode.model_version_id).model.vocabulary
                  if episode is not None else vocabulary_of({}))
    return TaskPatient(
        stratum=episode.stratum if episode else task.stratum, scores=scores,
        red_flags=_red_flags(latest, vocabulary), reasons=_reasons(task, latest, vocabulary),
        claimed_by=names.get(task.claimed_by) if task.claimed_by else None,
        claimed_by_someone_else=task.claimed_by is not None and ctx.user is not None
        and task.claimed_by != ctx.user.id)


def _red_flags(latest: dict[str, dict[str, Any]], vocabulary: Vocabulary) -> tuple[str, ...]:
    answered = latest.get("red_flag_screened", {}).get("red_flags") or {}
    found = [vocabulary.title(k) for k, v in answered.items() if v is True]
    raised = latest.get("red_flag_raised")
    if raised:
        found.append(f"triage: {words(raised.get('red_flag_outcome'))}")
    return tuple(found)


def _reasons(task: TaskPublic, latest: dict[str, dict[str, Any]],
             vocabulary: Vocabulary) -> tuple[str, ...]:
    reasons = []
    if task.alert in TASK_ALERTS:
        reasons.append(TASK_ALERTS[task.alert][0])
    if task.alert in ("emergency", "red_flag") and "red_flag_raised" in latest:
        reasons.append("Safety answers triaged as "
                       f"{words(latest['red_flag_raised'].get('red_flag_outcome'))}")
    if task.alert == "exercise" and "exercise_week_completed" in latest:
        week = latest["exercise_week_completed"]
        reasons.append(f"Exercise week {week.get('programme_week')}: pain "
                       f"{week.get('week_pain_nrs')}, during exercise {week.get('pain_during')}")
    if (task.alert == "not_improving" or task.name == "specialist_referral") \
            and "follow_up_completed" in latest:
        follow_up = latest["follow_up_completed"]
        measured = follow_up.get("follow_up_scores") or {}
        scores = ", ".join(f"{label} {score_text(measured[key])}"
                           for key, label in MEASURE_NAMES.items()
                           if isinstance(measured.get(key), int | float))
        improvement = follow_up.get("improvement") or {}
        improved = improvement.get("primary_improved", improvement.get("any_improved"))
        reasons.append(f"{follow_up.get('follow_up_week')}-week follow-up: "
                       f"{'improved' if improved else 'not improved'}"
                       + (f" ({scores})" if scores else ""))
    if task.name == "specialist_referral" and "escalation_reviewed" in latest:
        decision = latest["escalation_reviewed"].get("escalation_decision")
        reasons.append("Not-improving review decided: "
                       f"{vocabulary.label('escalation_decision', decision).lower()}")
    return tuple(reasons)
