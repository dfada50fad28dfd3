"""The patient's own PSFS activities: named in their own words at intake, and put back into
every later questionnaire's form so that the same activities are rated again.

A form that asks for the names (`proms.psfs_activities`, the intake) rates them in
`proms.psfs` under the same item ids (PSFS1-PSFS5). A form that only rates (`proms.psfs`:
the follow-ups and registry questionnaires) is given to the patient, page and API alike,
with each item titled by the activity named at intake and required, and the items no
activity was named for left out: a PSFS score compares means over the same activities."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from service.core.tables import QuestionnaireResponse

BASELINE = "baseline"
"""The questionnaire kind of the intake (episodes._QUESTIONNAIRES)."""


def activity_names(answers: Mapping[str, Any] | None) -> dict[str, str]:
    """Item id -> the activity the patient named for it, from a questionnaire's answers."""
    proms = (answers or {}).get("proms")
    named = proms.get("psfs_activities") if isinstance(proms, Mapping) else None
    if not isinstance(named, Mapping):
        return {}
    return {str(item): name.strip() for item, name in named.items()
            if isinstance(name, str) and name.strip()}


def intake_activity_names(session: Session, episode_id: int) -> dict[str, str]:
    """The activities named at the episode's intake ({} before the intake, or for an intake
    from before names were asked)."""
    answers = session.exec(select(QuestionnaireResponse.answers).where(
        QuestionnaireResponse.episode_id == episode_id, QuestionnaireResponse.kind == BASELINE)
        .order_by(col(QuestionnaireResponse.id).desc())).first()
    return activity_names(answers)


def rating_title(name: str) -> str:
    return f"How well can you do: {name}?"


def with_activity_names(schema: Mapping[str, Any], names: Mapping[str, str],
                        rated_only: bool = False) -> dict[str, Any]:
    """A copy of a form whose PSFS items are titled with the patient's activities (and carry
    the name as `x-psfs-activity`). With `rated_only`, only the named items are asked, and
    all of them must be answered."""
    form: dict[str, Any] = copy.deepcopy(dict(schema))
    psfs = _psfs(form)
    if psfs is None or not names:
        return form
    items: dict[str, Any] = psfs.get("properties", {})
    for item, prop in items.items():
        if item in names:
            prop["title"] = rating_title(names[item])
            prop["x-psfs-activity"] = names[item]
    if rated_only:
        psfs["properties"] = {item: prop for item, prop in items.items() if item in names}
        psfs["required"] = list(psfs["properties"])
    return form


def form_for_episode(session: Session, episode_id: int,
                     schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The form as the patient of this episode is given it: a form that rates PSFS without
    asking for the names rates the activities named at intake (the same schema otherwise)."""
    if schema is None or _psfs(schema) is None or asks_for_names(schema):
        return schema
    names = intake_activity_names(session, episode_id)
    return with_activity_names(schema, names, rated_only=True) if names else schema


def asks_for_names(schema: Mapping[str, Any]) -> bool:
    return "psfs_activities" in _proms(schema).get("properties", {})


def _proms(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    proms = schema.get("properties", {}).get("proms")
    return proms if isinstance(proms, Mapping) else {}


def _psfs(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    psfs = _proms(schema).get("properties", {}).get("psfs")
    return psfs if isinstance(psfs, dict) else None
