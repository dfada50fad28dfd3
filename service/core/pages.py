"""Shared page machinery: templates, who is logged in, vendor assets, error pages.

Pages render a small typed context (a dataclass per page), never ORM objects, and every page's
data is also available from the JSON API (see docs/api.md, "Pages and their JSON twins")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from service.core import clinic_time, credentials
from service.core.context import Context
from service.core.errors import NotAuthenticatedError
from service.core.score_text import score_text, score_value
from service.core.tables import User

SERVICE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [SERVICE / domain / "templates"
                 for domain in ("core", "people", "care", "patients", "messages", "models",
                               "audit", "nudges")]
"""Each domain keeps its templates beside its routes; names stay unique across them
(`base.html`, `login.html`, `clinician/...`, `patient/...`)."""
TEMPLATES = Jinja2Templates(directory=[str(d) for d in TEMPLATE_DIRS])
TEMPLATES.env.autoescape = True
TEMPLATES.env.filters["score"] = score_text
TEMPLATES.env.filters["score_value"] = score_value
TEMPLATES.env.filters["local"] = clinic_time.local  # times people read are the clinic's

VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger-ui-favicon.png": "swagger-ui-dist/favicon-32x32.png",
    # Our bundles of service/static/src/ with the libraries they import (`npm run build`).
    "carepath-diagram.js": ".carepath/carepath-diagram.js",
    "carepath-editor.js": ".carepath/carepath-editor.js",
    "carepath-editor.css": ".carepath/carepath-editor.css",
}
"""Browser libraries, installed by `npm ci` from package-lock.json into the `node_modules`
setting, and our bundles built beside them (scripts/bundle.mjs); served from there under
/static/vendor/NAME, never copied into the repository."""

HOME_BY_ROLE = {"patient": "/today", "physiotherapist": "/worklist", "clinic_lead": "/worklist",
                "manager": "/models", "auditor": "/audit", "admin": "/staff"}


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: enough for the layout (name, role, navigation, CSRF)."""

    id: int
    name: str
    role: str
    csrf_token: str

    @property
    def is_clinician(self) -> bool:
        return self.role in ("physiotherapist", "clinic_lead")


def viewer(request: Request, ctx: Context) -> Viewer:
    """The logged-in person, or NotAuthenticatedError (pages turn it into the login page)."""
    user = ctx.user
    if user is None:
        raise NotAuthenticatedError("log in first")
    cookie = getattr(request.state, "session_cookie", None) or {}
    return Viewer(id=user.id or 0, name=user.full_name or user.username, role=user.role,
                  csrf_token=credentials.csrf_token(cookie))


def render(request: Request, template: str, page: Any, who: Viewer | None,
           status_code: int = 200, **extra: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template,
                                      {"page": page, "viewer": who, **extra},
                                      status_code=status_code)


def new_password_problems(form: dict[str, str]) -> dict[str, str]:
    """A form's `new_password` and `new_password_again`: field -> what to fix (the pages'
    twin of the API schemas' 8 to 200 characters)."""
    new = form.get("new_password", "")
    if not 8 <= len(new) <= 200:
        return {"new_password": "Choose a new password of 8 to 200 characters."}
    if form.get("new_password_again", "") != new:
        return {"new_password_again": "The two new passwords differ: type the same one "
                                      "twice."}
    return {}


def home_for(user: User) -> str:
    return HOME_BY_ROLE.get(user.role, "/")


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


ERROR_TITLES = {
    400: ("Something is not right", "Go back and check what you entered."),
    401: ("Please log in", "Log in to continue."),
    403: ("You cannot do that", "This page or action belongs to someone else or another role. "
                                "Go back to your own page."),
    404: ("Not found", "It may have been moved, finished, or belong to someone else. Go back "
                       "to your list."),
    409: ("Already done", "Someone else has just done this. Reload your list to see what is "
                          "next."),
    413: ("Too much sent at once", "Go back and send less: a shorter text, or fewer files."),
    422: ("Please check your answers", "Go back, correct the answers shown, and send again."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    503: ("Not available just now", "Wait a minute and try again."),
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title, next_step = ERROR_TITLES.get(status, ("Something went wrong", "Try again later."))
    return TEMPLATES.TemplateResponse(
        request, "error.html",
        {"page": {"status": status, "title": title, "message": message,
                  "next_step": next_step}, "viewer": _cookie_viewer(request)},
        status_code=status)


def _cookie_viewer(request: Request) -> Viewer | None:
    """The layout's navigation on error pages too, for someone logged in (read from the
    signed cookie alone: the failed request's transaction is gone)."""
    settings = request.app.state.settings
    cookie = credentials.read_session_cookie(
        settings, request.cookies.get(credentials.SESSION_COOKIE, ""))
    if not cookie:
        return None
    from service.core.db import transaction
    from service.core.errors import DATABASE_ERRORS

    try:
        with transaction(request.app.state.db, write=False) as session:
            user = credentials.user_for_cookie(session, cookie)
            if user is None:
                return None
            return Viewer(id=user.id or 0, name=user.full_name or user.username,
                          role=user.role, csrf_token=credentials.csrf_token(cookie))
    except DATABASE_ERRORS:  # the page says the database is out of reach, without a menu
        return None


NOT_PAGES = ("/api", "/exercise-illustrations/")
"""Paths whose errors answer as JSON: the API, and pictures (an <img> cannot show an error
page, and a plain 401 says what a redirect to the login page would hide)."""


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES) and request.url.path not in (
        "/openapi.json", "/healthz")
