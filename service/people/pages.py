"""Login and logout pages (cookie sessions), one's account (changing one's password), the
home redirect, and vendor assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.audit import views as access_logs
from service.audit.schemas import OwnAccessPublic
from service.core import credentials
from service.core.context import Context
from service.core.deps import (
    AnonymousCallDep,
    PageCallDep,
    PageFormDep,
    SlowPageCallDep,
    client_address,
)
from service.core.errors import (
    ForbiddenError,
    LoginRateLimitedError,
    NotAuthenticatedError,
    NotFoundError,
    WrongPasswordError,
)
from service.core.pages import (
    VENDOR_FILES,
    home_for,
    new_password_problems,
    redirect,
    render,
    viewer,
)
from service.nudges import service as nudges
from service.nudges.schemas import ReminderSettings, settings_from_form
from service.people import auth
from service.people import service as people

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class LoginPage:
    next: str
    username: str = ""
    error: str = ""
    notice: str = ""
    csrf_token: str = ""


@dataclass(frozen=True)
class AccountPage:
    errors: dict[str, str] = field(default_factory=dict)
    opened: tuple[OwnAccessPublic, ...] | None = None
    """For a patient: who has opened their record lately (None for staff)."""
    reminders: ReminderSettings | None = None
    """For a patient: their reminder settings (None for staff)."""
    reminder_errors: dict[str, str] = field(default_factory=dict)
    reminder_form: dict[str, str] = field(default_factory=dict)
    """What the patient sent, shown again beside the problems."""
    has_calendar: bool = False
    calendar_url: str = ""
    """A calendar link just made: shown once (only its hash is kept)."""
    notice: str = ""


def _account_page(ctx: Context, errors: dict[str, str] | None = None,
                  reminder_errors: dict[str, str] | None = None,
                  reminder_form: dict[str, str] | None = None, calendar_url: str = "",
                  notice: str = "") -> AccountPage:
    patient = ctx.user is not None and ctx.user.role == "patient"
    opened = tuple(access_logs.own_access_log(ctx, limit=20)) if patient else None
    return AccountPage(errors or {}, opened,
                       nudges.reminder_settings(ctx) if patient else None,
                       reminder_errors or {}, reminder_form or {},
                       nudges.has_calendar(ctx) if patient else False, calendar_url, notice)


SAVED = {"reminders": "Your reminder settings are saved."}


PASSWORD_CHANGED = ("Your password is changed, and you are logged out everywhere. Log in with "
                    "your new password.")


def _safe_next(value: str | None) -> str:
    """Only local paths: a login link must not send people elsewhere."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return ""


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None,
               changed: str = Query("", max_length=10)) -> Response:
    """The login form, with the pre-session cookie whose token it carries
    (credentials.login_form)."""
    settings = request.app.state.settings
    token, cookie = credentials.login_form(
        settings, request.cookies.get(credentials.LOGIN_COOKIE, ""))
    notice = PASSWORD_CHANGED if changed else ""
    page = LoginPage(next=_safe_next(next), notice=notice, csrf_token=token)
    response = render(request, "login.html", page, None)
    response.set_cookie(credentials.LOGIN_COOKIE, cookie,
                        max_age=credentials.LOGIN_FORM_MAX_AGE_SECONDS,
                        path="/login", httponly=True, samesite="lax",
                        secure=settings.secure_cookies)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, call: AnonymousCallDep,
                username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "",
                csrf_token: Annotated[str, Form()] = "") -> Response:
    """Log in with the form of login_page: without the token of this browser's login cookie
    the form is refused before any password is checked, as it may come from another site.
    Checking the password is slow work (see deps.Call); auth.authenticate limits it."""
    settings = request.app.state.settings
    form_cookie = credentials.read_login_cookie(
        settings, request.cookies.get(credentials.LOGIN_COOKIE, ""))
    if form_cookie is None or not credentials.csrf_matches(form_cookie, csrf_token):
        raise ForbiddenError(credentials.FORM_REFUSED)
    next_url = _safe_next(next)
    client = client_address(request)
    try:
        user = await call(lambda ctx: auth.authenticate(ctx.session, settings, username,
                                                        password, client, ctx.now))
    except (NotAuthenticatedError, LoginRateLimitedError) as err:
        status = 429 if isinstance(err, LoginRateLimitedError) else 401
        page = LoginPage(next=next_url, username=username, error=str(err).capitalize(),
                         csrf_token=csrf_token)
        return render(request, "login.html", page, None, status_code=status)
    response = redirect(next_url or home_for(user))
    response.set_cookie(credentials.SESSION_COOKIE, credentials.session_cookie(settings, user),
                        max_age=settings.session_max_age_seconds, httponly=True,
                        samesite="lax", secure=settings.secure_cookies)
    return response


@router.post("/logout")
async def logout(call: PageCallDep) -> Response:
    """Log out: the user's session cookies stop working on the server, on every device (and
    this browser's is deleted)."""

    def work(ctx: Context) -> None:
        if ctx.user is not None:
            credentials.end_cookie_sessions(ctx.session, ctx.user.id or 0)

    await call(work)
    response = redirect("/login")
    response.delete_cookie(credentials.SESSION_COOKIE)
    return response


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, call: PageCallDep,
                  saved: str = Query("", max_length=20)) -> Response:
    return await call(lambda ctx: render(request, "account.html",
                                         _account_page(ctx, notice=SAVED.get(saved, "")),
                                         viewer(request, ctx)))


@router.post("/account/reminders", response_class=HTMLResponse)
async def save_reminders(request: Request, call: PageCallDep, form: PageFormDep) -> Response:
    """A patient's reminder settings (as PUT /api/me/reminders)."""
    body, problems = settings_from_form(form)

    def work(ctx: Context) -> Response:
        if body is None:
            return render(request, "account.html",
                          _account_page(ctx, reminder_errors=problems, reminder_form=form),
                          viewer(request, ctx), status_code=422)
        nudges.update_reminder_settings(ctx, body)
        return redirect("/account?saved=reminders")

    return await call(work)


@router.post("/account/calendar", response_class=HTMLResponse)
async def renew_calendar(request: Request, call: PageCallDep, form: PageFormDep) -> Response:
    """A patient makes a new private calendar link; the old one stops working. The link is
    shown this once."""

    def work(ctx: Context) -> Response:
        token = nudges.renew_calendar_token(ctx)
        base = request.app.state.settings.base_url.rstrip("/")
        page = _account_page(ctx, calendar_url=f"{base}/calendar/{token}.ics")
        return render(request, "account.html", page, viewer(request, ctx))

    return await call(work)


@router.post("/account", response_class=HTMLResponse)
async def change_password(request: Request, call: SlowPageCallDep,
                          form: PageFormDep) -> Response:
    """Change one's password (people.change_own_password): every login one has then ends,
    so the browser goes to the login page."""
    current, new = form.get("current_password", ""), form.get("new_password", "")
    errors = new_password_problems(form)
    if not current:
        errors = {"current_password": "Enter your current password.", **errors}

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        if not errors:
            client = client_address(request)
            try:
                people.change_own_password(ctx, request.app.state.settings, client, current, new)
            except WrongPasswordError:
                errors["current_password"] = "That is not your current password."
        if errors:
            return render(request, "account.html", _account_page(ctx, errors), who,
                          status_code=422)
        response = redirect("/login?changed=1")
        response.delete_cookie(credentials.SESSION_COOKIE)
        return response

    return await call(work)


@router.get("/")
async def home(request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        if ctx.user is None:
            return redirect("/login")
        return redirect(home_for(ctx.user))

    return await call(work)


@router.get("/static/vendor/{name}")
def vendor(name: str, request: Request) -> Response:
    relative = VENDOR_FILES.get(name)
    path = request.app.state.settings.node_modules / relative if relative else None
    if path is None or not path.is_file():
        raise NotFoundError(f"no such asset {name}; run `npm ci` (scripts/setup.sh does)")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
