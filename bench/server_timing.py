"""How long the server's app took over a request, as the server itself measures it.

The benchmark's server wraps the app it serves in `ServerTiming`: every answer then carries
`Server-Timing: app;dur=<ms>` (the W3C header for this), the time from the request's arrival
in the app (after uvicorn has parsed it) to the start of the answer. For a JSON answer that is
all the app's work: FastAPI, the unit of work and its commit, the answer built. The client
subtracts it from its own round trip, which leaves the transport: loopback, uvicorn and the
client itself. Only the benchmark serves this wrapper; `carepath serve` does not send the
header.
"""

from __future__ import annotations

import time
from typing import Any

HEADER = "server-timing"


class ServerTiming:
    """An ASGI wrapper adding `Server-Timing: app;dur=<ms>` to every HTTP answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", []),
                           (HEADER.encode(), f"app;dur={took:.3f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def app_seconds(header: str | None) -> float | None:
    """The app's time from a `Server-Timing: app;dur=<ms>` value (None if there is none)."""
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name == "app" and params.startswith("dur="):
            return float(params[4:]) / 1000
    return None
