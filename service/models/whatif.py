"""What-if before deploy: a draft (or another version) next to the deployed version, over a
cohort run on a simulated clock (pathways.simulate). Read here: the two models' files and the
cohort's answers (finished episodes' submissions, or the pool synthetic patients are drawn
from); nothing is written, to episodes or anywhere else.

A run is a background job of this process (`JOBS`): started by a request, polled for its
progress, cancellable, its result kept until `KEEP` newer jobs push it out. Jobs live in the
server process that started them: with several server processes (`CAREPATH_WORKERS`) a poll
may reach another process, which does not know the job (404)."""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel import Session, col, func, select

from pathways.content import REFERENCE_BUNDLE
from pathways.models import ModelError, load_bundle
from pathways.simulate import (
    AnswerScript,
    Forecast,
    SimulationCancelled,
    SimulationSettings,
    run_cohort,
    scripts_from_cases,
    synthetic_cohort,
)
from service.care import service as care
from service.core import access
from service.core.context import Context
from service.core.errors import ConflictError, InvalidRequestError, NotFoundError
from service.core.tables import Episode, ModelDraft, ModelVersion, TaskSubmission
from service.models import registry

Cohort = Literal["finished", "synthetic"]
State = Literal["running", "done", "cancelled", "failed"]
DEPLOYED, CANDIDATE = "deployed", "candidate"
POOL_LIMIT = 2000
"""Finished episodes read at most: the latest, for replay or as the synthetic pool."""
MAX_RUNNING = 1
"""Jobs running at once in one server process (each uses every core)."""
KEEP = 20
"""Finished jobs remembered (the oldest forgotten first)."""


@dataclass(frozen=True)
class WhatIfPlan:
    """Everything a run needs, read in the request's transaction."""

    candidate: str
    """In words: "draft 3 (Shorter follow-up)" or "version 2"."""
    deployed: str
    files: dict[str, dict[str, bytes]]
    """DEPLOYED and CANDIDATE -> the model's files."""
    scripts: list[AnswerScript]
    cohort: Cohort
    weeks: int
    source: str
    """Where the answers came from, in words."""


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a measure, its value on each model, the difference."""

    group: str
    measure: str
    deployed: float | None
    candidate: float | None

    @property
    def change(self) -> float | None:
        if self.deployed is None or self.candidate is None:
            return None
        return self.candidate - self.deployed


@dataclass(frozen=True)
class Comparison:
    candidate: str
    deployed: str
    cohort: Cohort
    patients: int
    weeks: int
    source: str
    rows: tuple[Row, ...]
    weekly: dict[str, dict[str, tuple[int, ...]]]
    """Role -> DEPLOYED/CANDIDATE -> tasks per week (for the chart)."""
    tasks: dict[str, dict[str, tuple[int, ...]]]
    """The same by task (BPMN id): where a change moves work."""
    strata: dict[str, dict[str, int]]
    """DEPLOYED/CANDIDATE -> patients by the stratum the model gave them."""
    problems: dict[str, dict[str, int]]
    """DEPLOYED/CANDIDATE -> why patients stopped early, with how many."""


@dataclass
class Job:
    id: str
    plan: WhatIfPlan
    state: State = "running"
    done: int = 0
    total: int = 0
    result: Comparison | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


# -- reading what a run needs


def plan_for_draft(ctx: Context, draft_id: int, cohort: Cohort, patients: int,
                   weeks: int, limit: int) -> WhatIfPlan:
    access.require_role(ctx.user, "manager")
    draft = ctx.session.get(ModelDraft, draft_id)
    if draft is None:
        raise NotFoundError(f"there is no model draft {draft_id}")
    files = {name: text.encode() for name, text in draft.files.items()}
    return _plan(ctx, f"draft {draft_id} ({draft.name})", files, cohort, patients, weeks,
                 limit)


def plan_for_version(ctx: Context, version_id: int, cohort: Cohort, patients: int,
                     weeks: int, limit: int) -> WhatIfPlan:
    access.require_role(ctx.user, "manager")
    version = ctx.session.get(ModelVersion, version_id)
    if version is None:
        raise NotFoundError(f"there is no model version {version_id}")
    files = {name: text.encode() for name, text in version.files.items()}
    return _plan(ctx, f"version {version_id}", files, cohort, patients, weeks, limit)


def plan_for_files(ctx: Context, label: str, files: Mapping[str, bytes], cohort: Cohort,
                   patients: int, weeks: int, limit: int) -> WhatIfPlan:
    """A bundle from elsewhere (the command line's directory) against the deployed one;
    `limit` is the most patients a run may have (settings.whatif_max_patients)."""
    return _plan(ctx, label, dict(files), cohort, patients, weeks, limit)


def _plan(ctx: Context, label: str, files: dict[str, bytes], cohort: Cohort, patients: int,
          weeks: int, limit: int) -> WhatIfPlan:
    if patients > limit:
        raise InvalidRequestError(
            f"at most {limit} patients per run here (CAREPATH_WHATIF_MAX_PATIENTS)",
            [{"field": "patients", "message": f"1 to {limit}"}])
    try:
        load_bundle(files)
    except ModelError as err:
        raise InvalidRequestError(
            f"{label} cannot run: {len(err.problems)} problem(s), the first: "
            f"{err.problems[0]}", [{"field": "model", "message": str(p)}
                                   for p in err.problems[:20]]) from None
    deployed = registry.active_version(ctx.session)
    finished = finished_scripts(ctx.session, POOL_LIMIT)
    if cohort == "finished":
        if not finished:
            raise InvalidRequestError(
                "no episode has finished yet, so there are no real answers to replay; "
                "choose the synthetic cohort",
                [{"field": "cohort", "message": "synthetic, until episodes finish"}])
        scripts = finished[:patients]
        source = f"the answers of the latest {len(scripts)} finished episodes"
    else:
        pool = finished or scripts_from_cases(REFERENCE_BUNDLE)
        scripts = synthetic_cohort(pool, patients)
        source = (f"{patients} synthetic patients drawn from {len(finished)} finished "
                  "episodes' strata and answers" if finished else
                  f"{patients} synthetic patients drawn from the reference pathway's "
                  "cases (no episode has finished yet)")
    return WhatIfPlan(label, f"version {deployed.id} (deployed)", {
        DEPLOYED: {name: text.encode() for name, text in deployed.files.items()},
        CANDIDATE: files}, scripts, cohort, weeks, source)


def finished_count(session: Session) -> int:
    """Finished episodes (whose answers a run can replay)."""
    found: int = session.exec(select(func.count()).select_from(Episode)
                              .where(Episode.status != "active")).one()
    return found


def finished_scripts(session: Session, limit: int) -> list[AnswerScript]:
    """The answers of the latest `limit` finished episodes, each task's in the order given."""
    episodes = session.exec(select(Episode.id, Episode.stratum)
                            .where(Episode.status != "active")
                            .order_by(col(Episode.id).desc()).limit(limit)).all()
    if not episodes:
        return []
    strata = {episode_id or 0: stratum for episode_id, stratum in episodes}
    answers: dict[int, dict[str, list[Mapping[str, Any]]]] = {e: {} for e in strata}
    for episode_id, task_id, name, data in session.exec(
            select(TaskSubmission.episode_id, TaskSubmission.task_id, TaskSubmission.name,
                   TaskSubmission.data)
            .where(col(TaskSubmission.episode_id).in_(list(strata)))
            .order_by(col(TaskSubmission.submitted_at), col(TaskSubmission.task_id))):
        if not care.is_clinician_task(task_id):
            answers[episode_id].setdefault(name, []).append(data or {})
    return [AnswerScript(answers[e], strata[e]) for e in strata if answers[e]]


# -- running


def compare(plan: WhatIfPlan, progress: Any = None,
            cancel: threading.Event | None = None) -> Comparison:
    """Run the plan's cohort through both models (raises SimulationCancelled)."""
    forecasts = run_cohort(plan.files, plan.scripts, SimulationSettings(weeks=plan.weeks),
                           progress=progress, cancel=cancel)
    return comparison(plan, forecasts[DEPLOYED], forecasts[CANDIDATE])


def comparison(plan: WhatIfPlan, old: Forecast, new: Forecast) -> Comparison:
    roles = sorted(set(old.by_role) | set(new.by_role))
    rows: list[Row] = []
    for role in roles:
        rows.append(Row("Tasks, whole run", _role_words(role).capitalize(), old.total(role),
                        new.total(role)))
    for role in roles:
        for week in range(plan.weeks):
            rows.append(Row(f"Tasks per week: {_role_words(role)}", f"Week {week + 1}",
                            _week(old, role, week), _week(new, role, week)))
    rows += [
        Row("Outcomes", "Discharged", old.discharged, new.discharged),
        Row("Outcomes", "Median days to discharge", old.median_days_to_discharge,
            new.median_days_to_discharge),
        Row("Outcomes", "Escalations (left the pathway for a red flag)", old.escalations,
            new.escalations),
    ]
    candidate = {rate.id: rate for rate in new.indicators}
    for rate in old.indicators:
        other = candidate.get(rate.id)
        rows.append(Row("Indicators (%)", f"{rate.id}. {rate.name}", _percent(rate.rate),
                        _percent(other.rate) if other else None))
    weekly = {role: {DEPLOYED: old.by_role.get(role, (0,) * plan.weeks),
                     CANDIDATE: new.by_role.get(role, (0,) * plan.weeks)} for role in roles}
    empty = (0,) * plan.weeks
    tasks = {name: {DEPLOYED: old.by_task.get(name, empty),
                    CANDIDATE: new.by_task.get(name, empty)}
             for name in sorted(set(old.by_task) | set(new.by_task))}
    return Comparison(plan.candidate, plan.deployed, plan.cohort, len(plan.scripts),
                      plan.weeks, plan.source, tuple(rows), weekly, tasks,
                      {DEPLOYED: old.strata, CANDIDATE: new.strata},
                      {DEPLOYED: old.problems, CANDIDATE: new.problems})


def _week(forecast: Forecast, role: str, week: int) -> int:
    weeks = forecast.by_role.get(role)
    return weeks[week] if weeks else 0


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def _role_words(role: str) -> str:
    return role.replace("_", " ")


def comparison_csv(result: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", "measure", result.deployed, result.candidate, "change"])
    for row in result.rows:
        writer.writerow([row.group, row.measure, cell(row.deployed), cell(row.candidate),
                         cell(row.change)])
    for name, pair in result.tasks.items():
        for week, (old, new) in enumerate(zip(pair[DEPLOYED], pair[CANDIDATE], strict=True)):
            writer.writerow([f"task {name}", f"week {week + 1}", old, new, cell(new - old)])
    return out.getvalue()


def cell(value: float | None, signed: bool = False) -> str:
    """A number as the CSV and the command line show it: whole, or to one decimal."""
    if value is None:
        return ""
    text = str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    return f"+{text}" if signed and value > 0 else text


# -- jobs


class Jobs:
    """The what-if runs of this process: each on a thread of its own."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, plan: WhatIfPlan) -> Job:
        with self._lock:
            running = sum(1 for job in self._jobs.values() if job.state == "running")
            if running >= MAX_RUNNING:
                raise ConflictError("another what-if is running; wait for it to finish or "
                                    "cancel it, then start this one")
            job = Job(secrets.token_hex(16), plan,
                      total=len(plan.scripts) * len(plan.files))
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state == "running":
                    break
                self._jobs.pop(oldest)
        threading.Thread(target=self._run, args=(job,), name=f"whatif-{job.id[:8]}",
                         daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            job.result = compare(job.plan, progress, job.cancel)
            job.state = "done"
        except SimulationCancelled:
            job.state = "cancelled"
        except Exception as err:  # noqa: BLE001 - a job's failure is its answer, not a crash
            job.error = f"{type(err).__name__}: {str(err)[:200]}"
            job.state = "failed"

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"there is no what-if run {job_id} here (finished runs are "
                                f"kept for the last {KEEP})")
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel.set()
        return job

    def wait_all(self, seconds: float) -> bool:
        """Wait until no job runs (at most `seconds`); whether none does (for tests)."""
        pause = threading.Event()
        for _ in range(int(seconds * 20)):
            if not any(job.state == "running" for job in list(self._jobs.values())):
                return True
            pause.wait(0.05)
        return False

    def cancel_all(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel.set()


JOBS = Jobs()


def job_for(ctx: Context, job_id: str) -> Job:
    """A job, for a manager."""
    access.require_role(ctx.user, "manager")
    return JOBS.get(job_id)
