"""Login and logout pages (cookie sessions), one's account (changing one's password), the
home redirect, and vendor assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from .. import auth, people, views
from ..db import transaction
from ..deps import PageCallDep, PageFormDep, SlowPageCallDep
from ..episodes import Context
from ..errors import (
    LoginRateLimitedError,
    NotAuthenticatedError,
    NotFoundError,
    WrongPasswordError,
)
from ..schemas import OwnAccessPublic
from .common import VENDOR_FILES, home_for, new_password_problems, redirect, render, viewer

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class LoginPage:
    next: str
    username: str = ""
    error: str = ""
    notice: str = ""


@dataclass(frozen=True)
class AccountPage:
    errors: dict[str, str] = field(default_factory=dict)
    opened: tuple[OwnAccessPublic, ...] | None = None
    """For a patient: who has opened their record lately (None for staff)."""


def _account_page(ctx: Context, errors: dict[str, str] | None = None) -> AccountPage:
    opened = (tuple(views.own_access_log(ctx, limit=20))
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
    notice = PASSWORD_CHANGED if changed else ""
    return render(request, "login.html", LoginPage(next=_safe_next(next), notice=notice), None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    next_url = _safe_next(next)
    app = request.app
    client = request.client.host if request.client else "unknown"
    try:
        with transaction(app.state.db, write=True) as session, \
                transaction(app.state.db, write=False) as reader:  # see auth.authenticate
            user = auth.authenticate(session, app.state.settings, username, password, client,
                                     app.state.clock.now(), reader=reader)
            cookie = auth.session_cookie(app.state.settings, user)
            home = home_for(user)
    except (NotAuthenticatedError, LoginRateLimitedError) as err:
        if isinstance(err, NotAuthenticatedError):
            _record_failure(request, username, client)
        status = 429 if isinstance(err, LoginRateLimitedError) else 401
        page = LoginPage(next=next_url, username=username, error=str(err).capitalize())
        return render(request, "login.html", page, None, status_code=status)
    response = redirect(next_url or home)
    response.set_cookie(auth.SESSION_COOKIE, cookie,
                        max_age=app.state.settings.session_max_age_seconds, httponly=True,
                        samesite="lax", secure=app.state.settings.secure_cookies)
    return response


def _record_failure(request: Request, username: str, client: str) -> None:
    """The failed attempt was rolled back with the login transaction: keep it for the limit."""
    from ..tables import LoginAttempt

    app = request.app
    with transaction(app.state.db, write=True) as session:
        session.add(LoginAttempt(username=username[:100], client=client[:100],
                                 at=app.state.clock.now()))


@router.post("/logout")
async def logout(call: PageCallDep) -> Response:
    """Log out: the user's session cookies stop working on the server, on every device (and
    this browser's is deleted)."""

    def work(ctx: Context) -> None:
        if ctx.user is not None:
            auth.end_cookie_sessions(ctx.session, ctx.user.id or 0)

    await call(work)
    response = redirect("/login")
    response.delete_cookie(auth.SESSION_COOKIE)
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
            client = request.client.host if request.client else "unknown"
            try:
                people.change_own_password(ctx, request.app.state.settings, client, current, new)
            except WrongPasswordError:
                ctx.session.commit()  # keep the failed attempt for the login limit
                errors["current_password"] = "That is not your current password."
        if errors:
            return render(request, "account.html", _account_page(ctx, errors), who,
                          status_code=422)
        response = redirect("/login?changed=1")
        response.delete_cookie(auth.SESSION_COOKIE)
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
def vendor(name: str) -> Response:
    path = VENDOR_FILES.get(name)
    if path is None or not path.is_file():
        raise NotFoundError(f"no such asset {name}; run `npm ci` (scripts/setup.sh does)")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
