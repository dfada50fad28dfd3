"""FHIR's service functions: an episode's record as a Bundle (clinicians of its clinic, logged
as opening the record) and a referral Bundle made into a patient and an episode (through
the referral API's own service function, `people.refer`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from service.care import views
from service.care.steps import pathway_steps
from service.core import access
from service.core.context import Context
from service.core.errors import InvalidRequestError
from service.core.tables import (
    Episode,
    ModelVersion,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
    TaskSubmission,
    User,
)
from service.fhir import mapping
from service.people import service as people
from service.people.schemas import ReferralCreate


def episode_bundle(ctx: Context, episode_id: int) -> dict[str, Any]:
    """The episode's record as a FHIR R4 Bundle, for a clinician of its clinic (a patient
    reads their record on their own pages). Opening it is logged as opening the record."""
    access.require_role(ctx.user, *access.CLINICIANS)
    episode = views.episode_row(ctx, episode_id)
    return mapping.episode_bundle(episode_record(ctx, episode), ctx.now)


def episode_record(ctx: Context, episode: Episode) -> mapping.EpisodeRecord:
    """What the Bundle says about the episode: its patient, pathway steps, the clinicians'
    tasks (open and done) and the questionnaires. No access check (see episode_bundle)."""
    patient = ctx.session.get(Patient, episode.patient_id)
    version = ctx.session.get(ModelVersion, episode.model_version_id)
    assert patient is not None and version is not None  # foreign keys
    steps = pathway_steps(ctx, episode)
    roles = {step.element: step.role for step in steps}
    titles = {step.element: step.name for step in steps}
    open_tasks = ctx.session.exec(select(ReadyTask).where(
        ReadyTask.episode_id == episode.id, col(ReadyTask.role).in_(access.CLINICIANS))
        .order_by(col(ReadyTask.ready_at), col(ReadyTask.task_id))).all()
    done_tasks = [done for done in ctx.session.exec(select(TaskSubmission).where(
        TaskSubmission.episode_id == episode.id)
        .order_by(col(TaskSubmission.submitted_at), col(TaskSubmission.task_id))).all()
        if roles.get(done.name) in access.CLINICIANS]
    people_ids = {t.claimed_by for t in open_tasks} | {t.submitted_by for t in done_tasks}
    names = _people(ctx, {i for i in people_ids if i is not None})
    tasks = [mapping.TaskFacts(
        task.task_id, task.name, task.title, task.role,
        "in-progress" if task.claimed_by else "ready", names.get(task.claimed_by or 0),
        task.ready_at, task.due_at, None) for task in open_tasks]
    tasks += [mapping.TaskFacts(
        done.task_id, done.name, titles.get(done.name, done.name), roles.get(done.name),
        "completed", names.get(done.submitted_by or 0), None, None, done.submitted_at)
        for done in done_tasks]
    questionnaires = ctx.session.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.episode_id == episode.id)
        .order_by(col(QuestionnaireResponse.id))).all()
    return mapping.EpisodeRecord(
        mapping.PatientFacts(patient.id or 0, patient.display_name, patient.birth_year),
        mapping.EpisodeFacts(episode.id or 0, episode.status, version.name,
                             episode.started_at, episode.ended_at),
        steps, tuple(tasks),
        tuple(mapping.QuestionnaireFacts(q.task_id, q.kind, q.answers or {}, q.scores or {},
                                         q.submitted_at) for q in questionnaires))


def _people(ctx: Context, ids: set[int]) -> dict[int, mapping.Person]:
    if not ids:
        return {}
    users = ctx.session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id or 0: mapping.Person(u.id or 0, u.full_name or u.username) for u in users}


def import_referral(ctx: Context, body: bytes) -> Episode:
    """A physiotherapist or clinic lead refers a patient with a FHIR Bundle (a Patient and a
    ServiceRequest for them) to their own clinic, as `POST /api/referrals` does: the
    patient and the episode are made by the same function (`people.refer`). The clinic is
    the caller's; the ServiceRequest's performer is not read (a clinician refers only to
    their own clinic). A Bundle with problems is refused naming each, and nothing is made."""
    access.require_role(ctx.user, "physiotherapist", "clinic_lead")
    referral = read_referral(body)
    return people.refer(ctx, ReferralCreate(display_name=referral.display_name,
                                            birth_year=referral.birth_year))


def read_referral(body: bytes) -> mapping.Referral:
    """The referral a Bundle asks for; InvalidRequestError listing every problem, each named
    by its FHIR path (`entry[0].resource.name`)."""
    try:
        return mapping.referral_from_json(body)
    except mapping.BundleProblems as err:
        raise InvalidRequestError(
            f"the bundle has {len(err.problems)} problem(s); nothing was created",
            [{"field": path or "body", "message": message}
             for path, message in err.problems]) from None
