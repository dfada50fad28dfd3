"""Messages' pages: the patient's `/messages`, and the forms of the messages section of the
clinician's patient page (sending, "call back"). The section itself is drawn by the
clinician's patient page (service/care/pages.py) from `views.thread`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from service.core import access
from service.core.context import Context
from service.core.deps import PageCallDep, PageFormDep
from service.core.pages import redirect, render, viewer
from service.core.schemas import Id
from service.messages import service, views
from service.messages.schemas import text_problem
from service.patients.views import patient_episode

router = APIRouter(include_in_schema=False)


@router.get("/messages", response_class=HTMLResponse)
async def patient_messages(request: Request, call: PageCallDep, sent: bool = False) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        episode = patient_episode(ctx)
        page = views.thread(ctx, episode.id or 0) if episode is not None else None
        return render(request, "messages/patient_messages.html", page, who, sent=sent)

    return await call(work)


@router.post("/messages", response_class=HTMLResponse)
async def patient_send(request: Request, call: PageCallDep, form: PageFormDep) -> Response:
    text = form.get("text", "")
    problem = text_problem(text)

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        episode = patient_episode(ctx)
        if episode is None or problem is not None:
            page = views.thread(ctx, episode.id or 0) if episode is not None else None
            return render(request, "messages/patient_messages.html", page, who,
                          status_code=422, errors={"text": problem} if problem else {},
                          text=text)
        service.send_message(ctx, episode.id or 0, text)
        return redirect("/messages?sent=true#text")

    return await call(work)


@router.post("/patients/{episode_id}/messages", response_class=HTMLResponse)
async def clinician_send(episode_id: Id, request: Request, call: PageCallDep,
                         form: PageFormDep) -> Response:
    text = form.get("text", "")
    problem = text_problem(text)

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        access.require_role(ctx.user, *access.CLINICIANS)  # a patient writes on /messages
        if problem is not None:
            return render(request, "messages/clinician_messages.html",
                          views.thread(ctx, episode_id), who, status_code=422,
                          errors={"text": problem}, text=text)
        service.send_message(ctx, episode_id, text)
        return redirect(f"/patients/{episode_id}#messages")

    return await call(work)


@router.post("/messages/{message_id}/call-back", response_class=HTMLResponse)
async def call_back(message_id: Id, request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        task = service.call_back(ctx, message_id)
        return redirect(f"/patients/{task.episode_id}#messages")

    return await call(work)
