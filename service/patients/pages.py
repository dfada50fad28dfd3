"""Patient pages: today, exercise, education, progress, and questionnaires one question a screen.

Routes parse, call a service function and render a dataclass; the read side (and the
questionnaire drafts) is service/patients/views.py. Every page needs the patient role (a
clinician gets 403, nobody logged in goes to the login page) and shows only the patient's own
current episode."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pathways.education import EducationModule
from pathways.errors import FormValidationError, TaskNotReadyError
from service.care.schemas import EducationConfirm
from service.core.context import Context
from service.core.deps import PageCallDep, PageFormDep
from service.core.markdown import render_markdown
from service.core.pages import Viewer, redirect, render, viewer
from service.core.tables import Episode
from service.patients import (
    drafts as patient_forms,
)
from service.patients import (
    progress as patient_progress,
)
from service.patients import session_log
from service.patients import (
    views as patient_views,
)
from service.patients.questionnaire import SENT, answer_step, review_page, step_page, submit_answers
from service.patients.views import DayView, ExerciseView, ProgrammeView
from service.people import service as people

router = APIRouter(include_in_schema=False)

@dataclass(frozen=True)
class NoEpisodePage:
    status: str | None


@dataclass(frozen=True)
class MessagePage:
    title: str
    message: str


@dataclass(frozen=True)
class ExercisePage:
    programme: ProgrammeView | None
    stratum: str | None
    week: list[DayView]
    selected: str
    """An exercise to show as done when the form opens (its "Log" link)."""
    values: dict[str, str] = field(default_factory=dict)
    """The session form as sent (`done_<id>`, `sets_<id>`, `pain_<id>`, `difficulty_<id>`)."""
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    difficulties: list[tuple[str, str]] = field(
        default_factory=lambda: list(session_log.DIFFICULTIES))

    @staticmethod
    def set_choices(exercise: ExerciseView) -> list[int]:
        return session_log.set_choices(exercise)


@dataclass(frozen=True)
class CheckQuestionView:
    name: str
    number: int
    question: str
    options: list[tuple[int, str]]
    answer: int
    explanation: str
    chosen: int | None = None
    error: str = ""


@dataclass(frozen=True)
class EducationPage:
    module_id: str
    title: str
    reading_minutes: int
    summary: str
    html: str
    state: str
    """open (to read and confirm), again (open once more after a check not passed), read,
    later (its turn has not come)."""
    questions: list[CheckQuestionView]
    result: str = ""
    confirm_error: str = ""
    just_read: bool = False
    passed: bool = True
    """The latest check of understanding was passed (or there has been none): when it was
    not, the physiotherapist has been asked to talk the module through."""


def _patient(request: Request, ctx: Context) -> tuple[Viewer, Episode | None]:
    who = viewer(request, ctx)
    return who, patient_views.patient_episode(ctx)


def _no_episode(request: Request, ctx: Context, who: Viewer) -> Response:
    page = NoEpisodePage(patient_views.latest_episode_status(ctx))
    return render(request, "patient/no_episode.html", page, who)


def _message(request: Request, who: Viewer, status: int, title: str, text: str) -> Response:
    return render(request, "patient/message.html", MessagePage(title, text), who,
                  status_code=status)


# --------------------------------------------------------------------------- today, progress


@router.get("/today")
async def today(request: Request, call: PageCallDep, sent: str | None = None) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page = patient_views.today(ctx, SENT.get(sent or "", ""))
        return render(request, "patient/today.html", page, who)

    return await call(work)


@router.get("/progress")
async def progress(request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page = patient_progress.progress(ctx)
        if page.episode_id is None:
            return _no_episode(request, ctx, who)
        return render(request, "patient/progress.html", page, who)

    return await call(work)


# --------------------------------------------------------------------------- exercise


def _exercise_page(ctx: Context, episode: Episode, selected: str = "", message: str = "",
                   values: dict[str, str] | None = None,
                   errors: dict[str, str] | None = None) -> ExercisePage:
    programme = patient_views.programme_view(ctx, episode)
    week = patient_views.week_strip(ctx, episode, patient_views.programme_started(ctx, episode))
    ids = [e.id for e in programme.exercises] if programme else []
    return ExercisePage(programme, episode.stratum, week, selected if selected in ids else "",
                        values or {}, errors or {}, message)


@router.get("/exercise")
async def exercise(request: Request, call: PageCallDep, exercise: str = "",
                   logged: str = "") -> Response:
    def work(ctx: Context) -> Response:
        who, episode = _patient(request, ctx)
        if episode is None:
            return _no_episode(request, ctx, who)
        page = _exercise_page(ctx, episode, exercise)
        names = logged.split(",")
        done = [f"{e.title} (level {e.level})" for e in page.programme.exercises
                if e.id in names] if page.programme else []
        if done:
            page = replace(page, message=f"Well done: today's session is logged: "
                                         f"{', '.join(done)}.")
        return render(request, "patient/exercise.html", page, who)

    return await call(work)


@router.post("/exercise")
async def log_exercise(request: Request, call: PageCallDep, form: PageFormDep) -> Response:
    """Today's session: every exercise on one form, the done ones recorded together."""
    def work(ctx: Context) -> Response:
        who, episode = _patient(request, ctx)
        if episode is None:
            return _no_episode(request, ctx, who)
        programme = patient_views.programme_view(ctx, episode)
        sent = session_log.read_session_form(form, programme.exercises if programme else [])
        if sent.errors:
            page = _exercise_page(ctx, episode, values=sent.values, errors=sent.errors)
            return render(request, "patient/exercise.html", page, who, status_code=422)
        session_log.log_session(ctx, episode.id or 0, sent.logs)
        return redirect(f"/exercise?logged={','.join(log.exercise for log in sent.logs)}")

    return await call(work)


# --------------------------------------------------------------------------- education


def _education_page(module: EducationModule, state: str, result: dict[str, object],
                    chosen: list[int | None] | None = None,
                    errors: dict[str, str] | None = None, just_read: bool = False
                    ) -> EducationPage:
    body = module.body_markdown
    first, _, rest = body.partition("\n")
    if first.strip().lstrip("#").strip() == module.title and first.startswith("# "):
        body = rest  # the page's own heading already says it
    errors = errors or {}
    questions = [CheckQuestionView(
        f"q{n}", n, q.question, list(enumerate(q.options)), q.answer, q.explanation,
        chosen[n - 1] if chosen else None, errors.get(f"q{n}", ""))
        for n, q in enumerate(module.check_questions, 1)]
    summary = ""
    if state in ("read", "again") and result.get("total"):
        summary = f"You got {result.get('correct')} of {result.get('total')} right."
    return EducationPage(module.id, module.title, module.reading_minutes, module.summary,
                         render_markdown(body, heading_offset=1), state, questions, summary,
                         errors.get("confirmed_read", ""), just_read,
                         passed=result.get("correct") == result.get("total"))


@router.get("/education/{module}")
async def education(request: Request, module: str, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who, episode = _patient(request, ctx)
        if episode is None:
            return _no_episode(request, ctx, who)
        found, state, result = patient_views.education_state(ctx, episode, module)
        return render(request, "patient/education.html", _education_page(found, state, result), who)

    return await call(work)


@router.post("/education/{module}")
async def confirm_education(request: Request, module: str, call: PageCallDep,
                            form: PageFormDep) -> Response:
    def work(ctx: Context) -> Response:
        who, episode = _patient(request, ctx)
        if episode is None:
            return _no_episode(request, ctx, who)
        found, state, result = patient_views.education_state(ctx, episode, module)
        if state == "read":
            return redirect(f"/education/{module}")
        if state == "later":
            return _message(request, who, 409, "Not yet", "This module opens after the one you "
                            "are reading now. You can read it, and confirm it when it is on your "
                            "Today page.")
        chosen: list[int | None] = []
        errors: dict[str, str] = {}
        for n, question in enumerate(found.check_questions, 1):
            raw = form.get(f"q{n}", "")
            value = int(raw) if raw.isdigit() and int(raw) < len(question.options) else None
            chosen.append(value)
            if value is None:
                errors[f"q{n}"] = "Choose an answer."
        if form.get("confirmed_read") != "yes":
            errors["confirmed_read"] = "Tick the box to confirm you have read this module."
        if errors:
            page = _education_page(found, state, result, chosen, errors)
            return render(request, "patient/education.html", page, who, status_code=422)
        answers = [c for c in chosen if c is not None]
        people.confirm_education(ctx, episode.id or 0, module, EducationConfirm(answers=answers))
        correct = sum(1 for q, c in zip(found.check_questions, answers, strict=True)
                      if q.answer == c)
        # Not passed the first time: the pathway offers the module again ("again").
        _, state, _ = patient_views.education_state(ctx, episode, module)
        page = _education_page(found, state, {"correct": correct, "total": len(answers)},
                               chosen, just_read=True)
        return render(request, "patient/education.html", page, who)

    return await call(work)


# --------------------------------------------------------------------------- questionnaires


@router.get("/questionnaire/{task_id}")
async def questionnaire(request: Request, task_id: str, call: PageCallDep,
                        step: int | None = None, then: str = "") -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        try:
            opened = patient_forms.open_form_task(ctx, task_id)
        except TaskNotReadyError:
            return _already_sent(request, who)
        if opened.task.education_module:
            return redirect(f"/education/{opened.task.education_module}")
        page = step_page(ctx, opened, step, then=then)
        return render(request, "patient/questionnaire.html", page, who)

    return await call(work)


@router.post("/questionnaire/{task_id}")
async def answer_questionnaire(request: Request, task_id: str, call: PageCallDep,
                               form: PageFormDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        try:
            opened = patient_forms.open_form_task(ctx, task_id)
            if opened.task.education_module:
                return redirect(f"/education/{opened.task.education_module}")
            if form.get("action") == "submit":
                sent = submit_answers(ctx, opened)
                return redirect(f"/today?sent={sent}")
        except TaskNotReadyError:
            return _already_sent(request, who)
        except FormValidationError as err:
            page = review_page(ctx, opened, err.errors)
            return render(request, "patient/questionnaire.html", page, who, status_code=422)
        posted = getattr(request.state, "form_lists", {})
        outcome = answer_step(ctx, opened, form, posted)
        if isinstance(outcome, str):
            return redirect(outcome)
        return render(request, "patient/questionnaire.html", outcome, who, status_code=422)

    return await call(work)


def _already_sent(request: Request, who: Viewer) -> Response:
    return _message(request, who, 409, "Already sent",
                    "These answers have already been sent. Thank you. Your Today page shows "
                    "what is next.")
