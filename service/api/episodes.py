"""Referrals, episodes, timelines, questionnaires, exercise logs, education."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import select

from .. import people, views
from ..deps import ContextDep
from ..schemas import (
    ClinicPublic,
    CompletionPublic,
    EducationConfirm,
    EducationPublic,
    EpisodePublic,
    EpisodesPublic,
    EventsPublic,
    ExerciseLogCreate,
    ExerciseLogPublic,
    IdPath,
    Limit,
    Offset,
    QuestionnairePublic,
    ReferralCreate,
    SelfReferralCreate,
)
from ..tables import Clinic
from .tasks import completion_public

router = APIRouter(prefix="/api", tags=["episodes"])


@router.get("/clinics", response_model=list[ClinicPublic])
def clinics(ctx: ContextDep) -> list[ClinicPublic]:
    """Public: the clinics a patient can self-refer to."""
    return [ClinicPublic(id=c.id or 0, name=c.name)
            for c in ctx.session.exec(select(Clinic).order_by(Clinic.name)).all()]


@router.post("/referrals", response_model=EpisodePublic, status_code=201)
def refer(body: ReferralCreate, ctx: ContextDep) -> EpisodePublic:
    return views.episode_public(ctx, people.refer(ctx, body))


@router.post("/self-referrals", response_model=EpisodePublic, status_code=201)
def self_refer(body: SelfReferralCreate, ctx: ContextDep) -> EpisodePublic:
    return views.episode_public(ctx, people.self_refer(ctx, body))


@router.get("/episodes", response_model=EpisodesPublic)
def episodes(ctx: ContextDep, status: str | None = None, limit: Limit = 100,
             offset: Offset = 0) -> EpisodesPublic:
    data, count = views.episodes(ctx, status, limit, offset)
    return EpisodesPublic(data=data, count=count)


@router.get("/episodes/{episode_id}", response_model=EpisodePublic)
def episode(episode_id: IdPath, ctx: ContextDep) -> EpisodePublic:
    return views.episode_public(ctx, views.episode_row(ctx, episode_id))


@router.get("/episodes/{episode_id}/timeline", response_model=EventsPublic)
def timeline(episode_id: IdPath, ctx: ContextDep) -> EventsPublic:
    events = views.timeline(ctx, episode_id)
    return EventsPublic(data=events, count=len(events))


@router.get("/episodes/{episode_id}/questionnaires", response_model=list[QuestionnairePublic])
def questionnaires(episode_id: IdPath, ctx: ContextDep) -> list[QuestionnairePublic]:
    return views.questionnaires(ctx, episode_id)


@router.get("/episodes/{episode_id}/exercise-logs", response_model=list[ExerciseLogPublic])
def exercise_logs(episode_id: IdPath, ctx: ContextDep) -> list[ExerciseLogPublic]:
    return people.exercise_logs(ctx, episode_id)


@router.post("/episodes/{episode_id}/exercise-logs", response_model=ExerciseLogPublic,
             status_code=201)
def log_exercise(episode_id: IdPath, body: ExerciseLogCreate, ctx: ContextDep) -> ExerciseLogPublic:
    log = people.add_exercise_log(ctx, episode_id, body)
    return ExerciseLogPublic(id=log.id or 0, exercise=log.exercise, level=log.level,
                             pain_nrs=log.pain_nrs, difficulty=body.difficulty,
                             logged_at=log.logged_at)


@router.get("/episodes/{episode_id}/education", response_model=EducationPublic)
def education(episode_id: IdPath, ctx: ContextDep) -> EducationPublic:
    return people.education(ctx, episode_id)


@router.post("/episodes/{episode_id}/education/{module}/confirm",
             response_model=CompletionPublic)
def confirm_read(episode_id: IdPath, module: str, body: EducationConfirm,
                 ctx: ContextDep) -> CompletionPublic:
    return completion_public(ctx, people.confirm_education(ctx, episode_id, module, body))
