"""Bring a database to a usable state: migrate, checkpoint the event log's head, and deploy the
reference pathway if no model version exists yet."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from pathways.clock import Clock
from service.core import checkpoints, migrate
from service.core.db import transaction
from service.core.settings import Settings
from service.core.tables import ModelVersion
from service.models import registry as models_registry


def prepare(db: Engine, settings: Settings, clock: Clock) -> None:
    migrate.upgrade(db)
    # A mark of the log as it stands at every start and upgrade (0009 re-chains it once).
    checkpoints.checkpoint(db, clock.now())
    with transaction(db, write=True) as session:
        if session.exec(select(ModelVersion)).first() is None:
            models_registry.deploy_directory(session, settings.reference_bundle, clock.now())
