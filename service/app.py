"""The FastAPI application: wiring, error handlers, the embedded worker."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathways.clock import Clock, SystemClock
from pathways.errors import PathwayError
from pathways.models import ModelError
from service.audit import api as audit_api
from service.audit import api_exports as audit_exports_api
from service.audit import pages as audit_pages
from service.care import api_episodes as episodes_api
from service.care import api_summary as summary_api
from service.care import api_tasks as tasks_api
from service.care import pages as care_pages
from service.care import worker
from service.core import openapi
from service.core.db import checkpoint_wal, create_db_engine, transaction
from service.core.errors import (
    DATABASE_ERRORS,
    NotFoundError,
    ServiceError,
    database_reason,
    describe,
    describe_database_error,
    sentence,
)
from service.core.pages import TEMPLATES, error_page, redirect, wants_html
from service.core.request_guard import RequestGuard
from service.core.request_log import RequestLog
from service.core.security_headers import SecurityHeaders
from service.core.settings import Settings, get_settings
from service.fhir import api as fhir_api
from service.messages import api as messages_api
from service.messages import pages as message_pages
from service.models import api as models_api
from service.models import api_whatif as whatif_api
from service.models import pages as model_pages
from service.models import whatif_pages
from service.models.registry import EngineRegistry
from service.nudges import api as nudges_api
from service.nudges import pages as nudges_pages
from service.patients import api as today_api
from service.patients import illustrations
from service.patients import pages as patient_pages
from service.people import api as auth_api
from service.people import pages as people_pages
from service.people import staff_pages

log = logging.getLogger("carepath")
STATIC = Path(__file__).resolve().parent / "static"
GC_YOUNG_THRESHOLD = 50_000
"""Allocations between collections of the youngest generation while the app serves."""


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               db: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    clock = clock or SystemClock()
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _warm_engines(app)
        # What is loaded by now (the app, its libraries, the active model) lives as long as
        # the process: keep it out of the collector's full passes, which otherwise walk it
        # again and again.
        gc.collect()
        gc.freeze()
        # And collect young objects less often: an engine step allocates tens of thousands of
        # short-lived objects, so at the default (700) a collection would run many times per
        # completion (docs/benchmarks.md has what this saves).
        old_threshold = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *old_threshold[1:])
        checkpoints = checkpoint_wal(app.state.db, stop)
        thread = None
        if settings.embedded_worker:
            thread = threading.Thread(
                target=worker.run_forever, name="carepath-worker", daemon=True,
                args=(app.state.db, clock, app.state.engines,
                      settings.worker_interval_seconds, stop, settings))
            thread.start()
        yield
        stop.set()
        for running in (thread, checkpoints):
            if running is not None:
                running.join(timeout=10)
        gc.set_threshold(*old_threshold)

    # FastAPI's own /docs and /redoc load their scripts from CDNs: a blank page on a machine
    # without internet, and a request to a third party from every reader; its /docs also
    # runs an inline script, which our Content-Security-Policy refuses. Ours serves Swagger
    # UI from node_modules and starts it from a file (see api_docs); ReDoc is not offered.
    app = FastAPI(title="carepath", version="0.1.0", lifespan=lifespan,
                  description="Care pathways for low back pain: tasks, episodes, models, audit.",
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.clock = clock
    app.state.db = db or create_db_engine(settings)
    app.state.engines = EngineRegistry(clock)

    @app.exception_handler(ServiceError)
    @app.exception_handler(PathwayError)
    @app.exception_handler(ModelError)
    @app.exception_handler(ValueError)
    async def domain_error(request: Request, error: Exception) -> Response:
        described = describe(error)
        if described is None:  # a ValueError from deep inside: still the caller's input
            described = (422, {"code": "invalid_request", "fields": [],
                               "message": sentence(str(error))})
        status, body = described
        if wants_html(request):
            if status == 401:
                return redirect(f"/login?next={quote(request.url.path)}")
            return error_page(request, status, body["message"])
        return JSONResponse({"error": body}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "There is no such page.", 405: "That action is not possible here."}.get(
            error.status_code, str(error.detail))
        # Starlette's 405 names the allowed methods in an `Allow` header: keep it.
        answer = (error_page(request, error.status_code, message) if wants_html(request)
                  else JSONResponse({"error": {"code": "http_error", "message": message,
                                               "fields": []}}, status_code=error.status_code))
        answer.headers.update(error.headers or {})
        return answer

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, error: IntegrityError) -> Response:
        message = "That conflicts with data saved at the same moment; reload and try again."
        if wants_html(request):
            return error_page(request, 409, message)
        return JSONResponse({"error": {"code": "conflict", "fields": [], "message": message}},
                            status_code=409)

    async def database_unavailable(request: Request, error: Exception) -> Response:
        status, body = describe_database_error(error)
        log.warning("%s %s answered %d: %s", request.method, request.url.path, status,
                    database_reason(error))
        headers = {"Retry-After": "10"} if status == 503 else {}
        if wants_html(request):
            page = error_page(request, status, body["message"])
            page.headers.update(headers)
            return page
        return JSONResponse({"error": body}, status_code=status, headers=headers)

    for kind in DATABASE_ERRORS:  # out of reach: 503 (a deadlock: 409), never a 500
        app.add_exception_handler(kind, database_unavailable)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        fields = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"),
                   # A rule of ours (a validator raising ValueError) says its own sentence.
                   "message": str(e["msg"]).removeprefix("Value error, ")}
                  for e in error.errors()]
        if wants_html(request):
            return error_page(request, 422, "; ".join(f"{f['field']}: {f['message']}"
                                                      for f in fields))
        return JSONResponse({"error": {"code": "invalid_request", "fields": fields,
                                       "message": "The request needs fixing; see fields"}},
                            status_code=422)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:  # async: no thread for nothing
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "api_docs.html",
                                          {"openapi_url": app.openapi_url or "/openapi.json"})

    # Routes are matched in order, router by router: the busiest first (the task list and
    # completing tasks; then the patient's day).
    for router in (tasks_api.router, today_api.router, episodes_api.router, auth_api.router,
                   whatif_api.router, models_api.router, audit_api.router,
                   audit_exports_api.router, summary_api.router, fhir_api.router,
                   people_pages.router, care_pages.router, patient_pages.router,
                   illustrations.router, whatif_pages.router, model_pages.router,
                   audit_pages.router, staff_pages.router, nudges_api.router,
                   nudges_pages.router, messages_api.router, message_pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # Before any route: bodies over the limit (413, unread) and NUL in any text (422).
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       larger={models_api.UPLOAD_PATH: models_api.UPLOAD_BODY_BYTES})
    openapi.document_errors(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLog)  # silent unless `carepath serve` shows it (request_log)
    return app


def _warm_engines(app: FastAPI) -> None:
    """Build the active model's engine at start, so the first requests do not wait for it
    (parsing and checking a model takes about a second)."""
    try:
        with transaction(app.state.db, write=False) as session:
            app.state.engines.active(session)
    except (NotFoundError, SQLAlchemyError) as err:  # nothing deployed or migrated yet
        log.info("no engine built at start: %s", err)
