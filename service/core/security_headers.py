"""Security headers on every answer: what the browser may load and run for our pages, and
that nobody may frame them, sniff another type or read where a reader came from.

Every page loads its scripts, styles, pictures and data from this server alone, and runs no
inline script (data for a page's script travels in a `<script type="application/json">`
island, which the browser never runs). Styles are the one exception: bpmn-js, dmn-js and
htmx put `<style>` elements into the page and a few of our templates set a `style`
attribute, so `style-src` allows inline styles; a style can change how a page looks but
runs nothing. A route that sets a policy of its own keeps it (the exercise pictures' SVGs
get a stricter one): a header already present is never replaced."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    # Swagger UI's and the editors' icons are data: URLs in their stylesheets.
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # frame-ancestors' older twin, for browsers that do not read the policy's.
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Links to our own pages keep the path (the pages need nothing more); another site
    # learns nothing, not even that a reader came from carepath.
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: adds `HEADERS` to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
