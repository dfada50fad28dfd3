"""An episode's pathway as steps: every task a person does in its model, each done, current
or upcoming from where the engine is (the FHIR CarePlan's activities read them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import select

from service.care.worklist import people_tasks
from service.core.context import Context
from service.core.tables import Episode, Instance

StepState = Literal["done", "current", "upcoming"]


@dataclass(frozen=True)
class PathwayStep:
    element: str
    """The BPMN element's id."""
    name: str
    """Its name, for people."""
    role: str | None
    """Whose task it is (None: an element the engine waits at, such as a timer)."""
    state: StepState


def pathway_steps(ctx: Context, episode: Episode) -> tuple[PathwayStep, ...]:
    """The people's tasks of the episode's model, in the model's order, each done, current or
    upcoming as the saved state says (`PathwayInstance.progress`); then the other elements
    the engine is at now (a timer's wait), as current. A task done in an earlier pass of a
    loop and current again is current. No access check: for callers that read the episode
    through its gate (`views.episode_row`)."""
    engine = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
    row = ctx.session.exec(select(Instance).where(Instance.episode_id == episode.id)).first()
    done: set[str] = set()
    current: tuple[str, ...] = ()
    if row is not None:
        progress = engine.restore(row.state).progress()
        done, current = set(progress.done), progress.current
    names = engine.model.step_names()
    tasks = people_tasks(engine.model)
    steps = [PathwayStep(element, str(names.get(element) or title), role,
                         "current" if element in current else
                         "done" if element in done else "upcoming")
             for element, (title, role) in tasks.items()]
    steps += [PathwayStep(element, str(names[element]), None, "current")
              for element in current if element not in tasks and element in names]
    return tuple(steps)
