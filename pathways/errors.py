"""Domain errors of the pathway engine. No HTTP codes here: the service maps them in one table."""

from __future__ import annotations

from dataclasses import dataclass


class PathwayError(Exception):
    """Base of every error the engine reports to a caller; the message is a plain sentence."""


class TaskNotFoundError(PathwayError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"there is no task {task_id} in this episode")
        self.task_id = task_id


class TaskNotReadyError(PathwayError):
    """The task exists but cannot be completed now (usually: someone already did it)."""

    def __init__(self, task_id: str, state: str) -> None:
        message = (
            "this task is already done: it was completed before this answer arrived; reload "
            "to see what comes next"
            if state == "COMPLETED"
            else f"this task cannot be completed now (it is {state.lower()})"
        )
        super().__init__(message)
        self.task_id = task_id
        self.state = state


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of submitted form data."""

    field: str
    message: str


class FormValidationError(PathwayError):
    def __init__(self, form: str | None, errors: list[FieldError]) -> None:
        details = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(f"the answers to '{form or 'this task'}' need fixing: {details}")
        self.form = form
        self.errors = errors


class StepFailedError(PathwayError):
    """The model failed while advancing; the instance was rolled back to its saved state."""

    def __init__(self, element: str | None, message: str) -> None:
        where = f" at '{element}'" if element else ""
        super().__init__(f"the pathway could not continue{where}: {message}")
        self.element = element
        self.detail = message


class StateMismatchError(PathwayError):
    """Saved state belongs to another model version (or is not carepath state at all)."""
