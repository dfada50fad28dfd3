"""Read side of the patient's pages and their JSON twins: today's next actions, the exercise
programme and its week, education modules (progress over time: patient_progress.py; the
questionnaire pages' tasks and drafts: patient_forms.py).

A patient sees one episode: their latest active one or, after discharge, the latest that still
asks something of them (the registry questionnaires months later). Every value here is a
small dataclass, never an ORM object."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from pathways.education import EducationModule, default_catalogue
from pathways.exercises import (
    DEFAULT_STEP_PERCENT,
    ExerciseError,
    Illustration,
    default_library,
    describe_programme,
)
from pathways.models import PathwayModel
from service.care import forms as episode_forms
from service.care import service as episodes
from service.care import views
from service.care.schemas import TaskPublic
from service.core import access, clinic_time
from service.core.context import Context
from service.core.errors import NotFoundError
from service.core.tables import Episode, Event, ExerciseLog, ReadyTask, TaskDraft
from service.messages import views as messages
from service.patients.self_management import SelfManagementPlan, latest_plan

PROGRAMME_EVENTS = ("exercise_started", "exercise_level_changed", "exercise_week_completed",
                    "exercise_alert_reviewed", "exercise_completed")
FINISHED = ("discharged", "completed")
"""An episode that ended its care plan: its self-management plan and final scores stay
readable on the patient's pages."""
KIND_ORDER = {"emergency": -1, "safety": 0, "questionnaire": 1, "check_in": 2, "exercise": 3,
              "education": 4}
"""Today's order: an open emergency above everything; the safety questions before anything
else (NICE HTE16, domain.md), then what has a due date and feeds clinical decisions, then the
daily routine, then reading."""
EMERGENCY_SHOWN_EVERY = timedelta(minutes=10)
"""`emergency_instruction_shown` is recorded when the instruction is shown, at most this often
per episode (a patient reloading the page would otherwise flood the log)."""
ILLUSTRATION_URL = "/exercise-illustrations/{}"
"""Where an exercise's picture is served (service/patients/illustrations.py)."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ExerciseView:
    id: str
    title: str
    category: str
    level: int
    max_level: int
    level_name: str
    dose: str
    instructions: str
    what_to_feel: str
    stop_if: str
    video_url: str
    sessions_this_week: int = 0
    sets: int | None = None
    """Sets the dose asks for (None for an exercise done for minutes)."""
    illustration_url: str = ""
    """Where the page finds the exercise's picture ("" for none)."""
    illustration_alt: str = ""


@dataclass(frozen=True)
class ProgrammeView:
    exercises: list[ExerciseView]
    week: int
    """The programme week now running, from 1."""
    weeks: int | None
    sessions_this_week: int
    """Sessions logged since the programme week began (a day's form sent once is one)."""
    week_began: str
    """Since when they are counted, in words: "this week", or "since your check-in today"
    when a check-in started the week (the 7-day strip may still show sessions before it)."""
    sessions_to_progress: int | None
    next_week: list[str]
    """The progression rules in plain words."""
    finished: bool
    done_today: bool


@dataclass(frozen=True)
class DayView:
    day: date
    weekday: str
    day_number: int
    sessions: int
    state: str
    """done, missed, today (nothing yet), none (no programme that day)."""
    symbol: str
    description: str


@dataclass(frozen=True)
class NextAction:
    kind: str
    """emergency, safety, questionnaire, check_in, exercise, education."""
    title: str
    detail: str
    href: str
    task_id: str | None = None
    due_at: datetime | None = None
    due_text: str = ""
    overdue: bool = False
    started: bool = False
    """The patient has saved answers to it already."""
    exercises: list[ExerciseView] = field(default_factory=list)


@dataclass(frozen=True)
class TodayPage:
    episode_id: int | None
    episode_status: str | None
    actions: list[NextAction]
    programme: ProgrammeView | None
    week: list[DayView]
    notices: list[str]
    """Safety messages that matter more than any task."""
    message: str = ""
    self_management_plan: SelfManagementPlan | None = None
    """Once the care plan is finished: the plan written at discharge, if any."""
    unread_messages: int = 0
    """Messages from the clinic the patient has not read yet (on /messages)."""


# --------------------------------------------------------------------------- the episode


def patient_episode(ctx: Context) -> Episode | None:
    """The one episode a patient's pages show (None: a friendly page instead)."""
    user = access.require_role(ctx.user, "patient")
    if user.patient_id is None:
        return None
    mine = select(Episode).where(Episode.patient_id == user.patient_id)
    active = ctx.session.exec(mine.where(Episode.status == "active")
                              .order_by(col(Episode.id).desc())).first()
    if active is not None:
        return active
    return ctx.session.exec(mine.where(col(Episode.id).in_(
        select(ReadyTask.episode_id).where(ReadyTask.patient_id == user.patient_id,
                                           ReadyTask.role == "patient")))
        .order_by(col(Episode.id).desc())).first()


def latest_episode(ctx: Context) -> Episode | None:
    user = access.require_role(ctx.user, "patient")
    return ctx.session.exec(select(Episode).where(Episode.patient_id == user.patient_id)
                            .order_by(col(Episode.id).desc())).first()


def latest_episode_status(ctx: Context) -> str | None:
    """How the patient's last episode ended, for the page shown when none is open."""
    episode = latest_episode(ctx)
    return episode.status if episode else None


def finished_episode(ctx: Context) -> Episode | None:
    """The patient's last episode when it finished its care plan (discharged), for reading
    its plan and scores after the pathway has nothing more to ask."""
    episode = latest_episode(ctx)
    return episode if episode is not None and episode.status in FINISHED else None


def written_plan(ctx: Context, episode: Episode | None) -> SelfManagementPlan | None:
    """The self-management plan of a finished episode, once written."""
    if episode is None or episode.status not in FINISHED:
        return None
    plan = latest_plan(ctx.session, episode.id or 0)
    return plan if plan.text is not None else None


def _model(ctx: Context, episode: Episode) -> PathwayModel:
    """The model version the episode runs on (its settings and forms)."""
    return ctx.engines.engine_by_id(ctx.session, episode.model_version_id).model


def model_settings(ctx: Context, episode: Episode) -> Mapping[str, Any]:
    return _model(ctx, episode).settings


def form_schema(ctx: Context, episode: Episode, form: str | None) -> dict[str, Any] | None:
    return _model(ctx, episode).forms.get(form) if form else None


# --------------------------------------------------------------------------- today


def today(ctx: Context, message: str = "") -> TodayPage:
    episode = patient_episode(ctx)
    if episode is None:
        finished = finished_episode(ctx)
        return TodayPage(None, latest_episode_status(ctx), [], None, [], [], message,
                         written_plan(ctx, finished))
    programme = programme_view(ctx, episode)
    tasks, _, _ = views.worklist(ctx, episode_id=episode.id, limit=100)
    drafts = set(ctx.session.exec(select(TaskDraft.task_id).where(
        TaskDraft.user_id == ctx.actor_id)).all())
    read = latest_readings(ctx, episode.id or 0) if any(t.education_module for t in tasks) \
        else {}
    actions = [_task_action(ctx, episode, task, task.task_id in drafts, read) for task in tasks]
    emergency = emergency_action(ctx, episode)
    if emergency is not None:
        actions.append(emergency)
    if programme is not None and not programme.finished:
        actions.append(_exercise_action(programme))
    actions.sort(key=lambda a: (KIND_ORDER.get(a.kind, 9),
                                a.due_at or datetime.max.replace(tzinfo=UTC)))
    return TodayPage(episode.id, episode.status, actions, programme,
                     week_strip(ctx, episode, programme_started(ctx, episode)),
                     safety_notices(ctx, episode), message, written_plan(ctx, episode),
                     messages.patient_unread(ctx, episode.id or 0))


def _task_action(ctx: Context, episode: Episode, task: TaskPublic, started: bool,
                 read: Mapping[str, Event]) -> NextAction:
    kind, title, detail, href = _describe_task(ctx, episode, task, read)
    return NextAction(kind, title, detail, href, task.task_id, task.due_at,
                      due_text(task.due_at, ctx.now), task.overdue, started)


def _describe_task(ctx: Context, episode: Episode, task: TaskPublic,
                   read: Mapping[str, Event]) -> tuple[str, str, str, str]:
    """(kind, title, detail, link) of a patient task. `read`: the latest reading of each
    module read so far (a module open again had its check not passed)."""
    if task.education_module:
        module = _module(task.education_module)
        href = f"/education/{task.education_module}"
        if module is None:
            return "education", task.title, "", href
        if task.education_module in read:
            return ("education", f"Read again: {module.title}",
                    "Some answers to its check were not right, so you can read it again. "
                    "Your physiotherapist has been told, so they can talk it through with you.",
                    href)
        return ("education", f"Read: {module.title}",
                f"About {module.reading_minutes} minutes, then a short check", href)
    if not task.form:
        return "questionnaire", task.title, "", f"/tasks/{task.task_id}"
    given = episode_forms.form_for_episode(ctx.session, episode.id or 0,
                                             form_schema(ctx, episode, task.form))
    count = _count_questions(given or {})
    href = f"/questionnaire/{task.task_id}"
    if task.form == "red_flag_screen":
        return ("safety", task.title, f"{count} quick questions so we know it is safe to "
                "start. Please answer these first.", href)
    if task.form == "weekly_check_in":
        return "check_in", task.title, f"{count} questions about your week of exercise", href
    return ("questionnaire", task.title, f"{count} questions about your back and daily life",
            href)


def _count_questions(schema: Mapping[str, Any]) -> int:
    """Answerable fields (nested objects are groups of questions, not questions)."""
    return sum(_count_questions(prop) if prop.get("type") == "object" else 1
               for prop in schema.get("properties", {}).values())


def _exercise_action(programme: ProgrammeView) -> NextAction:
    done = "Done today ✓. " if programme.done_today else ""
    count, target = programme.sessions_this_week, programme.sessions_to_progress
    week = f"{count} session{'' if count == 1 else 's'} logged {programme.week_began}"
    aim = f" (aim: at least {target})" if target else ""
    return NextAction("exercise", "Today's exercises", f"{done}{week}{aim}.", "/exercise",
                      exercises=programme.exercises)


def due_text(due_at: datetime | None, now: datetime) -> str:
    if due_at is None:
        return ""
    if due_at < now:
        return f"Overdue since {_day(clinic_time.local_date(due_at))}"
    days = (clinic_time.local_date(due_at) - clinic_time.local_date(now)).days
    if days == 0:
        return "Due today"
    if days == 1:
        return "Due tomorrow"
    return f"Due by {_day(clinic_time.local_date(due_at))}"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def emergency_action(ctx: Context, episode: Episode) -> NextAction | None:
    """While an emergency is open (a task with the alert "emergency": red_flag_check.bpmn),
    the patient is told, before anything else, to get emergency care today: a clinician task
    alone can sit unseen out of hours (domain.md 2.3). Showing it is recorded as an event."""
    task = ctx.session.exec(select(ReadyTask).where(
        ReadyTask.episode_id == episode.id, ReadyTask.alert == "emergency")).first()
    if task is None:
        return None
    settings = model_settings(ctx, episode)
    emergency = str(settings.get("emergency_phone") or "112")
    advice = settings.get("out_of_hours_phone")
    detail = (
        "Your answers can be a sign of pressure on the nerves at the bottom of your spine. "
        "This is rare, but it needs to be checked by a doctor today. Go to an emergency "
        "department now; do not wait for your physiotherapist to contact you. "
        f"If you cannot get there, call {emergency}."
        + (f" For advice at any time of day or night, call {advice}." if advice else "")
        + " Tell them you have back pain with new problems of the bladder, bowel or the feeling "
        "around your genitals or bottom, or in your legs.")
    _note_emergency_shown(ctx, episode, task.task_id)
    return NextAction("emergency", "Get emergency care today", detail, f"tel:{emergency}",
                      task.task_id)


def _note_emergency_shown(ctx: Context, episode: Episode, task_id: str) -> None:
    last = ctx.session.exec(select(Event.at).where(
        Event.episode_id == episode.id, Event.name == "emergency_instruction_shown")
        .order_by(col(Event.id).desc())).first()
    if last is not None and ctx.now - last < EMERGENCY_SHOWN_EVERY:
        return
    episodes.record_event(ctx, episode, "emergency_instruction_shown", {"task_id": task_id})


def safety_notices(ctx: Context, episode: Episode) -> list[str]:
    """While a clinician reviews a red flag, the patient is told when to expect them and what
    to do if things change (an emergency has its own, stronger instruction)."""
    flagged = ctx.session.exec(select(ReadyTask.task_id).where(
        ReadyTask.episode_id == episode.id, ReadyTask.alert == "red_flag")).first()
    if flagged is None:
        return []
    return ["A clinician is looking at your answers to the safety questions and will contact "
            "you. If anything gets worse or new problems start before then (a change in "
            "bladder or bowel control, numbness around your genitals or bottom, weakness in "
            "your legs that is getting worse), go to an emergency department or call your "
            "emergency number now."]


# --------------------------------------------------------------------------- exercise


def programme_view(ctx: Context, episode: Episode) -> ProgrammeView | None:
    """The latest programme (exercise_started / exercise_level_changed events), its week and
    what decides next week's levels."""
    events = ctx.session.exec(select(Event).where(
        Event.episode_id == episode.id, col(Event.name).in_(PROGRAMME_EVENTS))
        .order_by(col(Event.id))).all()
    programme: list[dict[str, object]] | None = None
    weeks_done, finished = 0, False
    for event in events:
        data = event.data or {}
        if event.name in ("exercise_started", "exercise_level_changed", "exercise_completed"):
            programme = data.get("exercise_programme") or programme
        if event.name == "exercise_week_completed":
            weeks_done = int(data.get("programme_week") or weeks_done)
        finished = finished or event.name == "exercise_completed"
    week_started, sessions = episode_forms.week_sessions(ctx.session, episode.id or 0)
    if not programme or week_started is None:
        return None
    logs = ctx.session.exec(select(ExerciseLog.exercise, ExerciseLog.logged_at).where(
        ExerciseLog.episode_id == episode.id, col(ExerciseLog.logged_at) >= week_started)).all()
    per_exercise = Counter(name for name, _ in logs)
    settings = model_settings(ctx, episode)
    step = settings.get("progression_step_percent")
    exercises = [_exercise_view(item, per_exercise) for item in describe_programme(
        programme, step_percent=step if isinstance(step, int) else DEFAULT_STEP_PERCENT)]
    to_progress = sessions_to_progress(settings)
    weeks = settings.get("programme_weeks")
    at_top = all(e.level == e.max_level for e in exercises)
    return ProgrammeView(
        exercises=exercises, week=weeks_done + (0 if finished else 1),
        weeks=weeks if isinstance(weeks, int) else None, sessions_this_week=len(sessions),
        week_began=_week_began(ctx, weeks_done, week_started),
        sessions_to_progress=to_progress,
        next_week=progression_rules(settings, finished, at_top),
        finished=finished, done_today=any(
            clinic_time.local_date(at) == clinic_time.local_date(ctx.now) for _, at in logs))


def _week_began(ctx: Context, weeks_done: int, started: datetime) -> str:
    if weeks_done == 0:
        return "this week"
    day = clinic_time.local_date(started)
    if day == clinic_time.local_date(ctx.now):
        return "since your check-in today"
    return f"since your check-in on {_day(day)}"


def _exercise_view(item: Mapping[str, object], logged: Counter[str]) -> ExerciseView:
    text = {k: str(item[k]) for k in ("id", "title", "category", "level_name", "dose",
                                      "instructions", "what_to_feel", "stop_if", "video_url")}
    picture = ILLUSTRATION_URL.format(text["id"]) if item.get("illustration") else ""
    sets = item.get("sets")
    return ExerciseView(**text, level=int(str(item["level"])),
                        sets=sets if isinstance(sets, int) else None,
                        max_level=int(str(item["max_level"])),
                        sessions_this_week=logged[text["id"]], illustration_url=picture,
                        illustration_alt=str(item.get("illustration_alt") or ""))


def exercise_illustration(ctx: Context, exercise_id: str) -> Illustration:
    """An exercise's picture (any exercise: they are the same for everyone), for the patients
    and clinicians whose pages show them."""
    access.require_role(ctx.user, "patient", *sorted(access.CLINICIANS))
    try:
        picture = default_library().get(exercise_id).illustration
    except ExerciseError:
        picture = None
    if picture is None or not picture.path.is_file():
        raise NotFoundError("there is no picture for that exercise")
    return picture


def programme_started(ctx: Context, episode: Episode) -> date | None:
    at = ctx.session.exec(select(Event.at).where(Event.episode_id == episode.id,
                                                 Event.name == "exercise_started")).first()
    return clinic_time.local_date(at) if at else None


def sessions_to_progress(settings: Mapping[str, Any]) -> int | None:
    """Fewest sessions in a week that reach `progress_min_adherence` of `sessions_per_week`
    (exercise_progression.dmn: adherence = sessions / sessions_per_week)."""
    per_week, share = settings.get("sessions_per_week"), settings.get("progress_min_adherence")
    if not isinstance(per_week, int) or not isinstance(share, int | float):
        return None
    return max(1, math.ceil(per_week * share - 1e-9))


def progression_rules(settings: Mapping[str, Any], finished: bool, at_top: bool) -> list[str]:
    """exercise_progression.dmn in plain words, with the clinic's numbers. If a clinic edits
    the table's rules (not just the numbers), these sentences must change with it."""
    if finished:
        return ["Your programme has finished. Keep doing the exercises that help you."]
    sessions, pain = sessions_to_progress(settings), settings.get("exercise_pain_acceptable")
    step = settings.get("progression_step_percent")
    if sessions is None or not isinstance(pain, int | float) or not isinstance(step, int):
        return ["At each weekly check-in your plan decides next week's exercises, one at a "
                "time, from how many sessions you did, how hard they felt and your pain."]
    up = ("you are at the top of your plan, so they stay there" if at_top
          else f"each exercise that went well moves up a small step (about {step} % more)")
    return [
        f"Some pain while exercising is normal and safe: up to {pain:g} out of 10, if it has "
        "settled by the next morning.",
        f"If you do at least {sessions} sessions this week and the pain stays within that, "
        f"{up}.",
        f"An exercise that hurts more than {pain:g}, or whose pain has not settled by the "
        "morning, stays where it is and your physiotherapist is told. One that feels too hard "
        "stays where it is. If the same happens two weeks running, it moves down a step.",
    ]


def week_strip(ctx: Context, episode: Episode, started: date | None) -> list[DayView]:
    """The last 7 days (the clinic's days), each with the sessions logged (a day's form sent
    once is one session), in words and symbols."""
    today_ = clinic_time.local_date(ctx.now)
    first = today_ - timedelta(days=6)
    since = clinic_time.start_of_day(first)
    logged = Counter(clinic_time.local_date(at) for at in set(ctx.session.exec(
        select(ExerciseLog.logged_at).where(
        ExerciseLog.episode_id == episode.id, col(ExerciseLog.logged_at) >= since)).all()))
    days = []
    for offset in range(7):
        day = first + timedelta(days=offset)
        count = logged[day]
        name = f"{day:%A} {day.day} {day:%B}"
        plural = "session" if count == 1 else "sessions"
        if count:
            state, symbol, text = "done", f"✓ {count}", f"{count} {plural} done"
        elif day == today_:
            state, symbol, text = "today", "…", "today, nothing logged yet"
        elif started is None or day < started:
            state, symbol, text = "none", "–", "no exercise programme yet"
        else:
            state, symbol, text = "missed", "✗", "missed, no sessions"
        days.append(DayView(day, f"{day:%a}", day.day, count, state, symbol, f"{name}: {text}"))
    return days


# --------------------------------------------------------------------------- education


def _module(module_id: str) -> EducationModule | None:
    catalogue = default_catalogue()
    return catalogue.get(module_id) if module_id in catalogue else None


def latest_readings(ctx: Context, episode_id: int) -> dict[str, Event]:
    """Each module read in the episode -> its latest reading (education_completed)."""
    events = ctx.session.exec(select(Event).where(
        Event.episode_id == episode_id, Event.name == "education_completed")
        .order_by(col(Event.id))).all()
    return {str((event.data or {}).get("module_read")): event for event in events}


def education_state(ctx: Context, episode: Episode, module_id: str) -> tuple[
        EducationModule, str, dict[str, Any]]:
    """The module and where the patient is with it: open (its reading task is ready), again
    (ready once more after a check not passed, with that check's result), read (with the
    check result), or later (assigned, its turn has not come)."""
    record = views.episode_row(ctx, episode.id or 0)
    latest = latest_readings(ctx, record.id or 0).get(module_id)
    result = {**((latest.data or {}).get("education_check") or {}), "at": latest.at} \
        if latest is not None else {}
    open_task = ctx.session.exec(select(ReadyTask.task_id).where(
        ReadyTask.episode_id == record.id, ReadyTask.role == "patient",
        ReadyTask.education_module == module_id)).first()
    if open_task is not None:
        return _known_module(module_id), "again" if latest is not None else "open", result
    if latest is not None:
        return _known_module(module_id), "read", result
    assigned = ctx.session.exec(select(Event.data).where(
        Event.episode_id == record.id, Event.name == "education_assigned")
        .order_by(col(Event.id).desc())).first()
    if module_id in ((assigned or {}).get("education_modules") or []):
        return _known_module(module_id), "later", {}
    raise NotFoundError(f"the module {module_id!r} is not part of your plan")


def _known_module(module_id: str) -> EducationModule:
    module = _module(module_id)
    if module is None:
        raise NotFoundError(f"there is no education module {module_id!r}")
    return module
