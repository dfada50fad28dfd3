"""The task list: filter, claim, release, complete."""

from __future__ import annotations

from fastapi import APIRouter

from service.care import service as episodes
from service.care import views
from service.care.schemas import CompleteTask, CompletionPublic, TaskDetail, TaskPublic, TasksPublic
from service.care.service import CompletionResult
from service.core import access
from service.core.context import Context
from service.core.deps import CallDep
from service.core.schemas import Id, Limit, Offset, RoleQuery
from service.core.tables import Patient, ReadyTask

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("", response_model=TasksPublic)
async def task_list(call: CallDep, due: views.DueFilter | None = None,
                    stratum: views.StratumFilter | None = None,
                    claimed: views.ClaimFilter | None = None,
                    name: str | None = None, episode_id: Id | None = None,
                    role: RoleQuery = None, limit: Limit = 100,
                    offset: Offset = 0) -> TasksPublic:
    def work(ctx: Context) -> TasksPublic:
        data, count, more = views.worklist(ctx, due, stratum, claimed, name, episode_id, limit,
                                           offset, role)
        return TasksPublic(data=data, count=count, count_capped=more)

    return await call(work)


@router.get("/{task_id}", response_model=TaskDetail)
async def task(task_id: str, call: CallDep) -> TaskDetail:
    def work(ctx: Context) -> TaskDetail:
        public, schema = views.task_detail(ctx, task_id)
        return TaskDetail(**public.model_dump(), form_schema=schema)

    return await call(work)


@router.post("/{task_id}/claim", response_model=TaskPublic)
async def claim(task_id: str, call: CallDep) -> TaskPublic:
    return await call(lambda ctx: _public(ctx, episodes.claim_task(ctx, task_id)))


@router.post("/{task_id}/release", response_model=TaskPublic)
async def release(task_id: str, call: CallDep) -> TaskPublic:
    return await call(lambda ctx: _public(ctx, episodes.release_task(ctx, task_id)))


@router.post("/{task_id}/complete", response_model=CompletionPublic)
async def complete(task_id: str, body: CompleteTask, call: CallDep) -> CompletionPublic:
    return await call(lambda ctx: completion_public(
        ctx, episodes.complete_task(ctx, task_id, body.data)))


def _public(ctx: Context, task: ReadyTask) -> TaskPublic:
    patient = ctx.session.get(Patient, task.patient_id)
    return views.task_public(task, patient.display_name if patient else "", ctx.now)


def completion_public(ctx: Context, result: CompletionResult) -> CompletionPublic:
    """The events, and the episode's next tasks that the caller's role works."""
    roles = access.TASK_ROLES_BY_USER_ROLE.get(ctx.user.role if ctx.user else "", set())
    mine = [t for t in result.ready if t.role in roles]
    return CompletionPublic(
        episode_id=result.episode_id, events=[e.name for e in result.events],
        ready=[views.task_public(t, result.patient_name, ctx.now) for t in mine])
