"""Shared fixtures: the reference model is parsed once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathways.models import PathwayModel, load_bundle_dir

ROOT = Path(__file__).resolve().parent.parent
BETTERBACK_DIR = ROOT / "bpmn" / "betterback"


@pytest.fixture(scope="session")
def betterback() -> PathwayModel:
    return load_bundle_dir(BETTERBACK_DIR)
