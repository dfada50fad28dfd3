"""Clinician pages: the worklist, a patient's episode, and task forms (task forms serve every
role the task belongs to, patients included).

Routes parse, call a function, render. Writes carry the page's CSRF token as a form field
(checked by `PageCallDep`); htmx sends the same forms, so every action also works without script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from pathways.errors import FormValidationError
from pathways.guidelines import WARNED_FIELDS
from service.care import page_views as cv
from service.care import service as episodes
from service.care import views
from service.care import worklist as wv
from service.care.schemas import TaskPublic
from service.care.task_patient import TaskPatient, task_patient
from service.core.context import Context
from service.core.deps import PageCallDep, PageFormDep, SlowPageCallDep
from service.core.errors import NotFoundError
from service.core.forms import FormField, fields_for, parse_form
from service.core.pages import Viewer, home_for, new_password_problems, redirect, render, viewer
from service.core.schemas import Id
from service.messages import views as messages
from service.people import service as people

router = APIRouter(include_in_schema=False)
"""Database ids are 32-bit on PostgreSQL: anything larger is a bad request, not a 500."""
"""The form NICE NG59 warnings are checked on (pathways.guidelines)."""


# -- worklist

@router.get("/worklist", response_class=HTMLResponse)
async def worklist(request: Request, call: PageCallDep, overdue: bool = False,
                   name: str = Query("", max_length=200), stratum: str = Query("", max_length=10),
                   mine: bool = False, role: str = Query("", max_length=20)) -> Response:
    def work(ctx: Context) -> Response:
        page = wv.worklist_page(ctx, wv.WorklistFilters(overdue, name, stratum, mine, role))
        return render(request, "clinician/worklist.html", page, viewer(request, ctx))

    return await call(work)


@router.get("/worklist/rows", response_class=HTMLResponse)
async def worklist_rows(request: Request, call: PageCallDep, overdue: bool = False,
                        name: str = Query("", max_length=200),
                        stratum: str = Query("", max_length=10), mine: bool = False,
                        role: str = Query("", max_length=20)) -> Response:
    """The sections alone, for htmx: filters change them, and they refresh every 30 s."""
    def work(ctx: Context) -> Response:
        page = wv.worklist_page(ctx, wv.WorklistFilters(overdue, name, stratum, mine, role))
        return render(request, "clinician/_worklist_sections.html", page, viewer(request, ctx))

    return await call(work)


@router.post("/tasks/{task_id}/claim", response_class=HTMLResponse)
async def claim(task_id: str, request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        episodes.claim_task(ctx, task_id)
        return _row_or_worklist(request, ctx, task_id)

    return await call(work)


@router.post("/tasks/{task_id}/release", response_class=HTMLResponse)
async def release(task_id: str, request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        episodes.release_task(ctx, task_id)
        return _row_or_worklist(request, ctx, task_id)

    return await call(work)


def _row_or_worklist(request: Request, ctx: Context, task_id: str) -> Response:
    """htmx swaps the updated row in; a plain form post goes back to the list."""
    who = viewer(request, ctx)
    if request.headers.get("hx-request") != "true":
        return redirect("/worklist")
    return render(request, "clinician/_worklist_row.html", wv.worklist_row(ctx, task_id), who)


# -- a patient's episode

@router.get("/patients/{episode_id}", response_class=HTMLResponse)
async def patient(episode_id: Id, request: Request, call: PageCallDep,
                  done: str = Query("", max_length=36),
                  password: str = Query("", max_length=10)) -> Response:
    def work(ctx: Context) -> Response:
        summary = cv.patient_summary(ctx, episode_id)
        saved = cv.completed_task_title(ctx, episode_id, done) if done else None
        return render(request, "clinician/patient.html", summary, viewer(request, ctx),
                      saved=saved, password_changed=password == "changed",
                      thread=messages.thread(ctx, episode_id))

    return await call(work)


@router.post("/patients/{episode_id}/password", response_class=HTMLResponse)
async def patient_password(episode_id: Id, request: Request, call: SlowPageCallDep,
                           form: PageFormDep) -> Response:
    """Give the patient's login a new password (people.reset_patient_password)."""
    errors = new_password_problems(form)

    def work(ctx: Context) -> Response:
        if errors:
            return render(request, "clinician/patient.html", cv.patient_summary(ctx, episode_id),
                          viewer(request, ctx), status_code=422, password_errors=errors,
                          thread=messages.thread(ctx, episode_id))
        people.reset_patient_password(ctx, episode_id, form["new_password"])
        return redirect(f"/patients/{episode_id}?password=changed#login")

    return await call(work)


@router.get("/patients/{episode_id}/diagram.bpmn")
async def patient_diagram(episode_id: Id, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        diagram = cv.episode_diagram(ctx, episode_id)
        # The model version's file, nothing of the patient's; the page that fetches it has
        # logged the visit already (one visit, one row in "who has opened my record").
        ctx.opened.clear()
        return Response(diagram, media_type="application/xml",
                        headers={"Cache-Control": "private, max-age=300"})

    return await call(work)


# -- task forms (every role)

@dataclass(frozen=True)
class TaskFormPage:
    task_id: str
    title: str
    form_title: str
    description: str
    patient_name: str
    episode_id: int
    due_text: str
    overdue: bool
    fields: tuple[FormField, ...]
    problems: tuple[str, ...] = ()
    """Messages that belong to no single field."""
    warnings: tuple[tuple[str, str], ...] = ()
    """NICE NG59 warnings: (the field that caused it, the sentence)."""
    checks_guidelines: bool = False
    """A record of treatment: NICE NG59 warnings are shown as answers change, each next to
    its field (`warned_fields`) and all of them above the button."""
    warned_fields: tuple[str, ...] = ()
    for_clinician: bool = False
    patient: TaskPatient | None = None
    """What the clinician should know about the patient before filling the form in."""


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_form(task_id: str, request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page = _task_page(ctx, who, task_id, with_patient=True)[0]
        return render(request, "clinician/task.html", page, who)

    return await call(work)


@router.post("/tasks/{task_id}", response_class=HTMLResponse)
async def submit_task(task_id: str, request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page, schema = _task_page(ctx, who, task_id, with_patient=True)
        answers, problems = parse_form(schema, request.state.form_lists)
        if not problems:
            try:
                result = episodes.complete_task(ctx, task_id, answers)
            except FormValidationError as err:
                problems = {e.field: e.message for e in err.errors}
            else:
                if who.is_clinician:
                    return redirect(f"/patients/{result.episode_id}?done={task_id}")
                return redirect(home_for(ctx.user) if ctx.user else "/")
        page = _with_answers(page, schema, request.state.form_lists, answers, problems)
        if page.checks_guidelines:
            page = replace(page, warnings=cv.treatment_notes(ctx, page.episode_id, answers))
        return render(request, "clinician/task.html", page, who, status_code=422)

    return await call(work)


@router.post("/tasks/{task_id}/warnings", response_class=HTMLResponse)
async def task_warnings(task_id: str, request: Request, call: PageCallDep) -> Response:
    """NICE NG59 warnings for the answers so far (htmx, on every change): never blocking."""
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page, schema = _task_page(ctx, who, task_id)
        answers, _ = parse_form(schema, request.state.form_lists)
        warnings = cv.treatment_notes(ctx, page.episode_id, answers) \
            if page.checks_guidelines else ()
        # Asked on every change of the task page's form, whose opening and saving are logged:
        # part of that visit, not another one.
        ctx.opened.clear()
        return render(request, "clinician/_warnings.html", replace(page, warnings=warnings), who,
                      oob=True)

    return await call(work)


def _task_page(ctx: Context, who: Viewer, task_id: str,
               with_patient: bool = False) -> tuple[TaskFormPage, dict[str, Any]]:
    """The form page of an open task (`with_patient`: and, for a clinician, what to know
    about the patient), and the task's form schema."""
    task, schema = _task(ctx, task_id)
    schema = schema or {}
    properties = schema.get("properties", {})
    checks = "treatments" in properties  # a record of treatment
    return TaskFormPage(
        task_id=task.task_id, title=task.title, form_title=str(schema.get("title") or ""),
        description=str(schema.get("description") or ""), patient_name=task.patient_name,
        episode_id=task.episode_id, due_text=wv.when(task.due_at), overdue=task.overdue,
        fields=tuple(fields_for(schema)),
        checks_guidelines=checks,
        warned_fields=tuple(f for f in WARNED_FIELDS if f in properties) if checks else (),
        for_clinician=who.is_clinician,
        patient=task_patient(ctx, task) if with_patient and who.is_clinician else None), schema


def _task(ctx: Context, task_id: str) -> tuple[TaskPublic, dict[str, Any] | None]:
    """The open task and its form schema. A task done already answers 409 "Already done"
    (to those who may see its episode): completing it again raises exactly that."""
    try:
        return views.task_detail(ctx, task_id)
    except NotFoundError:
        episodes.complete_task(ctx, task_id, {})  # raises TaskNotReadyError or NotFoundError
        raise


def _with_answers(page: TaskFormPage, schema: Mapping[str, Any],
                  posted: Mapping[str, Sequence[str]], answers: Mapping[str, Any],
                  problems: Mapping[str, str]) -> TaskFormPage:
    """The page again with what was entered (as typed, where it was not a number), each
    message next to its field."""
    fields = fields_for(schema, answers)
    for item in fields:
        typed = [v for v in posted.get(item.name, []) if v]
        if item.value is None and typed and item.kind in ("integer", "number", "text"):
            item.value = typed[-1]
    names = [f.name for f in fields]
    by_field: dict[str, str] = {}
    loose: list[str] = []
    for path, message in problems.items():
        owner = _owner(path, names)
        if owner is None:
            loose.append(f"{path}: {message}")
        else:
            by_field.setdefault(owner, message)
    for item in fields:
        item.error = by_field.get(item.name)
    return replace(page, fields=tuple(fields), problems=tuple(loose))


def _owner(path: str, names: Sequence[str]) -> str | None:
    """The field a message belongs to: `treatments.2` is about `treatments`."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in names:
            return candidate
    return None
