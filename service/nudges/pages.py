"""Nudges' pages: the one-click opt-out from a reminder email, and the private calendar
feed (the account page's reminder and calendar forms are people's: service/people/pages.py).

The opt-out link works without logging in (its secret is in the link: an HMAC of the patient
id, service.unsubscribe_token). Opening it (GET) only shows a page with a button; the POST
turns email off. Mail scanners and link previews open links, so a GET that unsubscribed
would turn people's reminders off behind their backs; mail programs that offer their own
"Unsubscribe" button POST to the same link (the List-Unsubscribe-Post header, RFC 8058)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from service.core.context import Context
from service.core.deps import AnonymousCallDep
from service.core.pages import render
from service.core.schemas import Id
from service.nudges import calendar
from service.nudges import service as nudges

router = APIRouter(include_in_schema=False)
Secret = Annotated[str, Path(min_length=16, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@dataclass(frozen=True)
class UnsubscribePage:
    action: str
    done: bool = False


@router.get("/reminders/unsubscribe/{patient_id}/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, patient_id: Id, token: Secret) -> Response:
    """The opt-out link's page: a button that turns reminder emails off."""
    settings = request.app.state.settings
    nudges.check_unsubscribe(settings, patient_id, token)
    page = UnsubscribePage(f"/reminders/unsubscribe/{patient_id}/{token}")
    return render(request, "nudges/unsubscribe.html", page, None)


@router.post("/reminders/unsubscribe/{patient_id}/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, patient_id: Id, token: Secret,
                      call: AnonymousCallDep) -> Response:
    """Turn the patient's reminder emails off (the page's button, or a mail program's
    one-click unsubscribe)."""
    settings = request.app.state.settings
    await call(lambda ctx: nudges.turn_email_off(ctx, settings, patient_id, token))
    page = UnsubscribePage(f"/reminders/unsubscribe/{patient_id}/{token}", done=True)
    return render(request, "nudges/unsubscribe.html", page, None)


@router.get("/calendar/{token}.ics")
async def calendar_feed(request: Request, token: Secret, call: AnonymousCallDep) -> Response:
    """The patient's calendar (text/calendar), for calendar programs: no login, the secret
    in the link is the key."""
    settings = request.app.state.settings

    def work(ctx: Context) -> bytes:
        return calendar.feed(ctx, settings, nudges.calendar_patient(ctx.session, token))

    return Response(await call(work), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})
