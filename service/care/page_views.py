"""Read side of a patient's page for clinicians: the episode summary (header, timeline in
plain words (timeline.py), charts, adherence, education, pathway position) and its diagram.

Each returns a small frozen dataclass; the summary is also the JSON twin's response. The
worklist's read side is in worklist_views.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlmodel import col, select

from pathways.education import EducationError, default_catalogue
from pathways.engine import PathwayEngine
from pathways.exercises import default_library
from pathways.guidelines import field_warnings, treatment_warnings
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
from service.care import psfs as psfs_activities
from service.care import views
from service.care.timeline import WEEK_OUTCOMES, TimelineItem, timeline, words
from service.care.worklist import Badge, episode_alerts, patient_names, people_tasks, when
from service.core import access
from service.core.context import Context
from service.core.errors import NotFoundError
from service.core.score_text import score_value
from service.core.tables import (
    Episode,
    Event,
    ExerciseLog,
    Instance,
    QuestionnaireResponse,
    ReadyTask,
    TaskSubmission,
)
from service.nudges import service as nudges
from service.patients import self_management
from service.people import service as people

# -- patient summary

@dataclass(frozen=True)
class Score:
    label: str
    value: float | None
    at: datetime | None


@dataclass(frozen=True)
class Header:
    episode_id: int
    patient_name: str
    status: str
    stratum: str | None
    started_at: datetime
    programme_week: int | None
    """Exercise weeks completed; None when no exercise programme has started."""
    programme_weeks: int | None
    last_scores: tuple[Score, ...]
    login_username: str | None = None
    """The patient's login, if they have one (a clinician can give it a new password)."""


@dataclass(frozen=True)
class ChartPoint:
    label: str
    at: datetime
    value: float
    change: float | None
    """From baseline; None for the baseline itself."""
    verdict: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    minimum: float
    maximum: float
    better: str
    """lower or higher"""
    mcid: float
    baseline: float | None
    points: tuple[ChartPoint, ...]


@dataclass(frozen=True)
class Activity:
    """An activity the patient named at intake (PSFS), in their own words, rated 0-10 (higher
    is better) then and at the latest questionnaire."""

    item: str
    name: str
    baseline: float | None
    latest: float | None


@dataclass(frozen=True)
class LoggedExercise:
    """One exercise the patient logged, as the clinician reads it."""
    at: datetime
    title: str
    level: int
    sets: int | None
    pain: int
    difficulty: str


@dataclass(frozen=True)
class AdherenceWeek:
    week: int
    sessions_done: int
    sessions_planned: int
    percent: int
    pain: int | None
    difficulty: str | None
    progression: str | None


@dataclass(frozen=True)
class EducationItem:
    module: str
    title: str
    read_at: datetime | None
    correct: int | None
    total: int | None


@dataclass(frozen=True)
class OpenTask:
    task_id: str
    title: str
    role: str
    due_text: str
    overdue: bool
    workable: bool
    """The viewer's role works this task (so the page links to its form)."""


@dataclass(frozen=True)
class Position:
    """Where the episode is in its pathway, as BPMN element ids (for the diagram)."""

    done: tuple[str, ...]
    current: tuple[str, ...]
    current_names: tuple[str, ...]
    """The current elements' names, for people (and for anyone without the diagram)."""


@dataclass(frozen=True)
class ReminderSent:
    kind: str
    """exercise, questionnaire, education or message."""
    status: str
    """sent, failed (the mail server refused), queued or dropped (too late to send)."""
    at: datetime


@dataclass(frozen=True)
class PatientSummary:
    header: Header
    alerts: tuple[Badge, ...]
    guideline_warnings: tuple[str, ...]
    """NICE NG59 notes on the recorded first visit (never blocking)."""
    open_tasks: tuple[OpenTask, ...]
    timeline: tuple[TimelineItem, ...]
    charts: tuple[Chart, ...]
    activities: tuple[Activity, ...]
    adherence: tuple[AdherenceWeek, ...]
    logged: tuple[LoggedExercise, ...]
    """The patient's exercise logs of the last `log_days` days, newest first."""
    education: tuple[EducationItem, ...]
    position: Position
    self_management_plan: self_management.SelfManagementPlan
    """Written at discharge (its text is None until then)."""
    reminders: tuple[ReminderSent, ...] = ()
    """The reminder emails the patient was sent (kind and time, never their words)."""
    log_days: ClassVar[int] = 14

    def script_data(self) -> dict[str, Any]:
        """What the page's script draws: chart series and the diagram's highlights."""
        return {
            "charts": [{"key": c.key, "title": c.title, "min": c.minimum, "max": c.maximum,
                        "mcid": c.mcid, "baseline": c.baseline,
                        "labels": [p.label for p in c.points],
                        "values": [score_value(p.value) for p in c.points]}
                       for c in self.charts],
            "adherence": {"labels": [f"Week {w.week}" for w in self.adherence],
                          "done": [w.sessions_done for w in self.adherence],
                          "planned": [w.sessions_planned for w in self.adherence]},
            "done": list(self.position.done), "current": list(self.position.current),
        }


def clinician_episode(ctx: Context, episode_id: int) -> Episode:
    """An episode of the caller's clinic. Patients have their own pages: to them this one
    does not exist."""
    user = access.require_user(ctx.user)
    if user.role == "patient":
        raise NotFoundError(f"there is no episode {episode_id} you can see")
    access.require_role(user, *access.CLINICIANS)
    return views.episode_row(ctx, episode_id)


def patient_summary(ctx: Context, episode_id: int) -> PatientSummary:
    episode = clinician_episode(ctx, episode_id)
    engine = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
    model = engine.model
    settings = model.settings
    events = list(ctx.session.exec(select(Event).where(Event.episode_id == episode_id)
                                   .order_by(col(Event.id))).all())
    scores = views.questionnaires(ctx, episode_id)
    login = people.patient_login(ctx.session, episode.patient_id)
    weeks = _adherence(events, int(settings.get("sessions_per_week", 0)))
    last = scores[-1] if scores else None
    header = Header(
        episode_id=episode_id, patient_name=patient_names(ctx, {episode_id}).get(episode_id, ""),
        status=episode.status, stratum=episode.stratum, started_at=episode.started_at,
        programme_week=weeks[-1].week if weeks else (
            0 if any(e.name == "exercise_started" for e in events) else None),
        programme_weeks=settings.get("programme_weeks"),
        last_scores=tuple(Score(label, (last.scores or {}).get(key) if last else None,
                                last.submitted_at if last else None)
                          for key, label in (("pain", "Pain (0-10)"),
                                             ("disability", "Disability (0-100)"),
                                             ("psfs", "PSFS (0-10)"),
                                             ("pseq", "PSEQ (0-60)"))),
        login_username=login.username if login else None)
    return PatientSummary(
        header=header, alerts=episode_alerts(ctx, {episode_id})[episode_id],
        guideline_warnings=_guideline_warnings(events), open_tasks=_open_tasks(ctx, episode_id),
        timeline=timeline(ctx, events, set(people_tasks(model)), model.vocabulary),
        charts=_charts([(s.submitted_at, s.scores or {}) for s in scores]),
        activities=_activities(ctx, episode_id),
        adherence=tuple(weeks), logged=_logged(ctx, episode_id),
        education=_education(ctx, episode_id),
        position=_position(ctx, episode, engine),
        self_management_plan=self_management.latest_plan(ctx.session, episode_id),
        reminders=tuple(ReminderSent(r.kind, r.status, r.at)
                        for r in nudges.sent_reminders(ctx.session, episode.patient_id)))


def completed_task_title(ctx: Context, episode_id: int, task_id: str) -> str | None:
    """The title of a task completed in this episode (for "Saved" after a form)."""
    done = ctx.session.get(TaskSubmission, task_id)
    if done is None or done.episode_id != episode_id:
        return None
    event = ctx.session.exec(select(Event).where(
        Event.episode_id == episode_id, Event.name == "task_completed",
        Event.element == done.name).order_by(col(Event.id).desc())).first()
    return str((event.data or {}).get("title") or done.name) if event else done.name


TREATMENT_EVENTS = ("first_visit_recorded", "pi_session_delivered", "combined_session_delivered")
"""Events of records that say which treatments were given (NICE NG59 checks each)."""


def treatment_notes(ctx: Context, episode_id: int,
                    answers: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """NICE NG59 warnings for a record of treatment as it is being filled in, each with the
    field that caused it (imaging is fine after a red flag; manual or psychological therapy
    is fine while exercise runs)."""
    names = set(ctx.session.exec(select(Event.name).where(
        Event.episode_id == episode_id,
        col(Event.name).in_(("red_flag_raised", "exercise_started", "exercise_completed")))
    ).all())
    return tuple(field_warnings(
        answers, red_flag="red_flag_raised" in names,
        exercising="exercise_started" in names and "exercise_completed" not in names))


def _guideline_warnings(events: Iterable[Event]) -> tuple[str, ...]:
    """The warnings for every record of treatment, as it was recorded (each at most once)."""
    red_flag, exercising, found = False, False, []
    for event in events:
        red_flag = red_flag or event.name == "red_flag_raised"
        exercising = (exercising or event.name == "exercise_started") and \
            event.name != "exercise_completed"
        if event.name in TREATMENT_EVENTS:
            found += [w for w in treatment_warnings(event.data or {}, red_flag, exercising)
                      if w not in found]
    return tuple(found)


def _activities(ctx: Context, episode_id: int) -> tuple[Activity, ...]:
    """The PSFS activities named at intake, with their ratings then and at the latest
    questionnaire that rated them."""
    rows = ctx.session.exec(select(QuestionnaireResponse.kind, QuestionnaireResponse.answers)
                            .where(QuestionnaireResponse.episode_id == episode_id)
                            .order_by(col(QuestionnaireResponse.id))).all()
    baseline = next((answers for kind, answers in rows if kind == psfs_activities.BASELINE),
                    None)
    ratings = [((answers or {}).get("proms") or {}).get("psfs") or {} for _, answers in rows]
    items = []
    for item, name in sorted(psfs_activities.activity_names(baseline).items()):
        rated = [r[item] for r in ratings if isinstance(r.get(item), int | float)]
        items.append(Activity(item, name, rated[0] if rated else None,
                              rated[-1] if len(rated) > 1 else None))
    return tuple(items)


def _open_tasks(ctx: Context, episode_id: int) -> tuple[OpenTask, ...]:
    roles = access.TASK_ROLES_BY_USER_ROLE.get(ctx.user.role if ctx.user else "", set())
    tasks = ctx.session.exec(select(ReadyTask).where(ReadyTask.episode_id == episode_id)
                             .order_by(col(ReadyTask.due_at))).all()
    return tuple(OpenTask(t.task_id, t.title, t.role, when(t.due_at),
                          t.due_at is not None and t.due_at < ctx.now, t.role in roles)
                 for t in tasks)


def _position(ctx: Context, episode: Episode, engine: PathwayEngine) -> Position:
    row = ctx.session.exec(select(Instance).where(Instance.episode_id == episode.id)).first()
    if row is None:
        return Position((), (), ())
    progress = engine.restore(row.state).progress()
    names = engine.model.step_names()
    return Position(progress.done, progress.current,
                    tuple(str(names.get(i) or i) for i in progress.current))


DIFFICULTY_WORDS = {"too_easy": "too easy", "about_right": "about right", "too_hard": "too hard"}


def _logged(ctx: Context, episode_id: int) -> tuple[LoggedExercise, ...]:
    library = default_library()
    rows = ctx.session.exec(select(ExerciseLog).where(
        ExerciseLog.episode_id == episode_id,
        col(ExerciseLog.logged_at) >= ctx.now - timedelta(days=PatientSummary.log_days))
        .order_by(col(ExerciseLog.logged_at).desc(), col(ExerciseLog.id).desc())).all()
    return tuple(LoggedExercise(
        r.logged_at, library.get(r.exercise).title if r.exercise in library
        else words(r.exercise) or "", r.level, r.sets, r.pain_nrs,
        DIFFICULTY_WORDS.get(r.difficulty, words(r.difficulty) or "")) for r in rows)


def _adherence(events: Iterable[Event], planned: int) -> list[AdherenceWeek]:
    weeks: list[AdherenceWeek] = []
    for event in events:
        if event.name != "exercise_week_completed":
            continue
        data = event.data or {}
        done = int(data.get("sessions_done") or 0)
        weeks.append(AdherenceWeek(
            week=int(data.get("programme_week") or len(weeks) + 1), sessions_done=done,
            sessions_planned=planned, percent=round(100 * min(done, planned) / planned)
            if planned else 0, pain=data.get("week_pain_nrs"), difficulty=words(
                data.get("difficulty")), progression=WEEK_OUTCOMES.get(
                    str(data.get("progression")), words(data.get("progression")))))
    return weeks


def _education(ctx: Context, episode_id: int) -> tuple[EducationItem, ...]:
    reading = people.education(ctx, episode_id)
    catalogue = default_catalogue()
    read = {str(r.get("module")): r for r in reading.read}

    def title(module: str) -> str:
        try:
            return catalogue.get(module).title
        except EducationError:
            return words(module) or module

    items = []
    for module in [*reading.assigned, *[m for m in read if m not in reading.assigned]]:
        done = read.get(module)
        items.append(EducationItem(
            module, title(module),
            datetime.fromisoformat(str(done["at"])) if done else None,
            done.get("correct") if done else None, done.get("total") if done else None))
    return tuple(items)


def score_charts(ctx: Context, episode_id: int) -> tuple[Chart, ...]:
    """Each measure's baseline and later scores (the caller has opened the episode)."""
    return _charts([(s.submitted_at, s.scores or {})
                    for s in views.questionnaires(ctx, episode_id)])


MEASURES = (
    # key, title, range, which way is better, MCID points (pathways.instruments), check
    ("pain", "Pain (NRS 0-10)", 0, 10, "lower", PAIN_MCID_POINTS, pain_improved),
    ("disability", "Disability index (0-100)", 0, 100, "lower", DISABILITY_MCID_POINTS,
     disability_improved),
    ("psfs", "Activities the patient chose (PSFS 0-10)", 0, 10, "higher", PSFS_MCID_POINTS,
     psfs_improved),
    ("pseq", "Pain self-efficacy (PSEQ 0-60)", 0, 60, "higher", PSEQ_MCID_POINTS,
     pseq_improved),
)


def _charts(scores: list[tuple[datetime, Mapping[str, Any]]]) -> tuple[Chart, ...]:
    charts = []
    start = scores[0][0] if scores else None
    for key, title, low, high, better, mcid, improved in MEASURES:
        points: list[ChartPoint] = []
        baseline: float | None = None
        for at, values in scores:
            value = values.get(key)
            if not isinstance(value, int | float):
                continue
            label = "Baseline" if baseline is None else \
                f"Week {round((at - start).days / 7) if start else 0}"
            if baseline is None:
                baseline = float(value)
                points.append(ChartPoint(label, at, float(value), None, "baseline"))
                continue
            points.append(ChartPoint(label, at, float(value), float(value) - baseline,
                                     _verdict(baseline, float(value), mcid, better, improved)))
        charts.append(Chart(key, title, low, high, better, mcid, baseline, tuple(points)))
    return tuple(charts)


def _verdict(baseline: float, value: float, mcid: float, better: str,
             improved: Callable[[float, float], bool]) -> str:
    if improved(baseline, value):
        return "meaningfully better"
    worse = value - baseline if better == "lower" else baseline - value
    return "meaningfully worse" if worse >= mcid else "no meaningful change"


# -- diagram

def episode_diagram(ctx: Context, episode_id: int) -> bytes:
    """The BPMN file that holds the main process of the episode's model version, as deployed:
    the shipped models carry their own diagram (BPMN DI); the page's script lays out a model
    deployed without one. Read from the version's cached engine, so once per version."""
    episode = clinician_episode(ctx, episode_id)
    model = ctx.engines.engine_by_id(ctx.session, episode.model_version_id).model
    if model.spec is None or model.spec.file not in model.files:
        raise NotFoundError(f"the model has no process {model.process_id}")
    return model.files[model.spec.file]
