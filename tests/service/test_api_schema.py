"""The live server against its own OpenAPI: schemathesis generates requests for every
operation the schema documents, sends them to the server over HTTP as the roles that may
call it, and checks each answer: never a 5xx, a status the operation documents, and a body
and content type as the schema says. Runs on SQLite and on PostgreSQL
(CAREPATH_TEST_DATABASE); without a server it fails under CAREPATH_REQUIRE_SERVICES=1.

Deterministic (derandomised) and bounded: `MAX_EXAMPLES` requests per operation and
caller, no deadline (the server's time varies with the machine, not with the input)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .access_table import POLICY
from .conftest import LiveServer, World, refer, through_first_visit

MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ALLOW_NUL = True
"""Strings with NUL bytes too: the request guard answers them with a 422 on both databases
(service/core/request_guard.py; PostgreSQL cannot store them)."""
ANONYMOUS = "anonymous"
CALLERS = {"patient_A": "anna", "physio": "physio", "clinic_lead": "lead",
           "manager": "manager", "auditor": "auditor", "admin": "admin"}
"""The roles of the access policy this test calls as (ROLES names them), and their logins."""
LAST = {
    # Operations that can end logins: after everything else, so the tokens the others use
    # still work. Giving Anna a new password ends her logins; an admin may deactivate a
    # staff account (ending its logins), in the very last place.
    # A draft deployed or deleted early would leave the other draft routes nothing to edit.
    ("POST", "/api/models/drafts/{draft_id}/deploy"): 1,
    ("DELETE", "/api/models/drafts/{draft_id}"): 1,
    ("POST", "/api/me/password"): 1,
    ("POST", "/api/episodes/{episode_id}/patient-password"): 2,
    ("PATCH", "/api/users/{user_id}"): 3,
}


def callers_of(method: str, path: str, public: bool) -> list[str]:
    """Who calls an operation: nobody when the schema says it is public (logins too: each
    request brings its own credentials), else each role the access policy lets in (of
    `CALLERS`)."""
    if public:
        return [ANONYMOUS]
    rows = [row for row in POLICY
            if (row.method, row.path.replace(":path}", "}")) == (method, path)]
    assert rows, f"{method} {path} has no row in the access policy"
    return sorted({CALLERS[role] for row in rows for role in row.allowed if role in CALLERS})


@dataclass
class Caller:
    """Someone the test calls as: their token, and the ids of records they may see (the
    second pass's path parameters, so requests reach past "not found")."""

    headers: dict[str, str]
    known: dict[str, Any]


@pytest.fixture
def callers(world: World, live_server: LiveServer) -> Iterator[dict[str, Caller]]:
    """A patient with an episode under way, a draft, and a bearer token for every caller."""
    patient, episode_id = refer(world, "Anna Andersson", "anna")
    through_first_visit(world, patient, "high_start_back")
    answer = {ANONYMOUS: Caller({}, {})}
    for username in CALLERS.values():
        client = world.client(username)
        known: dict[str, Any] = {"episode_id": episode_id, "version_id": 1, "old_id": 1,
                                 "new_id": 1}
        if username in ("anna", "physio", "lead"):
            tasks = client.get("/api/tasks").json()["data"]
            if tasks:
                known["task_id"] = tasks[0]["task_id"]
        if username == "manager":
            draft = client.post("/api/models/drafts", json={"from_version": 1})
            assert draft.status_code == 201, draft.text
            known["draft_id"] = draft.json()["id"]
        if username == "admin":
            known["user_id"] = world.users["physio2"]  # nobody this test calls as
        answer[username] = Caller(dict(client.headers), known)
    yield answer


def test_every_operation_answers_as_its_schema_says_to_every_caller(
        live_server: LiveServer, callers: dict[str, Caller]) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    # Random Authorization headers and cookies are not what this test is about: each
    # request carries its caller's own token.
    schema.config.generation.update(with_security_parameters=False, allow_x00=ALLOW_NUL)
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (LAST.get((op.method.upper(), op.path), 0), op.path))
    assert len(operations) > 50
    failures: list[str] = []
    started = time.monotonic()
    for operation in operations:
        public = operation.definition.raw.get("security") == []
        for name in callers_of(operation.method.upper(), operation.path, public):
            caller = callers[name]
            label = f"{operation.method.upper()} {operation.path} as {name}"
            failures += _run(operation.as_strategy(), live_server.url, caller.headers, label)
            names = {p.name for p in operation.path_parameters}
            if names and names <= set(caller.known):
                known = {key: caller.known[key] for key in names}
                failures += _run(operation.as_strategy(path_parameters=known),
                                 live_server.url, caller.headers, f"{label}, known ids")
    print(f"schemathesis: {len(operations)} operations in {time.monotonic() - started:.1f} s")
    print("\n".join(failures))
    assert failures == [], "\n".join(failures)


def _run(strategy: Any, base_url: str, headers: dict[str, str], label: str) -> list[str]:
    """Every example of one operation as one caller; the failures, one line each."""
    found: list[str] = []
    statuses: Counter[int] = Counter()

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as failure:
            for problem in getattr(failure, "exceptions", [failure]):
                found.append(f"{label}: {case.method} {case.formatted_path} "
                             f"query={case.query} body={_shown(case.body)} -> "
                             f"{response.status_code} {response.text[:200]!r}: "
                             f"{getattr(problem, 'title', type(problem).__name__)}: "
                             f"{getattr(problem, 'message', problem)!s:.300}")

    call()
    print(label, dict(sorted(statuses.items())))
    return found


def _shown(body: Any) -> str:
    return "-" if type(body).__name__ == "NotSet" else f"{body!r:.200}"
