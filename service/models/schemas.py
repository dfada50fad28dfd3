"""Request and response bodies of the managers' routes: model versions, drafts, migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from pathways.instruments.scoring import Stratum
from service.core.schemas import Id


class ModelUpload(BaseModel):
    files: dict[str, str] = Field(min_length=1, max_length=200)
    """File name -> text: pathway.toml, *.bpmn, *.dmn, forms/*.json."""
    activate: bool = True


class ModelVersionPublic(BaseModel):
    id: int
    name: str
    process_id: str
    digest: str
    deployed_by: int | None
    deployed_at: datetime
    active: bool



class DraftCreate(BaseModel):
    from_version: Id | None = None
    """The version to copy (the active one when left out)."""
    name: str | None = Field(default=None, min_length=1, max_length=200)


class DraftSummaryPublic(BaseModel):
    id: int
    name: str
    base_version_id: int | None
    updated_by: str
    updated_at: datetime
    deployed_version_id: int | None
    files: int


class DraftPublic(BaseModel):
    id: int
    name: str
    base_version_id: int | None
    deployed_version_id: int | None
    updated_at: datetime
    files: dict[str, str]


class FileText(BaseModel):
    text: str = Field(max_length=1_000_000)


class FileSaved(BaseModel):
    name: str
    saved_at: datetime


class ProblemPublic(BaseModel):
    file: str
    element: str | None
    message: str


class DraftProblems(BaseModel):
    deployable: bool
    problems: list[ProblemPublic]


class MigrationRequest(BaseModel):
    to_version: Id
    episodes: list[Id] = Field(default=[], max_length=5_000)
    """Chosen episodes; when empty, every running episode on another version of the model."""
    step: str | None = Field(default=None, max_length=200)
    """Only episodes at this step (its id: where they wait or have a task)."""
    stratum: Stratum | None = None
    dry_run: bool = True
    """Plan only (the default): nothing is changed."""


class StepAnalyticsPublic(BaseModel):
    element: str
    name: str
    waiting: int
    """Episodes waiting at the step now (an open task, or a timer not yet fired)."""
    completed: int
    median_hours: float | None
    """From the step becoming ready to its completion (see pathways/analytics.py)."""
    p90_hours: float | None


class BranchAnalyticsPublic(BaseModel):
    gateway: str
    gateway_name: str
    target: str
    """The element the flow leads to ("(end)": the end of its process)."""
    target_name: str
    taken: int
    share: float


class StratumOutcomePublic(BaseModel):
    stratum: str
    episodes: int
    followed_up_6w: int
    reached_mcid_6w: int
    mcid_share_6w: float | None
    followed_up_12w: int
    reached_mcid_12w: int
    mcid_share_12w: float | None
    discharged: int
    median_days_to_discharge: float | None
    escalated: int


class ModelAnalyticsPublic(BaseModel):
    version_id: int
    start: date
    end: date
    clinic_id: int | None
    as_of: datetime
    episodes: int
    """Episodes on this version now that started in the period (at the clinic)."""
    migrated: int
    estimated: int
    """Completed steps the model did not allow where they happened (timed from the
    episode's previous step)."""
    steps: list[StepAnalyticsPublic]
    branches: list[BranchAnalyticsPublic]
    outcomes: list[StratumOutcomePublic]


class WhatIfRequest(BaseModel):
    """A what-if run: whose answers, how many patients, how many weeks from each referral."""

    cohort: Literal["finished", "synthetic"] = "synthetic"
    """finished: replay the answers of the latest finished episodes; synthetic: patients
    drawn (seeded) from the clinic's mix of strata and answers."""
    patients: int = Field(default=200, ge=1, le=100_000)
    """At most the server's CAREPATH_WHATIF_MAX_PATIENTS (default 10,000)."""
    weeks: int = Field(default=16, ge=1, le=52)


class WhatIfRowPublic(BaseModel):
    group: str
    measure: str
    deployed: float | None
    candidate: float | None
    change: float | None


class WhatIfResultPublic(BaseModel):
    candidate: str
    deployed: str
    cohort: str
    patients: int
    weeks: int
    source: str
    rows: list[WhatIfRowPublic]
    weekly: dict[str, dict[str, list[int]]]
    """Role -> "deployed"/"candidate" -> tasks that became ready each week."""
    tasks: dict[str, dict[str, list[int]]]
    """The same by task (its BPMN id)."""
    strata: dict[str, dict[str, int]]
    """"deployed"/"candidate" -> patients by the risk stratum each model gave them."""
    problems: dict[str, dict[str, int]]


class WhatIfJobPublic(BaseModel):
    id: str
    state: Literal["running", "done", "cancelled", "failed"]
    done: int
    """Patients simulated so far, over both models."""
    total: int
    candidate: str
    deployed: str
    error: str | None
    result: WhatIfResultPublic | None
