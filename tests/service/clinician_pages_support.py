"""Helpers shared by the clinician page tests: reading a node's text, and a patient in week one."""

from __future__ import annotations

from datetime import timedelta

from bs4 import Tag
from fastapi.testclient import TestClient

from .conftest import World, refer, through_first_visit

WEEK = timedelta(days=7)


def text(node: Tag | None) -> str:
    assert node is not None
    return " ".join(node.get_text(" ").split())


def patient_in_week_one(world: World, name: str, username: str, start_back: str,
                        clinician: str = "physio") -> tuple[TestClient, int]:
    """Referred, first visit done, one week of exercise over: the check-in is due."""
    patient, episode_id = refer(world, name, username, clinician)
    through_first_visit(world, patient, start_back, clinician)
    world.clock.advance(WEEK)
    world.sweep()
    return world.client(username), episode_id
