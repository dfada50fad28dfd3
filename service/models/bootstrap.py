"""Bring a database to a usable state: migrate, and deploy the reference pathway if no model
version exists yet."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from pathways.clock import Clock
from service.core import migrate
from service.core.db import transaction
from service.core.settings import Settings
from service.core.tables import ModelVersion
from service.models import registry as models_registry


def prepare(db: Engine, settings: Settings, clock: Clock) -> None:
    migrate.upgrade(db)
    with transaction(db, write=True) as session:
        if session.exec(select(ModelVersion)).first() is None:
            models_registry.deploy_directory(session, settings.reference_bundle, clock.now())
