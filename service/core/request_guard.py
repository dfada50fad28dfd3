"""What every request must pass before a route sees it: a body no larger than the limit, and
no NUL character in any text.

One place for both, as an ASGI middleware, so that no route, schema or page form can forget
them, logged in or not:

- A body over the limit (`Settings.max_body_bytes`; some routes, such as model uploads, have
  a larger one of their own) is refused with 413 before it is read: at once when its
  Content-Length says so, else as soon as the bytes counted while it streams in pass the
  limit. The rest is never read.
- A NUL character (U+0000) in a path or query parameter, a JSON body (keys or values, at any
  depth) or a form field is refused with 422 naming each field. PostgreSQL cannot store NUL
  in text (the driver raises, a 500) and SQLite would store it; it is never text a
  person means. Uploaded files are their route's to check (model drafts refuse NUL in file text).

Both answer as every error does: the one JSON shape for the API, the error page for pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.pages import error_page, wants_html

NUL = "\x00"
NUL_MESSAGE = "contains the NUL character (\\u0000), which text may not hold; remove it"
"""What a field holding NUL is told (model drafts say the same of a file)."""
MAX_NAMED = 20
"""Fields named in one answer at most."""


class BodyTooLargeError(Exception):
    """Raised into the route reading a streamed body once it passes the limit; the guard
    answers 413 instead of whatever the route makes of it."""


class RequestGuard:
    """ASGI middleware refusing bodies over `max_body_bytes` (413) and text holding NUL (422).

    `larger` gives routes a limit of their own: path template (as the route declares it) ->
    bytes. Their bodies are counted as they stream to the route, not held here; every other
    body (at most `max_body_bytes`) is read here first, checked, and handed on whole."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = [(compile_path(path)[0], limit) for path, limit in (larger or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields = _nul_in_path(scope) + _nul_in_query(scope["query_string"])
        if fields:
            await _refuse_nul(scope, receive, send, fields)
            return
        limit, streamed = self._limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse_size(scope, receive, send, limit)
            return
        if streamed:
            await self._counted(scope, receive, send, limit)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _refuse_size(scope, receive, send, limit)
            return
        fields = await _nul_in_body(scope, body, receive)
        if fields:
            await _refuse_nul(scope, receive, send, fields)
            return
        await self.app(scope, _replay(body, receive), send)

    def _limit(self, path: str) -> tuple[int, bool]:
        for pattern, limit in self.larger:
            if pattern.match(path):
                return limit, True
        return self.max_body_bytes, False

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Hand the body on as it arrives, stopping at the limit: the route's read then fails,
        and its answer is replaced by the 413."""
        received = 0
        too_large = started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLargeError(f"the body passed {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _refuse_size(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read here, for the route; then the client's own messages (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _nul_in_path(scope: Scope) -> list[str]:
    """The field "path" when the path holds NUL (no route is chosen yet to name its
    parameter)."""
    return ["path"] if NUL in scope["path"] else []


def _nul_in_query(query_string: bytes) -> list[str]:
    if b"%00" not in query_string and b"\x00" not in query_string:
        return []
    return [f"query.{_shown(name)}" for name, value in
            parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
            if NUL in name or NUL in value]


async def _nul_in_body(scope: Scope, body: bytes, receive: Receive) -> list[str]:
    """Fields of a form or JSON body holding NUL. Every body that is not a form is read as
    JSON, as the API's routes read it (with or without a content type). Files in a
    multipart form are not text fields: their routes check them."""
    content_type = _header(scope, b"content-type")
    if content_type.startswith("application/x-www-form-urlencoded"):
        if b"%00" not in body and b"\x00" not in body:
            return []
        return [_shown(name) for name, value in
                parse_qsl(body.decode("latin-1"), keep_blank_values=True)
                if NUL in name or NUL in value]
    if content_type.startswith("multipart/form-data"):
        if b"\x00" not in body:
            return []
        try:
            async with Request(scope, _replay(body, receive)).form() as form:
                return [_shown(name) for name, value in form.multi_items()
                        if NUL in name or (isinstance(value, str) and NUL in value)]
        except MultiPartException:
            return []  # malformed: the route says so
    # The escape \u0000 in UTF-8 JSON, or raw zero bytes (UTF-16 and UTF-32 JSON have them).
    if b"\\u0000" not in body and b"\x00" not in body:
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []  # malformed: the route says so
    return _nul_in_json(document)


def _nul_in_json(document: Any) -> list[str]:
    """Where NUL occurs in a JSON document, as dotted paths ("login.username", "items.0")."""
    found: list[str] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack and len(found) < MAX_NAMED:
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                found.append(".".join(path) or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:
                    found.append(".".join((*path, _shown(key))))
                stack.append(((*path, _shown(key)), item))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in enumerate(value))
    return sorted(set(found))


def _shown(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1")).lower()
    return ""


async def _refuse_nul(scope: Scope, receive: Receive, send: Send, fields: list[str]) -> None:
    named = sorted(set(fields))[:MAX_NAMED]
    message = (f"Text may not contain the NUL character (\\u0000); remove it from "
               f"{', '.join(named)}")
    await _refuse(scope, receive, send, 422, "invalid_request", message,
                  [{"field": field, "message": NUL_MESSAGE} for field in named])


async def _refuse_size(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _refuse(scope, receive, send, 413, "request_too_large",
                  f"The request body is larger than the limit of {limit:,} bytes; send less "
                  f"at once", [], close=True)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str,
                  message: str, fields: list[dict[str, str]], close: bool = False) -> None:
    request = Request(scope, receive)
    response: Response
    if wants_html(request):
        response = error_page(request, status, message)
    else:
        response = JSONResponse({"error": {"code": code, "message": message, "fields": fields}},
                                status_code=status)
    if close:  # the rest of the body is not read: the connection cannot serve another
        response.headers["Connection"] = "close"
    await response(scope, receive, send)
