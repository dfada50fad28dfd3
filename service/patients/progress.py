"""The patient's progress page and its JSON twin: questionnaire scores and weekly check-ins
over time, and a sentence a measure judged by the instruments' MCIDs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from pathways.instruments import (
    DISABILITY_MCID_POINTS,
    PAIN_MCID_POINTS,
    PSEQ_MCID_POINTS,
    PSFS_MCID_POINTS,
    disability_improved,
    pain_improved,
    pseq_improved,
    psfs_improved,
)
from service.core.context import Context
from service.core.score_text import score_text, score_value
from service.core.tables import Event, QuestionnaireResponse, TaskSubmission
from service.patients.views import finished_episode, patient_episode


@dataclass(frozen=True)
class ProgressRow:
    at: datetime
    label: str
    kind: str
    """baseline, follow_up, registry, check_in."""
    pain: float | None
    disability: float | None
    psfs: float | None
    pseq: float | None


@dataclass(frozen=True)
class ProgressPage:
    episode_id: int | None
    rows: list[ProgressRow]
    summary: list[str]


def progress(ctx: Context) -> ProgressPage:
    """The episode the patient is in, or after discharge the one they finished (their final
    scores stay readable)."""
    episode = patient_episode(ctx) or finished_episode(ctx)
    if episode is None:
        return ProgressPage(None, [], [])
    responses = ctx.session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.episode_id == episode.id)
        .order_by(col(QuestionnaireResponse.submitted_at), col(QuestionnaireResponse.id))).all()
    names = dict(ctx.session.exec(select(TaskSubmission.task_id, TaskSubmission.name).where(
        TaskSubmission.episode_id == episode.id)).all())
    rows = [ProgressRow(r.submitted_at, _questionnaire_label(r.kind, names.get(r.task_id, "")),
                        r.kind, *(_number(r.scores.get(k)) for k in
                                  ("pain", "disability", "psfs", "pseq"))) for r in responses]
    check_ins = ctx.session.exec(select(Event).where(
        Event.episode_id == episode.id, Event.name == "exercise_week_completed")).all()
    rows += [ProgressRow(e.at, f"Week {e.data.get('programme_week')} check-in", "check_in",
                         _number(e.data.get("week_pain_nrs")), None, None, None)
             for e in check_ins]
    rows.sort(key=lambda r: (r.at, r.kind != "baseline"))
    questionnaires = [r for r in rows if r.kind != "check_in"]
    return ProgressPage(episode.id, rows, latest_pain(rows, questionnaires)
                        + progress_summary(questionnaires))


def latest_pain(rows: list[ProgressRow], questionnaires: list[ProgressRow]) -> list[str]:
    """The pain the patient reported last, when a check-in came after the latest
    questionnaire, and how it changed since that questionnaire: the summary below it compares
    questionnaires only, and must not read as the latest word."""
    last = questionnaires[-1] if questionnaires else None
    latest = next((r for r in reversed(rows) if r.kind == "check_in" and r.pain is not None),
                  None)
    if last is None or last.pain is None or latest is None or latest.pain is None \
            or latest.at <= last.at:
        return []
    change = latest.pain - last.pain
    now = (f"Latest: your pain was {score_text(latest.pain)} out of 10 at your "
           f"{latest.label[0].lower()}{latest.label[1:]}")
    since = f"at your {last.label[0].lower()}{last.label[1:]}" if last.kind != "baseline" \
        else "when you started"
    if score_value(change) == 0:
        return [f"{now}, the same as {since}."]
    if change > 0:
        return [f"{now}, {_points(change)} worse than {since} ({score_text(last.pain)}). "
                "Tell your physiotherapist if this worries you; the scores below compare "
                "your questionnaires only."]
    return [f"{now}, {_points(-change)} better than {since} ({score_text(last.pain)})."]


def _questionnaire_label(kind: str, task_name: str) -> str:
    if kind == "baseline":
        return "When you started"
    if task_name.startswith("follow_up_") and task_name.endswith("w"):
        return f"{task_name[len('follow_up_'):-1]}-week follow-up"
    return "Follow-up questionnaire" if kind == "follow_up" else "Later questionnaire"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _points(value: float) -> str:
    return f"{score_text(value)} point" + ("" if score_text(value) == "1" else "s")


def progress_summary(rows: list[ProgressRow]) -> list[str]:
    """Baseline against the latest questionnaire, one sentence a measure, judged by the MCIDs
    in pathways.instruments (domain.md section 5)."""
    if not rows:
        return ["Your progress will show here once you have filled in your first "
                "questionnaires."]
    if len(rows) == 1:
        return ["You will see how you are doing here after your first follow-up "
                "questionnaire."]
    first, last = rows[0], rows[-1]
    sentences = []
    measures = [
        ("pain", "Your pain", "out of 10", -1, pain_improved, f"{PAIN_MCID_POINTS} points"),
        ("disability", "Your day-to-day limitation score", "out of 100", -1,
         disability_improved, f"{DISABILITY_MCID_POINTS} points"),
        ("psfs", "Your score for the activities you chose", "out of 10", 1, psfs_improved,
         f"{PSFS_MCID_POINTS:g} points"),
        ("pseq", "Your confidence in doing things despite pain", "out of 60", 1, pseq_improved,
         f"{PSEQ_MCID_POINTS} points"),
    ]
    for key, subject, scale, better, improved, mcid in measures:
        before, after = getattr(first, key), getattr(last, key)
        if before is None or after is None:
            continue
        change = after - before
        span = f"({score_text(before)} → {score_text(after)} {scale})"
        direction = "gone up" if change > 0 else "gone down"
        if score_value(change) == 0:  # too small to show is no change to a reader
            sentences.append(f"{subject} is the same as when you started {span}.")
        elif improved(before, after):
            sentences.append(f"{subject} has {direction} by {_points(abs(change))} since "
                             f"you started {span}: a meaningful improvement.")
        elif change * better > 0:
            sentences.append(f"{subject} has {direction} by {_points(abs(change))} since "
                             f"you started {span}. That is a small change; about {mcid} is "
                             "usually when people notice a real difference.")
        else:
            sentences.append(f"{subject} has {direction} by {_points(abs(change))} since "
                             f"you started {span}, which is worse. Tell your physiotherapist "
                             "if this worries you.")
    return sentences
