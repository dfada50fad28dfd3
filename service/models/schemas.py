"""Request and response bodies of the managers' routes: model versions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


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

