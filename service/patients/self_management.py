"""The self-management plan a physiotherapist writes for the patient at discharge, in plain
words, and the patient reads later on their own pages (domain.md section 2.10).

The plan is free text (`"x-task-data": false` in forms/discharge.json): it never enters the
workflow state; the discharge's submission keeps it, and this module reads it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.care import views
from service.core.context import Context
from service.core.tables import TaskSubmission, User

DISCHARGE_FORM = "discharge"
PLAN_FIELD = "self_management_plan"


@dataclass(frozen=True)
class SelfManagementPlan:
    episode_id: int
    text: str | None
    """None until the episode's discharge has been recorded with a plan."""
    written_at: datetime | None = None
    written_by: str | None = None
    """The physiotherapist who wrote it."""


def latest_plan(session: Session, episode_id: int) -> SelfManagementPlan:
    """The plan of the episode's latest discharge (text None when there is none)."""
    rows = session.exec(select(TaskSubmission, User.full_name, User.username)
                        .join(User, col(User.id) == col(TaskSubmission.submitted_by),
                              isouter=True)
                        .where(TaskSubmission.episode_id == episode_id,
                               TaskSubmission.form == DISCHARGE_FORM)
                        .order_by(col(TaskSubmission.submitted_at).desc())).all()
    for submission, full_name, username in rows:
        text = (submission.data or {}).get(PLAN_FIELD)
        if isinstance(text, str) and text.strip():
            return SelfManagementPlan(episode_id, text.strip(), submission.submitted_at,
                                      full_name or username)
    return SelfManagementPlan(episode_id, None)


def episode_plan(ctx: Context, episode_id: int) -> SelfManagementPlan:
    """The plan, for the patient themselves and the clinicians of their clinic."""
    views.episode_row(ctx, episode_id)
    return latest_plan(ctx.session, episode_id)
