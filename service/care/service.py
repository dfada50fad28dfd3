"""Episode service functions: referral, completing and claiming tasks, firing timers.

One call: load the instance -> the domain advances it -> save state, projection and events.
The request's unit of work (deps.Call) commits, or rolls everything back on an error.

Clinician tasks outside the pathway ("call back" about a patient's message: see
service/messages/service.py) are rows of the same ready-task projection, so the worklist
lists, filters, counts, claims and releases them on its indexes as it does every task. They
are not the engine's: their ids carry `repository.CLINICIAN_TASK_PREFIX`, an engine step never
removes them (`repository.sync_ready_tasks`), and completing one takes its row away without
an engine step. Their making and completion are events of the episode's hash-chained log
(`clinician_task_created`, `clinician_task_completed`), and a completion leaves a
submission, so completing it again is refused as for any task done."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from pathways.engine import PathwayEngine
from pathways.errors import TaskNotReadyError
from pathways.events import DomainEvent
from pathways.forms import validate_submission
from pathways.instance import PathwayInstance
from pathways.script_helpers import prom_scores
from pathways.versions import MigrationPlan, plan_migration
from service.care import forms as episode_forms
from service.care import repository
from service.core import access, clinic_time
from service.core.context import Context
from service.core.errors import ConflictError, InvalidRequestError, NotFoundError
from service.core.tables import (
    Episode,
    Instance,
    ModelVersion,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
    TaskSubmission,
)
from service.models.registry import active_version

_STATUS_BY_EVENT = {"episode_discharged": "discharged", "episode_escalated": "escalated"}
_QUESTIONNAIRES = {"intake": "baseline", "follow_up": "follow_up"}


def is_clinician_task(task_id: str) -> bool:
    """A clinician task outside the pathway (a call back made from a message), not a step
    of the episode's model?"""
    return repository.is_clinician_task(task_id)


def record_event(ctx: Context, episode: Episode, name: str,
                 data: dict[str, Any]) -> DomainEvent:
    """Append an event that is the service's, not the pathway's, to the episode's log (who
    was shown what, who gave a new password): by the caller, now, hash-chained like every
    other."""
    event = DomainEvent(name, ctx.now.isoformat(), actor=str(ctx.actor_id), data=data)
    repository.append_events(ctx.session, repository.event_rows(episode, [event], ctx.actor_id))
    return event


def add_clinician_task(ctx: Context, episode: Episode, key: str, name: str, title: str,
                       data: dict[str, Any]) -> ReadyTask:
    """A physiotherapist task outside the pathway (see the module's docstring), due by the
    end of the clinic's day: `key` makes its id (one task per key: a second is refused),
    `data` goes into its `clinician_task_created` event."""
    access.require_role(ctx.user, *access.CLINICIANS)
    task_id = clinician_task_id(key)
    if ctx.session.get(ReadyTask, task_id) is not None or \
            ctx.session.get(TaskSubmission, task_id) is not None:
        raise ConflictError("there is a task for this already; see the worklist")
    task = ReadyTask(task_id=task_id, episode_id=episode.id or 0,
                     patient_id=episode.patient_id, clinic_id=episode.clinic_id,
                     role="physiotherapist", name=name, title=title[:300],
                     stratum=episode.stratum, ready_at=ctx.now,
                     due_at=clinic_time.end_of_day(ctx.now))
    ctx.session.add(task)
    record_event(ctx, episode, "clinician_task_created",
                 {"task_id": task_id, "name": name, **data})
    return task


def clinician_task_id(key: str) -> str:
    """The id of the clinician task made with `key` (add_clinician_task)."""
    return f"{repository.CLINICIAN_TASK_PREFIX}{key}"


def _complete_clinician_task(ctx: Context, task_id: str,
                             answers: dict[str, Any]) -> CompletionResult:
    """Done: the task leaves the worklist, a submission and an event record who did it."""
    task = ctx.session.get(ReadyTask, task_id, with_for_update=True)
    if task is None:
        raise _no_open_task(ctx, ctx.session, task_id)
    episode = _episode(ctx, task.episode_id)
    access.require_task_work(ctx.user, task, episode)
    if answers:
        raise InvalidRequestError("this task has no form: send no data to mark it done",
                                  [{"field": "data", "message": "must be empty"}])
    if not repository.take_ready_task(ctx.session, task_id, ctx.actor_id):
        raise _claimed_by_someone_else()
    repository.record_submission(ctx.session, {
        "task_id": task_id, "episode_id": episode.id, "name": task.name, "form": None,
        "data": {}, "submitted_by": ctx.actor_id, "submitted_at": ctx.now})
    event = record_event(ctx, episode, "clinician_task_completed",
                         {"task_id": task_id, "name": task.name})
    patient = ctx.session.get(Patient, episode.patient_id)
    return CompletionResult(episode.id or 0, [event], [],
                            patient.display_name if patient else "")


@dataclass
class CompletionResult:
    episode_id: int
    events: list[DomainEvent]
    ready: list[ReadyTask]
    """The episode's open tasks after the step."""
    patient_name: str


def start_episode(ctx: Context, patient: Patient, source: str) -> Episode:
    """Create an episode on the active model; its first task is the red-flag screen."""
    version = active_version(ctx.session)
    engine = ctx.engines.engine_for(version)
    episode = Episode(patient_id=patient.id or 0, clinic_id=patient.clinic_id,
                      model_version_id=version.id or 0, referral_source=source,
                      started_at=ctx.now)
    ctx.session.add(episode)
    ctx.session.flush()
    instance = engine.start({"referral": {"source": source}, "episode_id": episode.id},
                            actor=str(ctx.actor_id) if ctx.actor_id else None)
    row = Instance(episode_id=episode.id or 0, state=instance.state_json(), version=1,
                   next_wake_at=instance.next_wake_at(),
                   status="completed" if instance.is_completed else "running")
    ctx.session.add(row)
    _record(ctx, episode, set(), instance, instance.take_events())
    return episode


def complete_task(ctx: Context, task_id: str, answers: dict[str, Any]) -> CompletionResult:
    """Complete a ready task with the caller's answers.

    The engine step runs on a snapshot, outside the write lock; the state is then saved only
    if nobody changed the episode in between (its version). If someone did, the step runs
    again on the saved state, this time holding the lock: then the task may turn out to be
    done already (409), exactly as if the two had queued. A clinician task outside the
    pathway is completed without the engine (see the module's docstring)."""
    if repository.is_clinician_task(task_id):
        return _complete_clinician_task(ctx, task_id, answers)
    with ctx.read() as reader:
        found = _open_task_for_completion(ctx, reader, task_id)
        engine = ctx.engines.engine_by_id(reader, found.episode.model_version_id)
        _check_patients_form(reader, engine, found, task_id, answers)
    step = _Step.run(ctx, engine, found, task_id, answers)
    if not step.save(ctx):
        found = _open_task_for_completion(ctx, ctx.session, task_id, lock=True)
        step = _Step.run(ctx, engine, found, task_id, answers)
        if not step.save(ctx):
            raise ConflictError("someone else changed this episode at the same moment; "
                                "reload and try again")
    task, episode = found.ready[task_id], found.episode
    if not repository.take_ready_task(ctx.session, task_id,
                                      ctx.user.id if ctx.user is not None else None):
        raise _claimed_by_someone_else()
    repository.record_submission(ctx.session, step.submission)
    kind = _QUESTIONNAIRES.get(task.form or "")
    if kind is not None:
        proms = answers.get("proms", {})
        ctx.session.add(QuestionnaireResponse(
            episode_id=episode.id or 0, task_id=task_id,
            kind="registry" if task.name.startswith("registry") else kind,
            answers=answers, scores=prom_scores(proms), submitted_at=ctx.now))
    new = step.record.write(ctx)
    kept = [row for row_id, row in found.ready.items()
            if row_id != task_id and row_id in step.record.current]
    for row in kept:
        row.stratum = episode.stratum
    return CompletionResult(episode.id or 0, step.events, kept + new, found.patient_name)


@dataclass
class _Step:
    """One engine step of an episode, and everything it will write, not yet saved."""

    found: repository.OpenEpisode
    instance: PathwayInstance
    events: list[DomainEvent]
    record: _Record
    submission: dict[str, Any]

    @classmethod
    def run(cls, ctx: Context, engine: PathwayEngine, found: repository.OpenEpisode,
            task_id: str, answers: dict[str, Any]) -> _Step:
        instance = engine.restore(found.state)
        events = instance.complete_task(task_id, answers, actor=str(ctx.actor_id))
        task, episode = found.ready[task_id], found.episode
        record = _Record.of(ctx, episode, set(found.ready) - {task_id}, instance, events)
        submission = {"task_id": task_id, "episode_id": episode.id, "name": task.name,
                      "form": task.form, "data": answers, "submitted_by": ctx.actor_id,
                      "submitted_at": ctx.now}
        return cls(found, instance, events, record, submission)

    def save(self, ctx: Context) -> bool:
        return repository.save_state(ctx.session, self.found.instance_id, self.found.version,
                                     self.instance.state_json(), self.instance.next_wake_at(),
                                     self.instance.is_completed)


def _check_patients_form(session: Session, engine: PathwayEngine,
                         found: repository.OpenEpisode, task_id: str,
                         answers: dict[str, Any]) -> None:
    """Answers must also fit the form as this patient was given it (views.task_detail,
    episode_forms): a follow-up rates exactly the activities named at intake, a check-in names
    only exercises of the programme. The engine checks the model's form."""
    form = found.ready[task_id].form
    schema = engine.model.forms.get(form) if form else None
    given = episode_forms.form_for_episode(session, found.episode.id or 0, schema)
    if given is not schema:
        validate_submission(form, given, answers)


def _open_task_for_completion(ctx: Context, session: Session, task_id: str,
                              lock: bool = False) -> repository.OpenEpisode:
    found = repository.open_episode_of_task(session, task_id, lock=lock)
    if found is None:
        raise _no_open_task(ctx, session, task_id)
    task = found.ready[task_id]
    access.require_task_work(ctx.user, task, found.episode)
    if task.claimed_by is not None and ctx.user is not None and task.claimed_by != ctx.user.id:
        raise _claimed_by_someone_else()
    return found


def _no_open_task(ctx: Context, session: Session, task_id: str) -> Exception:
    """A task that is not open: done already (409), or unknown (404)."""
    done = session.get(TaskSubmission, task_id)
    if done is not None:
        # Only someone who may see the episode learns that the task was done.
        episode = session.get(Episode, done.episode_id)
        if episode is not None:
            access.require_episode(ctx.user, episode)
            return TaskNotReadyError(task_id, "COMPLETED")
    return NotFoundError(f"there is no open task {task_id}")


def _claimed_by_someone_else() -> ConflictError:
    return ConflictError("another clinician has claimed this task; ask them or a clinic lead "
                         "to release it first")


def fire_due_timers(ctx: Context, row: Instance) -> list[DomainEvent]:
    """Advance one instance whose timers are due (the worker's unit of work)."""
    episode = _episode(ctx, row.episode_id)
    engine = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
    instance = engine.restore(row.state)
    before = {task.id for task in instance.ready_tasks()}
    events = instance.fire_due_timers()
    _save(ctx, episode, row, before, instance, events)
    return events


def move_to_version(ctx: Context, episode: Episode, version: ModelVersion,
                    dry_run: bool) -> MigrationPlan:
    """Plan moving a running episode to another version of its model and, unless `dry_run`,
    save it: the new state, the episode's version, its open tasks and the event
    `episode_migrated` (the audit record), all or nothing. A plan that is refused (see
    pathways.versions) changes nothing."""
    row = repository.instance_of(ctx.session, episode.id or 0)
    old = ctx.engines.engine_by_id(ctx.session, episode.model_version_id)
    new = ctx.engines.engine_for(version)
    plan = plan_migration(old, new, row.state)
    if not plan.ok or dry_run or plan.state_json is None:
        return plan
    before = {task.id for task in old.restore(row.state).ready_tasks()}
    instance = new.restore(plan.state_json)
    if not repository.save_instance(ctx.session, row, plan.state_json, plan.next_wake_at,
                                    instance.is_completed):
        raise ConflictError("someone else changed this episode at the same moment; run the "
                            "migration again")
    from_version = episode.model_version_id
    repository.update_episode(ctx.session, episode, {"model_version_id": version.id})
    restarted = [{"step": t.element, "due_at": t.due_after.isoformat() if t.due_after else None}
                 for t in plan.timers if t.restarted]
    event = DomainEvent("episode_migrated", ctx.now.isoformat(), actor=str(ctx.actor_id),
                        data={"from_version": from_version, "to_version": version.id,
                              "timers_restarted": restarted})
    _record(ctx, episode, before, instance, [event, *plan.events])
    return plan


def claim_task(ctx: Context, task_id: str) -> ReadyTask:
    task = _open_task(ctx, task_id)
    if task.claimed_by is not None and task.claimed_by != (ctx.user.id if ctx.user else None):
        raise ConflictError("this task is already claimed by another clinician")
    task.claimed_by = ctx.actor_id
    ctx.session.add(task)
    return task


def release_task(ctx: Context, task_id: str) -> ReadyTask:
    task = _open_task(ctx, task_id)
    is_lead = ctx.user is not None and ctx.user.role == "clinic_lead"
    if task.claimed_by not in (None, ctx.actor_id) and not is_lead:
        raise ConflictError("only the clinician who claimed this task or a clinic lead can "
                            "release it")
    task.claimed_by = None
    ctx.session.add(task)
    return task


def _open_task(ctx: Context, task_id: str) -> ReadyTask:
    # Locked (FOR UPDATE on PostgreSQL; SQLite's write lock does the same): two clinicians
    # claiming at once queue here, and the second sees the first one's claim.
    task = ctx.session.get(ReadyTask, task_id, with_for_update=True)
    if task is None:
        raise _no_open_task(ctx, ctx.session, task_id)
    access.require_task_work(ctx.user, task, _episode(ctx, task.episode_id))
    return task


def _episode(ctx: Context, episode_id: int) -> Episode:
    episode = ctx.session.get(Episode, episode_id)
    if episode is None:
        raise NotFoundError(f"there is no episode {episode_id}")
    return episode


def _save(ctx: Context, episode: Episode, row: Instance, before: set[str],
          instance: PathwayInstance, events: list[DomainEvent]) -> None:
    if not repository.save_instance(ctx.session, row, instance.state_json(),
                                    instance.next_wake_at(), instance.is_completed):
        raise ConflictError("someone else changed this episode at the same moment; reload "
                            "and try again")
    _record(ctx, episode, before, instance, events)


@dataclass
class _Record:
    """What a step writes besides the state (episode status, the ready-task projection, the
    event log), prepared before the transaction's first write: on SQLite the write lock is
    held from that statement to the commit."""

    episode: Episode
    changes: dict[str, Any]
    before: set[str]
    current: list[str]
    new_rows: list[ReadyTask]
    event_rows: list[dict[str, Any]]

    @classmethod
    def of(cls, ctx: Context, episode: Episode, before: set[str], instance: PathwayInstance,
           events: list[DomainEvent]) -> _Record:
        changes: dict[str, Any] = {}
        for event in events:
            if event.name == "risk_stratified":
                changes["stratum"] = event.data.get("stratum")
            status = changes.get("status", episode.status)
            if event.name in _STATUS_BY_EVENT and status == "active":
                changes["status"] = _STATUS_BY_EVENT[event.name]
            if event.name == "episode_completed":
                changes["ended_at"] = ctx.now
                if changes.get("status", episode.status) == "active":
                    changes["status"] = "completed"
        changes = {k: v for k, v in changes.items() if getattr(episode, k) != v}
        tasks = instance.ready_tasks()
        stratum = changes.get("stratum", episode.stratum)
        return cls(episode, changes, before, [task.id for task in tasks],
                   repository.new_ready_rows(episode, stratum, before, tasks),
                   repository.event_rows(episode, events, ctx.actor_id))

    def write(self, ctx: Context) -> list[ReadyTask]:
        """Write it all; returns the projection's new rows."""
        if self.changes:
            repository.update_episode(ctx.session, self.episode, self.changes)
        repository.sync_ready_tasks(ctx.session, self.episode.id or 0, self.before,
                                    self.current, self.new_rows, self.episode.stratum,
                                    stratum_changed="stratum" in self.changes)
        repository.append_events(ctx.session, self.event_rows)
        return self.new_rows


def _record(ctx: Context, episode: Episode, before: set[str], instance: PathwayInstance,
            events: list[DomainEvent]) -> list[ReadyTask]:
    return _Record.of(ctx, episode, before, instance, events).write(ctx)
