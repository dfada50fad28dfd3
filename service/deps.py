"""FastAPI dependencies: the per-request transaction and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from pathways.clock import Clock

from . import auth
from .db import transaction
from .episodes import Context
from .errors import ForbiddenError
from .models_registry import EngineRegistry
from .settings import Settings
from .tables import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_context(request: Request) -> Iterator[Context]:
    """One transaction per request: committed when the route returns, rolled back on any
    error. Writing requests take SQLite's write lock at the start."""
    yield from _context(request, csrf_checked=False)


def _context(request: Request, csrf_checked: bool) -> Iterator[Context]:
    app = request.app
    write = request.method not in SAFE_METHODS
    with transaction(app.state.db, write=write) as session:
        ctx = Context(session=session, clock=app.state.clock, engines=app.state.engines,
                      db=app.state.db)
        # A writing request reads who is calling from a read-only snapshot, which its service
        # function may go on reading from: SQLite's write lock is taken only when there is
        # something to write.
        with transaction(app.state.db, write=False) if write else nullcontext(session) as \
                reader:
            ctx.user = _caller(request, reader, app.state.settings, app.state.clock,
                               write and not csrf_checked)
            ctx.snapshot = reader if write else None
            yield ctx


async def page_form(request: Request) -> dict[str, str]:
    """A page's posted form, after checking its CSRF field against the session cookie."""
    if request.method in SAFE_METHODS:
        return {}
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    cookie = auth.read_session_cookie(request.app.state.settings,
                                      request.cookies.get(auth.SESSION_COOKIE, ""))
    if cookie is None or not auth.csrf_matches(cookie, fields.get("csrf_token")):
        raise ForbiddenError("the form has expired or did not come from carepath; reload the "
                             "page and submit it again")
    request.state.form_lists = {k: form.getlist(k) for k in form}
    return fields


def get_page_context(request: Request,
                     form: Annotated[dict[str, str], Depends(page_form)]) -> Iterator[Context]:
    """As `get_context`, for pages: the CSRF token arrives in the form, not a header."""
    yield from _context(request, csrf_checked=True)


def _caller(request: Request, session: Session, settings: Settings, clock: Clock,
            write: bool) -> User | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return auth.user_for_token(session, header[7:].strip(), clock.now())
    cookie_value = request.cookies.get(auth.SESSION_COOKIE)
    if not cookie_value:
        return None
    cookie = auth.read_session_cookie(settings, cookie_value)
    if cookie is None:
        return None
    user = session.get(User, cookie.get("uid"))
    if user is None or not user.active:
        return None
    request.state.session_cookie = cookie
    if write and not auth.csrf_matches(cookie, request.headers.get("x-csrf-token")):
        # A cookie rides along on cross-site requests; the CSRF token does not.
        raise ForbiddenError("missing or wrong CSRF token; reload the page and try again")
    return user


def get_anonymous_context(request: Request) -> Iterator[Context]:
    """A transaction without looking at who is calling (logging in, where an old session must
    not get in the way)."""
    app = request.app
    with transaction(app.state.db, write=request.method not in SAFE_METHODS) as session:
        yield Context(session=session, clock=app.state.clock, engines=app.state.engines,
                      db=app.state.db)


# scope="function": the transaction commits before the response is sent, so a client never
# hears "done" for a change that is not yet saved (or that then fails to save).
ContextDep = Annotated[Context, Depends(get_context, scope="function")]
AnonymousContextDep = Annotated[Context, Depends(get_anonymous_context, scope="function")]
PageContextDep = Annotated[Context, Depends(get_page_context, scope="function")]
PageFormDep = Annotated[dict[str, str], Depends(page_form)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EnginesDep = EngineRegistry
