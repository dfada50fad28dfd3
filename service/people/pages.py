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


def _account_page(ctx: Context, errors: dict[str, str] | None = None) -> AccountPage:
    opened = (tuple(access_logs.own_access_log(ctx, limit=20))
              if ctx.user is not None and ctx.user.role == "patient" else None)
    return AccountPage(errors or {}, opened)


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
async def account(request: Request, call: PageCallDep) -> Response:
    return await call(lambda ctx: render(request, "account.html", _account_page(ctx),
                                         viewer(request, ctx)))


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
