"""Domain events: what happened in an episode, named subject_past_verb, with what auditors need.

The engine produces them; the service appends them to its log with who did it. Most events
are declared in the model (`event:NAME` properties, see `pathways.properties`); the engine
adds `episode_started`, `task_completed`, `timer_fired` and `episode_completed` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    name: str
    at: str
    """ISO 8601 time (the injected clock)."""
    element: str | None = None
    """The BPMN element id that produced it, if any."""
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "at": self.at, "element": self.element,
                "actor": self.actor, "data": self.data}
