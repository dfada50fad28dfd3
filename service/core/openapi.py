"""The OpenAPI document tells the truth about errors and logins: every operation lists the
4xx it can answer, each with the one error shape (`ErrorPublic`), and says whether it needs
a login.

What an operation can answer follows from what it is, worked out here for all of them once
the routes are registered, so no route lists its errors by hand:
- 422 from every operation (a query, path or body to fix; a rule of the service refused it);
- 413 from every operation with a body (larger than the server accepts);
- 409 from every operation that changes something (done by someone else first, or saved at
  the same moment);
- unless the route is `PUBLIC`: 401 (nobody logged in), 403 (not for this role, or a form
  without its CSRF token), and 404 where the request names something (a path, query or body
  that may name a record the caller cannot see or that does not exist);
- a public route with path parameters: 404;
- 503 from every operation: the database cannot be reached just now, or a setting the
  request needs is missing;
- and what the route declares itself: 429 where its callers are limited
  (`responses=RATE_LIMITED`), 401 from the public logins (`LOGIN`: wrong password).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from service.core.schemas import ErrorPublic

PUBLIC: dict[str, Any] = {"security": []}
"""`openapi_extra` of a route anyone may call without logging in."""
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many attempts from this address or for this account: wait "
                         "the minutes the message says and try again."}}
"""`responses` of a route whose callers are limited (self-referrals, one's password)."""
LOGIN: dict[int | str, dict[str, Any]] = {
    **RATE_LIMITED,
    401: {"description": "Wrong username or password, or the account is not active."}}
"""`responses` of the public routes that log in."""
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A token from `POST /api/auth/token`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "carepath_session",
                "description": "The pages' session cookie (`POST /api/auth/login`); a "
                               "request that changes something also sends `X-CSRF-Token`."},
}
DESCRIPTIONS = {
    401: "Nobody is logged in, or the login has ended: log in (`POST /api/auth/token`) and "
         "send the token as `Authorization: Bearer ...`.",
    403: "Not for the caller's role (the message says whose it is), or a cookie session's "
         "change without its CSRF token.",
    404: "There is no such record, or none the caller may see (the same answer, so ids "
         "cannot be probed).",
    409: "It conflicts with what is saved: done or claimed by someone else first, or "
         "changed at the same moment. Reload and try again.",
    413: "The request's body is larger than the server accepts.",
    422: "The request needs fixing: `message` says what, `fields` which parts.",
    429: RATE_LIMITED[429]["description"],
    503: "The database cannot be reached just now (`database_unavailable`: try again after "
         "`Retry-After` seconds), or a setting the request needs is missing "
         "(`not_configured`).",
}
WRITES = frozenset({"post", "put", "patch", "delete"})
_ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` document every operation's errors and logins (see the module's
    docstring). Call it once the routes are registered."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def errors_of(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses (4xx, and 503) an operation can answer."""
    statuses = {422, 503}
    has_body = "requestBody" in operation
    parameters = operation.get("parameters", [])
    if has_body:
        statuses.add(413)
    if method in WRITES:
        statuses.add(409)
    if operation.get("security") != []:
        statuses |= {401, 403}
        if has_body or parameters:
            statuses.add(404)
    elif any(parameter["in"] == "path" for parameter in parameters):
        statuses.add(404)
    statuses |= {int(status) for status in operation.get("responses", {})
                 if status.startswith("4")}
    return statuses


def _document(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_schema = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorPublic"] = error_schema
    # FastAPI's own 422 shape is not what the service answers (see app.invalid_request).
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(errors_of(method, operation)):
                declared = responses.get(str(status), {}).get("description")
                responses[str(status)] = {
                    # FastAPI's own 422 ("Validation Error") is replaced; a route's own
                    # words for its 401 or 429 are kept.
                    "description": declared if declared and status != 422
                    else DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": _ERROR_REF}}}
