"""What-if simulation: a cohort of patients run through a model on a simulated clock, in
memory, each task answered from the patient's answer script; per model, the workload it makes
(tasks per week by role), time to discharge, escalations and the adherence indicators.

Nothing here touches a database: the service hands in the model's files and the answer
scripts (the answers finished episodes gave, or synthetic patients drawn from them). Patients
run in worker processes (`run_cohort`), each worker loading the models once; a patient is a
fresh instance on the worker's one engine, its clock set back to the cohort's start.

Time in a simulated episode: every patient is referred at `SimulationSettings.start`. A
patient's own task is done the moment it is ready; a clinician's task `clinician_delay` later
(the clinic's reaction time). The clock then jumps to the next timer or the next task due to
be done, until the horizon (`weeks` after the referral). A task counts in the week it became
ready (week 1 is the first seven days).
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .adherence import INDICATORS, judge
from .adherence_records import AdherenceSettings, EpisodeEvent, EpisodeRecord
from .cases import expand_steps, load_cases
from .clock import ManualClock
from .education import default_catalogue
from .engine import PathwayEngine
from .errors import PathwayError
from .instruments import score_start_back
from .models import load_bundle

START_DATA: Mapping[str, Any] = {"referral": {"source": "self"}}
"""How every simulated episode starts (a self-referral, as `carepath simulate` starts one)."""
ESCALATION_EVENTS = frozenset({"episode_escalated"})
DISCHARGE_EVENTS = frozenset({"episode_discharged"})
CHUNK = 25
"""Patients per unit of work handed to a worker (progress moves by this much)."""
IN_PROCESS_UP_TO = 100
"""Runs of this many patients (over every model) or fewer stay in the calling process:
starting worker processes would take longer than the run."""


class SimulationCancelled(Exception):  # noqa: N818 - a signal, not a failure
    """The caller asked the run to stop; nothing of it is kept."""


@dataclass(frozen=True)
class AnswerScript:
    """One patient's answers: for each task (BPMN id), its answers in the order given; a task
    asked more often than answered gets the last answer again."""

    answers: Mapping[str, Sequence[Mapping[str, Any]]]
    stratum: str | None = None
    """The risk stratum the patient was given (None: not stratified, e.g. left for a red flag)."""


@dataclass(frozen=True)
class SimulationSettings:
    weeks: int = 16
    """The horizon: long enough for the reference pathway's 12-week follow-up and discharge."""
    clinician_delay: timedelta = timedelta(days=1)
    start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class PatientOutcome:
    """What one simulated patient did (small: it crosses between processes)."""

    tasks: tuple[tuple[str, str, int], ...]
    """(role, task name, week index from 0) of every task that became ready."""
    stratum: str | None
    days_to_discharge: float | None
    escalated: bool
    verdicts: tuple[bool | None, ...]
    """One per `adherence.INDICATORS`, as of the horizon."""
    problem: str | None = None
    """Why the patient stopped early (a task the script cannot answer, a failed step)."""


@dataclass(frozen=True)
class IndicatorRate:
    id: int
    name: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Forecast:
    """One model's predicted numbers over the cohort."""

    patients: int
    weeks: int
    by_role: dict[str, tuple[int, ...]]
    """Tasks that became ready per week (index 0 = week 1), by role."""
    by_task: dict[str, tuple[int, ...]]
    """The same, by task (BPMN id)."""
    roles: dict[str, str]
    """Each task's role."""
    discharged: int
    median_days_to_discharge: float | None
    escalations: int
    strata: dict[str, int]
    indicators: tuple[IndicatorRate, ...]
    problems: dict[str, int] = field(default_factory=dict)
    """Why patients stopped early, with how many did."""
    cpu_seconds: float = 0.0
    """CPU time the simulation of this model took, over every worker."""

    def total(self, role: str) -> int:
        return sum(self.by_role.get(role, ()))


# -- one patient


def simulate_patient(engine: PathwayEngine, clock: ManualClock, script: AnswerScript,
                     fallback: Mapping[str, Mapping[str, Any]],
                     settings: SimulationSettings) -> PatientOutcome:
    """Run one patient on `engine` (whose clock is `clock`) up to the horizon."""
    clock.set(settings.start)
    horizon = settings.start + timedelta(weeks=settings.weeks)
    given: Counter[str] = Counter()
    seen: dict[str, tuple[str, str, int]] = {}
    events: list[EpisodeEvent] = []
    problem: str | None = None

    def log(found: Sequence[Any]) -> None:
        events.extend(EpisodeEvent(e.name, datetime.fromisoformat(e.at), e.data)
                      for e in found)

    try:
        instance = engine.start(START_DATA)
        log(instance.take_events())
        while not instance.is_completed:
            now = clock.now()
            ready = instance.ready_tasks()
            pending: list[datetime] = []
            for task in ready:
                ready_at = task.ready_at or now
                if task.id not in seen:
                    week = int((ready_at - settings.start) / timedelta(weeks=1))
                    seen[task.id] = (task.role or "unassigned", task.name, week)
                pending.append(ready_at + (timedelta(0) if task.role == "patient"
                                           else settings.clinician_delay))
            due = [t for t, at in zip(ready, pending, strict=True) if at <= now]
            if due:
                task = due[0]
                answer = _answer(task.name, task.education_module, script, fallback, given)
                if answer is None:
                    problem = f"no answer for {task.name}"
                    break
                log(instance.complete_task(task.id, answer, actor=task.role))
                continue
            wake = instance.next_wake_at()
            moments = [m for m in (*pending, wake) if m is not None]
            if not moments or min(moments) >= horizon:
                break
            clock.set(max(now, min(moments)))
            log(instance.fire_due_timers())
    except PathwayError as err:
        problem = f"{type(err).__name__}: {str(err)[:120]}"
    record = EpisodeRecord(settings.start, _stratum(events), events,
                           AdherenceSettings.of_model(engine.model.settings))
    verdicts = tuple(f.verdict for f in judge(record, min(clock.now(), horizon)).findings)
    discharged = next((e.at for e in events if e.name in DISCHARGE_EVENTS), None)
    return PatientOutcome(
        tuple(seen.values()), record.stratum,
        (discharged - settings.start) / timedelta(days=1) if discharged else None,
        any(e.name in ESCALATION_EVENTS for e in events), verdicts, problem)


def _answer(name: str, module: str | None, script: AnswerScript,
            fallback: Mapping[str, Mapping[str, Any]],
            given: Counter[str]) -> Mapping[str, Any] | None:
    if module:
        found = default_catalogue().get(module)
        return {"answers": [q.answer for q in found.check_questions], "confirmed_read": True}
    answers = script.answers.get(name)
    if answers:
        index = min(given[name], len(answers) - 1)
        given[name] += 1
        return answers[index]
    return fallback.get(name)


def _stratum(events: Sequence[EpisodeEvent]) -> str | None:
    for event in events:
        if event.name == "risk_stratified":
            value = event.data.get("stratum")
            return value if isinstance(value, str) else None
    return None


# -- cohorts


def scripts_from_cases(bundle: Path) -> list[AnswerScript]:
    """One script per case of the bundle's `cases.yaml` (the answers its authors wrote): the
    pool to draw synthetic patients from where no episode has finished yet."""
    scripts = []
    for case in load_cases(bundle):
        answers: dict[str, list[Mapping[str, Any]]] = {}
        for step in expand_steps(case["steps"]):
            if "complete" in step:
                answers.setdefault(step["complete"], []).append(step.get("with") or {})
        intake = answers.get("intake_questionnaires")
        stratum = (score_start_back(intake[0]["start_back"]).stratum
                   if intake and "start_back" in intake[0] else None)
        scripts.append(AnswerScript(answers, stratum))
    return scripts


def fallback_answers(scripts: Sequence[AnswerScript]) -> dict[str, Mapping[str, Any]]:
    """The first answer any script gives each task: for a task a patient's own script never
    answered (a step the other model adds)."""
    found: dict[str, Mapping[str, Any]] = {}
    for script in scripts:
        for name, answers in script.answers.items():
            if answers and name not in found:
                found[name] = answers[0]
    return found


def synthetic_cohort(pool: Sequence[AnswerScript], patients: int,
                     seed: int = 2026) -> list[AnswerScript]:
    """`patients` made-up patients drawn from the pool's own mix: a stratum as often as the
    pool has it, then each task's answers from a pool patient of that stratum, chosen at
    random per task (a seeded generator: the same seed gives the same cohort)."""
    if not pool:
        raise ValueError("a synthetic cohort needs at least one patient's answers to draw from")
    rng = random.Random(seed)
    by_stratum: dict[str | None, list[AnswerScript]] = {}
    for script in pool:
        by_stratum.setdefault(script.stratum, []).append(script)
    strata = [script.stratum for script in pool]
    cohort = []
    for _ in range(patients):
        stratum = rng.choice(strata)
        donors = by_stratum[stratum]
        names = sorted({name for donor in donors for name in donor.answers})
        answers = {}
        for name in names:
            having = [d for d in donors if d.answers.get(name)]
            answers[name] = rng.choice(having).answers[name]
        cohort.append(AnswerScript(answers, stratum))
    return cohort


# -- many patients, on every core


_worker: dict[str, tuple[PathwayEngine, ManualClock]] = {}


def _load_models(bundles: Mapping[str, Mapping[str, bytes]]) -> None:
    """Worker start: one engine per model, each on its own simulated clock."""
    for key, files in bundles.items():
        clock = ManualClock()
        _worker[key] = (PathwayEngine(load_bundle(files, lint=False), clock, rollback=False),
                        clock)


Chunk = tuple[str, list[PatientOutcome], float]
"""A model's key, its outcomes for a chunk of patients, and the CPU seconds they took."""


def _run_chunk(key: str, scripts: Sequence[AnswerScript],
               fallback: Mapping[str, Mapping[str, Any]],
               settings: SimulationSettings) -> Chunk:
    engine, clock = _worker[key]
    began = time.process_time()
    found = [simulate_patient(engine, clock, s, fallback, settings) for s in scripts]
    return key, found, time.process_time() - began


Progress = Callable[[int, int], None]
"""Called with (patients done, patients to do) over every model together."""


def run_cohort(bundles: Mapping[str, Mapping[str, bytes]], scripts: Sequence[AnswerScript],
               settings: SimulationSettings | None = None, workers: int | None = None,
               progress: Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Forecast]:
    """Every script through every model (files by key); a forecast per key.

    `workers` processes (default: one per core; 0, or a run of at most `IN_PROCESS_UP_TO`
    patients, runs here, in this process). Raises
    `SimulationCancelled` soon after `cancel` is set, stopping the workers."""
    settings = settings or SimulationSettings()
    fallback = fallback_answers(scripts)
    chunks = [(key, scripts[i:i + CHUNK]) for key in bundles
              for i in range(0, len(scripts), CHUNK)]
    total = len(scripts) * len(bundles)
    outcomes: dict[str, list[PatientOutcome]] = {key: [] for key in bundles}
    cpu = dict.fromkeys(bundles, 0.0)
    done = 0

    def collect(found: Iterator[Chunk]) -> None:
        nonlocal done
        for key, results, seconds in found:
            outcomes[key] += results
            cpu[key] += seconds
            done += len(results)
            if progress:
                progress(done, total)
            if cancel is not None and cancel.is_set():
                raise SimulationCancelled()

    count = multiprocessing.cpu_count() if workers is None else workers
    if count <= 0 or total <= IN_PROCESS_UP_TO:
        _load_models(bundles)
        collect(_run_chunk(key, part, fallback, settings) for key, part in chunks)
    else:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(min(count, len(chunks)), mp_context=context,
                                   initializer=_load_models, initargs=(dict(bundles),))
        try:
            futures = [pool.submit(_run_chunk, key, part, fallback, settings)
                       for key, part in chunks]
            collect(_as_done(futures, cancel))
        finally:
            if cancel is not None and cancel.is_set():
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
    return {key: replace(summarise(found, settings.weeks, _adherence(bundles[key])),
                         cpu_seconds=cpu[key]) for key, found in outcomes.items()}


def _adherence(files: Mapping[str, bytes]) -> AdherenceSettings:
    try:
        manifest = tomllib.loads(files["pathway.toml"].decode())
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return AdherenceSettings()
    return AdherenceSettings.of_model(manifest.get("settings") or {})


def _as_done(futures: Sequence[Any], cancel: threading.Event | None) -> Iterator[Chunk]:
    waiting = set(futures)
    while waiting:
        finished, waiting = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
        if cancel is not None and cancel.is_set():
            raise SimulationCancelled()
        for future in finished:
            yield future.result()


def summarise(outcomes: Sequence[PatientOutcome], weeks: int,
              adherence: AdherenceSettings | None = None) -> Forecast:
    """The cohort's numbers for one model; `adherence` words the indicators' names."""
    numbers = {k: ", ".join(map(str, v)) if isinstance(v, tuple) else str(v)
               for k, v in asdict(adherence or AdherenceSettings()).items()}
    by_role: dict[str, list[int]] = {}
    by_task: dict[str, list[int]] = {}
    roles: dict[str, str] = {}
    met = [0] * len(INDICATORS)
    counted = [0] * len(INDICATORS)
    for outcome in outcomes:
        for role, name, week in outcome.tasks:
            if 0 <= week < weeks:
                by_role.setdefault(role, [0] * weeks)[week] += 1
                by_task.setdefault(name, [0] * weeks)[week] += 1
                roles[name] = role
        for place, verdict in enumerate(outcome.verdicts):
            if verdict is not None:
                counted[place] += 1
                met[place] += verdict
    days = [o.days_to_discharge for o in outcomes if o.days_to_discharge is not None]
    strata = Counter(o.stratum or "not stratified" for o in outcomes)
    problems = Counter(o.problem for o in outcomes if o.problem)
    return Forecast(
        len(outcomes), weeks, {k: tuple(v) for k, v in sorted(by_role.items())},
        {k: tuple(v) for k, v in sorted(by_task.items())}, roles, len(days),
        statistics.median(days) if days else None,
        sum(o.escalated for o in outcomes), dict(sorted(strata.items())),
        tuple(IndicatorRate(i.id, i.name.format(**numbers), met[p], counted[p])
              for p, i in enumerate(INDICATORS) if i.available),
        dict(problems))
