"""The patient's questionnaire pages: the open task with its form, and the answers saved so
far (drafts) while the patient steps through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pathways.errors import TaskNotReadyError
from service.care import views
from service.care.schemas import TaskPublic
from service.core import access
from service.core.context import Context
from service.core.tables import Episode, ReadyTask, TaskDraft, TaskSubmission


@dataclass(frozen=True)
class FormTask:
    """A patient's open task with a form, as the questionnaire pages need it."""

    task: TaskPublic
    schema: dict[str, Any]
    episode: Episode


def open_form_task(ctx: Context, task_id: str) -> FormTask:
    """The caller's open patient task; TaskNotReadyError (409) when it was already done, 404
    when it is not theirs or does not exist."""
    access.require_role(ctx.user, "patient")
    if ctx.session.get(ReadyTask, task_id) is None:
        done = ctx.session.get(TaskSubmission, task_id)
        episode = ctx.session.get(Episode, done.episode_id) if done else None
        if episode is not None and access.can_see_episode(access.require_user(ctx.user),
                                                          episode):
            raise TaskNotReadyError(task_id, "COMPLETED")
    task, schema = views.task_detail(ctx, task_id)
    episode = views.episode_row(ctx, task.episode_id)
    return FormTask(task, schema or {}, episode)


def load_draft(ctx: Context, task_id: str) -> dict[str, Any]:
    draft = ctx.session.get(TaskDraft, (task_id, ctx.actor_id))
    return dict(draft.data or {}) if draft else {}


def save_draft(ctx: Context, task_id: str, data: dict[str, Any]) -> None:
    """Keep the answers so far (the whole answer tree, replaced each step)."""
    draft = ctx.session.get(TaskDraft, (task_id, ctx.actor_id))
    if draft is None:
        draft = TaskDraft(task_id=task_id, user_id=ctx.actor_id or 0)
    draft.data = data
    draft.updated_at = ctx.now
    ctx.session.add(draft)


def delete_draft(ctx: Context, task_id: str) -> None:
    draft = ctx.session.get(TaskDraft, (task_id, ctx.actor_id))
    if draft is not None:
        ctx.session.delete(draft)
