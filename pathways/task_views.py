"""What a running instance shows: the tasks people can do now, where it is, its waiting
timers. Plain values, read by the service and the pages (pathways/instance.py makes them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ReadyTask:
    """A task a person can do now."""

    id: str
    name: str
    """BPMN element id, e.g. 'first_visit'."""
    title: str
    role: str | None
    form: str | None
    form_schema: dict[str, Any] | None
    ready_at: datetime | None
    due_at: datetime | None
    education_module: str | None
    alert: str | None
    process: str

    def is_overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class Progress:
    """Where an instance is, as BPMN element ids (for highlighting a diagram)."""

    done: tuple[str, ...]
    """Elements finished in the saved state (a restarted cycle keeps only its latest pass)."""
    current: tuple[str, ...]
    """Elements ready, waiting (timers) or running (call activities, subprocesses)."""


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    name: str
    title: str
    due_at: datetime
