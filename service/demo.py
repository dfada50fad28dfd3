"""Demo data (placeholder until the demo issue part lands)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from .settings import Settings


def load_demo(db: Engine, settings: Settings, patients: int = 40) -> None:
    raise NotImplementedError("the demo loader is not written yet")


def load_demo_if_empty(db: Engine, settings: Settings) -> None:
    raise NotImplementedError("the demo loader is not written yet")
