"""Referrals, episodes, timelines, questionnaires, exercise logs, education, the
self-management plan written at discharge."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import select

from service.care import views
from service.care.api_tasks import completion_public
from service.care.schemas import (
    ClinicPublic,
    CompletionPublic,
    EducationConfirm,
    EducationPublic,
    EpisodePublic,
    EpisodesPublic,
    EventsPublic,
    ExerciseLogCreate,
    ExerciseLogPublic,
    QuestionnairePublic,
)
from service.core.context import Context
from service.core.deps import CallDep, SlowCallDep, client_address
from service.core.openapi import PUBLIC, RATE_LIMITED
from service.core.schemas import Id, Limit, Offset
from service.core.tables import Clinic
from service.patients import self_management
from service.people import service as people
from service.people.schemas import (
    PatientLoginPublic,
    PatientPassword,
    ReferralCreate,
    SelfReferralCreate,
)

router = APIRouter(prefix="/api", tags=["episodes"])


@router.get("/clinics", response_model=list[ClinicPublic], openapi_extra=PUBLIC)
async def clinics(call: CallDep) -> list[ClinicPublic]:
    """Public: the clinics a patient can self-refer to."""
    def work(ctx: Context) -> list[ClinicPublic]:
        return [ClinicPublic(id=c.id or 0, name=c.name)
                for c in ctx.session.exec(select(Clinic).order_by(Clinic.name)).all()]

    return await call(work)


@router.post("/referrals", response_model=EpisodePublic, status_code=201)
async def refer(body: ReferralCreate, call: SlowCallDep) -> EpisodePublic:
    return await call(lambda ctx: views.episode_public(ctx, people.refer(ctx, body)))


@router.post("/self-referrals", response_model=EpisodePublic, status_code=201,
             openapi_extra=PUBLIC, responses=RATE_LIMITED)
async def self_refer(body: SelfReferralCreate, request: Request,
                     call: SlowCallDep) -> EpisodePublic:
    """Public: anyone may refer themselves; each client address a limited number of times
    per window (CAREPATH_SELF_REFERRALS_PER_WINDOW)."""
    settings = request.app.state.settings
    limit = people.SelfReferralLimit(client_address(request), settings.self_referrals_per_window,
                                     settings.self_referral_window_seconds)
    return await call(lambda ctx: views.episode_public(ctx, people.self_refer(ctx, body, limit)))


@router.get("/episodes", response_model=EpisodesPublic)
async def episodes(call: CallDep, status: str | None = None, limit: Limit = 100,
                   offset: Offset = 0) -> EpisodesPublic:
    def work(ctx: Context) -> EpisodesPublic:
        data, count = views.episodes(ctx, status, limit, offset)
        return EpisodesPublic(data=data, count=count)

    return await call(work)


@router.get("/episodes/{episode_id}", response_model=EpisodePublic)
async def episode(episode_id: Id, call: CallDep) -> EpisodePublic:
    return await call(lambda ctx: views.episode_public(ctx, views.episode_row(ctx, episode_id)))


@router.get("/episodes/{episode_id}/timeline", response_model=EventsPublic)
async def timeline(episode_id: Id, call: CallDep) -> EventsPublic:
    def work(ctx: Context) -> EventsPublic:
        events = views.timeline(ctx, episode_id)
        return EventsPublic(data=events, count=len(events))

    return await call(work)


@router.get("/episodes/{episode_id}/questionnaires", response_model=list[QuestionnairePublic])
async def questionnaires(episode_id: Id, call: CallDep) -> list[QuestionnairePublic]:
    return await call(lambda ctx: views.questionnaires(ctx, episode_id))


@router.get("/episodes/{episode_id}/self-management-plan",
            response_model=self_management.SelfManagementPlan)
async def self_management_plan(episode_id: Id,
                               call: CallDep) -> self_management.SelfManagementPlan:
    """The plan the physiotherapist wrote for the patient at discharge, in plain words
    (`text` is null until then): for the patient and the clinicians of their clinic."""
    return await call(lambda ctx: self_management.episode_plan(ctx, episode_id))


@router.get("/episodes/{episode_id}/exercise-logs", response_model=list[ExerciseLogPublic])
async def exercise_logs(episode_id: Id, call: CallDep) -> list[ExerciseLogPublic]:
    return await call(lambda ctx: people.exercise_logs(ctx, episode_id))


@router.post("/episodes/{episode_id}/exercise-logs", response_model=ExerciseLogPublic,
             status_code=201)
async def log_exercise(episode_id: Id, body: ExerciseLogCreate,
                       call: CallDep) -> ExerciseLogPublic:
    def work(ctx: Context) -> ExerciseLogPublic:
        log = people.add_exercise_log(ctx, episode_id, body)
        return ExerciseLogPublic(id=log.id or 0, exercise=log.exercise, level=log.level,
                                 pain_nrs=log.pain_nrs, difficulty=body.difficulty,
                                 logged_at=log.logged_at)

    return await call(work)


@router.get("/episodes/{episode_id}/education", response_model=EducationPublic)
async def education(episode_id: Id, call: CallDep) -> EducationPublic:
    return await call(lambda ctx: people.education(ctx, episode_id))


@router.post("/episodes/{episode_id}/education/{module}/confirm",
             response_model=CompletionPublic)
async def confirm_read(episode_id: Id, module: str, body: EducationConfirm,
                       call: CallDep) -> CompletionPublic:
    return await call(lambda ctx: completion_public(
        ctx, people.confirm_education(ctx, episode_id, module, body)))


@router.post("/episodes/{episode_id}/patient-password", response_model=PatientLoginPublic)
async def reset_patient_password(episode_id: Id, body: PatientPassword,
                                 call: SlowCallDep) -> PatientLoginPublic:
    """A clinician of the patient's clinic gives the patient's login a new password (they
    have forgotten theirs); every login the patient has ends, and the episode's event log
    says who did it. Answers the login's username, to give to the patient with the
    password."""
    return await call(lambda ctx: PatientLoginPublic(
        username=people.reset_patient_password(ctx, episode_id, body.password).username))
