"""One log line per request: method, route, status and time taken, nothing else.

The route is the path's template (`GET /patients/{episode_id} 200 12.4 ms`), never the path
itself nor its query string: ids, search words and tokens stay out of the log, and so does
every health datum. Static files show their own path (they are our files, not anyone's
data); a path no route matches shows as `(no route)`."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = logging.getLogger("carepath.requests")


def route_of(scope: Scope) -> str:
    """The matched route's path template; a static file's own path."""
    if isinstance(scope.get("endpoint"), StaticFiles):
        return str(scope["path"])
    route: Any = scope.get("route")
    return str(getattr(route, "path", "(no route)"))


class RequestLog:
    """ASGI middleware: logs each HTTP request at INFO on `carepath.requests` once its
    answer has been sent (or failed: status 500). Silent unless a handler shows INFO
    (`log_to_stderr`, which `carepath serve` calls)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not LOGGER.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            LOGGER.info("%s %s %d %.1f ms", scope["method"], route_of(scope), status,
                        (time.perf_counter() - started) * 1000)


def log_to_stderr() -> None:
    """Show the request log on stderr, one line per request, with the time of day."""
    if LOGGER.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
