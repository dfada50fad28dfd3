"""Response bodies of the auditors' routes: the event log's check, the access log, the
adherence indicators and digital engagement."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


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


class VerifyPublic(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    message: str


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

