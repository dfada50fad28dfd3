"""Response bodies of the auditors' routes: the event log's check, the access log, the
adherence indicators and digital engagement."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from service.audit.integrity import Reason


class AccessRecordPublic(BaseModel):
    id: int
    at: datetime
    user_id: int
    username: str
    role: str
    patient_id: int
    episode_id: int
    request: str


class OwnAccessPublic(BaseModel):
    """One opening of a patient's record, as the patient sees it: when, and by whom."""

    at: datetime
    by: str
    role: str


class AccessLogPublic(BaseModel):
    data: list[AccessRecordPublic]
    count: int


class HeadPublic(BaseModel):
    """Where the event log ends: its last event's id and keyed hash, and how many events it
    holds. An auditor who keeps this can later show the log was cut or replaced."""

    last_id: int
    count: int
    hash: str


class CheckpointPublic(HeadPublic):
    at: datetime
    """When the service checkpointed this head (the checkpoint file's line)."""


class VerifyPublic(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    message: str
    reason: Reason | None = None
    """What was done to the first bad event (None if the log is intact)."""
    head: HeadPublic | None = None
    """The end of the events that chained correctly: all of them if ok."""
    checkpoint: CheckpointPublic | None = None
    """The newest checkpoint the log was compared with."""


class StratumTallyPublic(BaseModel):
    stratum: str
    numerator: int
    denominator: int
    rate: float | None


class IndicatorPublic(BaseModel):
    """One guideline-adherence indicator (domain.md section 7) over a group of episodes."""

    id: int
    name: str
    numerator: int
    denominator: int
    rate: float | None
    """numerator / denominator; null when no episode is counted."""
    available: bool
    """false when the pathway's events cannot support it (`note` says what is missing)."""
    note: str
    by_stratum: list[StratumTallyPublic]
    """Only for indicators reported by stratum (11); empty otherwise."""


class ClinicianIndicatorsPublic(BaseModel):
    """The episodes whose first visit this clinician recorded."""

    user_id: int
    name: str
    episodes: int
    indicators: list[IndicatorPublic]


class EngagementMeasurePublic(BaseModel):
    """One of NICE HTE16's engagement measures (pathways.adherence defines each)."""

    id: str
    """active_at_enrolment, first_session, active_at_30_days, active_at_6_months,
    active_at_12_months."""
    name: str
    numerator: int
    denominator: int
    """Episodes for which the measure is due (its day has come)."""
    rate: float | None


class StopReasonPublic(BaseModel):
    reason: str
    """active (not stopped), discharged, completed, left_for_red_flag, disengaged."""
    name: str
    episodes: int


class EngagementPublic(BaseModel):
    """Digital engagement as NICE HTE16 asks, over a clinic's episodes."""

    episodes: int
    measures: list[EngagementMeasurePublic]
    stopped: list[StopReasonPublic]
    """Every reason, in a fixed order, zeros included; the counts add up to `episodes`."""


class ClinicIndicatorsPublic(BaseModel):
    clinic_id: int
    name: str
    episodes: int
    indicators: list[IndicatorPublic]
    engagement: EngagementPublic
    clinicians: list[ClinicianIndicatorsPublic]


class IndicatorsPublic(BaseModel):
    """Adherence indicators for the episodes that started in [start, end], as of `as_of`."""

    start: date
    end: date
    as_of: datetime
    clinics: list[ClinicIndicatorsPublic]



class ExportColumnPublic(BaseModel):
    name: str
    description: str


class ExportDescriptionPublic(BaseModel):
    """One export: where to get it, its media type, and each column (for XES: each
    attribute; for FHIR: each element) with what it means."""

    export: str
    path: str
    media_type: str
    columns: list[ExportColumnPublic]


class DictionaryPublic(BaseModel):
    """The exports' data dictionary, with the rules that hide people and small counts."""

    pseudonymisation: str
    suppression: str
    exports: list[ExportDescriptionPublic]


class DeviationPublic(BaseModel):
    """One way an episode's path departs from its model (docs/api.md, "Conformance")."""

    kind: str
    """missing, unexpected, wrong_order or late."""
    step: str
    """The step's BPMN element id."""
    name: str
    position: int | None
    """Where in the path (1 = first logged step); for a missing step, the logged step it
    should have come before."""
    at: datetime | None
    detail: str


class EpisodeConformancePublic(BaseModel):
    episode_id: int
    status: str
    """conforms, deviates, too_complex (not aligned: the search was too large) or
    unsupported (the model uses an element the check cannot represent)."""
    fits: bool
    """The model allows the path (steps and their order; lateness aside)."""
    completed: bool
    migrated: bool
    path: list[str]
    note: str
    deviations: list[DeviationPublic]


class DeviationCountPublic(BaseModel):
    kind: str
    count: int


class StepDeviationCountPublic(BaseModel):
    step: str
    name: str
    kind: str
    count: int


class ConformancePublic(BaseModel):
    """Conformance of one episode, or of the episodes that started in [start, end]:
    deviations counted by kind and by step; `results` lists the episode asked for, or every
    episode of the period that does not conform."""

    start: date | None
    end: date | None
    as_of: datetime
    episodes: int
    conforming: int
    fitting: int
    too_complex: int
    unsupported: int
    by_kind: list[DeviationCountPublic]
    by_step: list[StepDeviationCountPublic]
    results: list[EpisodeConformancePublic]
