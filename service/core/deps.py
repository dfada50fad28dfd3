"""FastAPI dependencies: the request's unit of work (its one transaction, and the caller)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session

from pathways.clock import Clock
from service.core import credentials
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import ForbiddenError
from service.core.settings import Settings
from service.core.tables import AccessRecord, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SLOW_THREADS = 8
"""Threads for units of work that are slow on purpose or by size (see `Call`)."""
T = TypeVar("T")


@functools.cache
def _threads(kind: str, count: int) -> ThreadPoolExecutor:
    """The threads units of work run on, shared by the process's apps: a plain executor, which
    hands work over faster than anyio's thread pool (which FastAPI uses for sync routes)."""
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix=f"carepath-{kind}")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class Call:
    """One request's unit of work: `await call(fn)` runs `fn(ctx)` inside the request's one
    transaction, with the caller read first; the transaction commits when `fn` returns
    (before the answer is sent) and rolls back if it raises. A route parses, hands its
    service call to `call`, and returns what comes back: at most one hop to a worker thread
    per request, whatever the route does.

    Units of work run on few threads: `settings.unit_threads` per process; with 0 (the
    default on SQLite) on the event loop itself, with no hand-over at all. Python runs one
    thread of a process at a time, so more threads add no speed, only contention: a writer
    holding SQLite's write lock would wait for its turn at Python while other threads run
    engine steps, and every process's writers would wait with it. Work that takes long
    without needing Python (argon2 password hashing, in logins and in anything that creates
    a login) or that is rare and long (checking an uploaded model, reading or verifying the
    event log) runs on threads of its own (`slow`), so it never holds up everyone's task
    completions. The measurements behind this: docs/benchmarks.md."""

    def __init__(self, request: Request, csrf_checked: bool = False,
                 anonymous: bool = False, slow: bool = False) -> None:
        self.request, self.csrf_checked, self.anonymous = request, csrf_checked, anonymous
        self.slow = slow

    async def __call__(self, fn: Callable[[Context], T]) -> T:
        count = SLOW_THREADS if self.slow else self.request.app.state.settings.unit_threads
        if count == 0:
            return self._run(fn)
        context = contextvars.copy_context()
        threads = _threads("slow" if self.slow else "call", count)
        return await asyncio.get_running_loop().run_in_executor(
            threads, context.run, self._run, fn)

    def _run(self, fn: Callable[[Context], T]) -> T:
        write = self.request.method not in SAFE_METHODS
        with _unit_of_work(self.request, self.csrf_checked, self.anonymous) as ctx:
            result = fn(ctx)
            if write:  # saved with the change, or neither is
                _log_access(self.request, ctx, ctx.session)
        if not write and (ctx.opened or ctx.logged or ctx.marks):
            # A read takes no write lock; its record is written once it has succeeded, and
            # if that fails the answer fails too: nothing is shown that was not logged.
            with transaction(self.request.app.state.db, write=True) as session:
                _log_access(self.request, ctx, session)
        return result


def _log_access(request: Request, ctx: Context, session: Session) -> None:
    """Who opened which patients' records (`ctx.opened`), when and with which request; and
    the log rows and marks the request asked for (`ctx.logged`, `ctx.marks`)."""
    session.add_all(ctx.logged)
    for mark in ctx.marks:
        mark(session)
    if ctx.opened and ctx.user is not None:
        session.add_all([AccessRecord(at=ctx.now, user_id=ctx.user.id or 0,
                                      patient_id=patient_id, episode_id=episode_id,
                                      request=f"{request.method} {request.url.path}"[:300])
                         for episode_id, patient_id in sorted(ctx.opened.items())])


async def get_call(request: Request) -> Call:
    return Call(request)


async def get_slow_call(request: Request) -> Call:
    """For routes whose work is slow (see Call)."""
    return Call(request, slow=True)


async def get_anonymous_call(request: Request) -> Call:
    """Without looking at who is calling (logging in, where an old session must not get in
    the way); on the slow threads, as logging in checks a password."""
    return Call(request, anonymous=True, slow=True)


@contextmanager
def _unit_of_work(request: Request, csrf_checked: bool, anonymous: bool) -> Iterator[Context]:
    app = request.app
    write = request.method not in SAFE_METHODS
    with transaction(app.state.db, write=write) as session:
        ctx = Context(session=session, clock=app.state.clock, engines=app.state.engines,
                      db=app.state.db)
        if anonymous:
            yield ctx
            return
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
    cookie = credentials.read_session_cookie(request.app.state.settings,
                                      request.cookies.get(credentials.SESSION_COOKIE, ""))
    if cookie is None or not credentials.csrf_matches(cookie, fields.get("csrf_token")):
        raise ForbiddenError(credentials.FORM_REFUSED)
    request.state.form_lists = {k: form.getlist(k) for k in form}
    return fields


async def get_page_call(request: Request,
                        form: Annotated[dict[str, str], Depends(page_form)]) -> Call:
    """As `get_call`, for pages: the CSRF token arrives in the form, checked by page_form."""
    return Call(request, csrf_checked=True)


async def get_slow_page_call(request: Request,
                             form: Annotated[dict[str, str], Depends(page_form)]) -> Call:
    """As `get_page_call`, for pages whose work is slow (see Call)."""
    return Call(request, csrf_checked=True, slow=True)


def client_address(request: Request) -> str:
    """The caller's address, as uvicorn reports it (behind a proxy: FORWARDED_ALLOW_IPS), the
    unit the login and self-referral limits count by."""
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    """The API token of an `Authorization: Bearer ...` header, if the request has one."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _caller(request: Request, session: Session, settings: Settings, clock: Clock,
            write: bool) -> User | None:
    token = bearer_token(request)
    if token is not None:
        return credentials.user_for_token(session, token, clock.now())
    cookie_value = request.cookies.get(credentials.SESSION_COOKIE)
    if not cookie_value:
        return None
    cookie = credentials.read_session_cookie(settings, cookie_value)
    if cookie is None:
        return None
    user = credentials.user_for_cookie(session, cookie)
    if user is None:
        return None
    request.state.session_cookie = cookie
    if write and not credentials.csrf_matches(cookie, request.headers.get("x-csrf-token")):
        # A cookie rides along on cross-site requests; the CSRF token does not.
        raise ForbiddenError("missing or wrong CSRF token; reload the page and try again")
    return user


CallDep = Annotated[Call, Depends(get_call)]
SlowCallDep = Annotated[Call, Depends(get_slow_call)]
AnonymousCallDep = Annotated[Call, Depends(get_anonymous_call)]
PageCallDep = Annotated[Call, Depends(get_page_call)]
SlowPageCallDep = Annotated[Call, Depends(get_slow_page_call)]
PageFormDep = Annotated[dict[str, str], Depends(page_form)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
