"""FHIR R4 routes: an episode's record as a Bundle, and a referral Bundle taken in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service.care import views
from service.care.schemas import EpisodePublic
from service.core.deps import CallDep
from service.core.schemas import Id
from service.fhir import service as fhir
from service.fhir.schemas import REFERRAL_BUNDLE, FhirBundle

router = APIRouter(prefix="/api", tags=["fhir"])


@router.get("/episodes/{episode_id}/fhir", response_model=FhirBundle)
async def episode_bundle(episode_id: Id, call: CallDep) -> dict[str, Any]:
    """The episode as a FHIR R4 Bundle (collection): Patient, CarePlan (the pathway's steps,
    done, current and upcoming), Task (the clinicians' tasks), QuestionnaireResponse and
    Observation (each score, coded by its instrument). For the clinicians of its clinic;
    logged as opening the record."""
    return await call(lambda ctx: fhir.episode_bundle(ctx, episode_id))


@router.post("/fhir/referrals", response_model=EpisodePublic, status_code=201,
             openapi_extra={"requestBody": REFERRAL_BUNDLE})
async def import_referral(request: Request, call: CallDep) -> EpisodePublic:
    """A referral as a FHIR R4 Bundle (a Patient and a ServiceRequest for them): the patient
    and their episode, in the caller's clinic, as `POST /api/referrals` makes them. A
    Bundle with problems gets 422 naming every one by its FHIR path; nothing is made."""
    body = await request.body()
    return await call(lambda ctx: views.episode_public(ctx, fhir.import_referral(ctx, body)))
