"""The carepath vocabulary of task properties (spiffworkflow:property) and how to read it.

- role: patient / physiotherapist / clinic_lead; who works the task (else: its lane)
- form: a form name; forms/<name>.json validates the submitted data
- due_in: expression giving an ISO 8601 duration; due time counted from when ready
- education_module: expression giving a module id; the module the task shows
- alert: emergency / red_flag / exercise / not_improving / education; a worklist badge
- cycle: true; the continue-as-new anchor of a loop (see PathwayInstance._restart_cycles)
- event:NAME: comma-separated data keys; emit NAME with those keys when the task completes
- event_if:NAME: expression; emit NAME only when it is true
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

TaskRole = Literal["patient", "physiotherapist", "clinic_lead"]
ROLES: tuple[str, ...] = get_args(TaskRole)
TaskAlert = Literal["emergency", "red_flag", "exercise", "not_improving", "education"]
ALERTS: tuple[str, ...] = get_args(TaskAlert)
"""The worklist badges a task may raise; the service words each one."""
KNOWN_PROPERTIES = frozenset(
    {"role", "form", "due_in", "education_module", "alert", "cycle", "event:", "event_if:"}
)
_EXPRESSION_PROPERTIES = ("due_in", "education_module")


@dataclass(frozen=True)
class TaskProperties:
    raw: dict[str, str]

    @classmethod
    def of(cls, spec: Any) -> TaskProperties:
        extensions = getattr(spec, "extensions", None) or {}
        properties = extensions.get("properties") or {}
        return cls(dict(properties))

    @property
    def form(self) -> str | None:
        return self.raw.get("form")

    @property
    def due_in(self) -> str | None:
        return self.raw.get("due_in")

    @property
    def alert(self) -> str | None:
        return self.raw.get("alert")

    @property
    def is_cycle_anchor(self) -> bool:
        return self.raw.get("cycle", "").strip().lower() == "true"

    def role(self, spec: Any) -> str | None:
        """The role for a task: its 'role' property, else its lane (tasks of called
        processes have no lane in SpiffWorkflow, so they need the property)."""
        role = self.raw.get("role") or getattr(spec, "lane", None)
        return role.strip().lower().replace(" ", "_") if role else None

    def events(self) -> dict[str, list[str]]:
        return {
            name.split(":", 1)[1]: [k.strip() for k in value.split(",") if k.strip()]
            for name, value in self.raw.items()
            if name.startswith("event:")
        }

    def event_conditions(self) -> dict[str, str]:
        return {
            name.split(":", 1)[1]: value for name, value in self.raw.items()
            if name.startswith("event_if:")
        }

    def expressions(self) -> dict[str, str]:
        found = {name: self.raw[name] for name in _EXPRESSION_PROPERTIES if name in self.raw}
        found.update({f"event_if:{k}": v for k, v in self.event_conditions().items()})
        return found
