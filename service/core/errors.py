"""Service errors, and the one table that maps every domain error to an HTTP status.

Every error response has one shape:
    {"error": {"code": "...", "message": "a sentence saying what to fix", "fields": [...]}}
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as db_errors

from pathways.education import EducationError
from pathways.errors import (
    FormValidationError,
    PathwayError,
    StateMismatchError,
    StepFailedError,
    TaskNotFoundError,
    TaskNotReadyError,
)
from pathways.exercises import ExerciseError
from pathways.models import ModelError


class ServiceError(Exception):
    """Base of errors raised by service functions; messages are plain sentences."""


class NotAuthenticatedError(ServiceError):
    pass


class LoginRateLimitedError(ServiceError):
    def __init__(self, window_seconds: int) -> None:
        super().__init__(f"too many failed logins; wait {window_seconds // 60} minutes and "
                         "try again")


class SelfReferralRateLimitedError(ServiceError):
    def __init__(self, window_seconds: int) -> None:
        super().__init__(f"too many self-referrals from this address in the last "
                         f"{window_seconds // 60} minutes; try again later, or ask your clinic "
                         "to refer you")


class ForbiddenError(ServiceError):
    pass


class NotFoundError(ServiceError):
    pass


class ConflictError(ServiceError):
    pass


class NotConfiguredError(ServiceError):
    """The server lacks a setting this needs (503): the message names it."""


class InvalidRequestError(ServiceError):
    """The request is understood but its content is not acceptable (422)."""

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class WrongPasswordError(InvalidRequestError):
    """Changing one's password with a wrong current one (422). It counts as a failed login
    (auth.authenticate commits the attempt before checking the password)."""

    def __init__(self) -> None:
        super().__init__("the current password is wrong; nothing was changed",
                         [{"field": "current_password", "message": "wrong password"}])


STATUS: list[tuple[type[Exception], int, str]] = [
    (NotAuthenticatedError, 401, "not_authenticated"),
    (LoginRateLimitedError, 429, "too_many_attempts"),
    (SelfReferralRateLimitedError, 429, "too_many_self_referrals"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (TaskNotFoundError, 404, "task_not_found"),
    (TaskNotReadyError, 409, "task_already_done"),
    (ConflictError, 409, "conflict"),
    (FormValidationError, 422, "invalid_answers"),
    (InvalidRequestError, 422, "invalid_request"),
    (ModelError, 422, "invalid_model"),
    (EducationError, 422, "invalid_education_request"),
    (ExerciseError, 422, "invalid_exercise_request"),
    (StepFailedError, 422, "pathway_step_failed"),
    (StateMismatchError, 409, "state_mismatch"),
    (PathwayError, 400, "pathway_error"),
    (NotConfiguredError, 503, "not_configured"),
]
"""Domain and service errors -> (status, code). First match wins: subclasses first."""


def describe(error: Exception) -> tuple[int, dict[str, Any]] | None:
    for kind, status, code in STATUS:
        if isinstance(error, kind):
            body: dict[str, Any] = {"code": code, "message": _message(error), "fields": []}
            if isinstance(error, FormValidationError):
                body["fields"] = [{"field": e.field, "message": e.message} for e in error.errors]
            elif isinstance(error, InvalidRequestError):
                body["fields"] = error.fields
            elif isinstance(error, ModelError):
                body["fields"] = [{"field": f"{p.file}:{p.element or ''}", "message": p.message}
                                  for p in error.problems]
            return status, body
    return None


DATABASE_UNAVAILABLE = ("The database cannot be reached just now, so this could not be done; "
                        "try again in a minute")
DATABASE_CONFLICT = "That conflicts with data saved at the same moment; reload and try again."
DATABASE_ERRORS = (db_errors.OperationalError, db_errors.InterfaceError, db_errors.TimeoutError)
"""What the database (or its driver, or the pool) raises when it cannot be reached, is
locked beyond the timeout, or gave up a transaction."""


def database_reason(error: Exception) -> str:
    """The first line of what the driver said (for the log)."""
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__


def describe_database_error(error: Exception) -> tuple[int, dict[str, Any]]:
    """A deadlock or serialization failure (SQLSTATE class 40: the database rolled the
    transaction back) is a conflict with a request at the same moment (409); anything else
    here is the database being out of reach (503)."""
    sqlstate = str(getattr(getattr(error, "orig", None), "sqlstate", "") or "")
    if sqlstate.startswith("40"):
        return 409, {"code": "conflict", "message": DATABASE_CONFLICT, "fields": []}
    return 503, {"code": "database_unavailable", "message": DATABASE_UNAVAILABLE,
                 "fields": []}


def sentence(text: str) -> str:
    """An error message as the answer gives it: starting with a capital."""
    return text[:1].upper() + text[1:]


def _message(error: Exception) -> str:
    if isinstance(error, ModelError):
        return f"The model has {len(error.problems)} problem(s); see fields"
    return sentence(str(error)) or type(error).__name__
