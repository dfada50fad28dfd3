"""Login and logout pages (cookie sessions), the home redirect, and vendor assets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from .. import auth
from ..db import transaction
from ..deps import PageCallDep
from ..episodes import Context
from ..errors import LoginRateLimitedError, NotAuthenticatedError, NotFoundError
from .common import VENDOR_FILES, home_for, redirect, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class LoginPage:
    next: str
    username: str = ""
    error: str = ""


def _safe_next(value: str | None) -> str:
    """Only local paths: a login link must not send people elsewhere."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return ""


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", LoginPage(next=_safe_next(next)), None)


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
