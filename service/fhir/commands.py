"""`carepath fhir export --episode N` and `carepath fhir import FILE --clinic N`: the FHIR
routes' work for the host's operator, who holds the database already. The command line acts
as a clinician of the episode's (or the named) clinic, so the access rules and the referral
are the routes' own; no login stands behind it, so no access-log row is written (as for
`carepath audit export`). Problems: one line on stderr, and exit status 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pathways.clock import SystemClock
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import InvalidRequestError, NotFoundError, ServiceError
from service.core.tables import Clinic, Episode, User
from service.fhir import service as fhir
from service.models.registry import EngineRegistry

MAX_FILE_BYTES = 1_000_000
"""The largest Bundle file read (the API's body limit, CAREPATH_MAX_BODY_BYTES, by default)."""


def _operator(session: Session, clinic_id: int) -> Context:
    """A context acting as a clinic lead of the clinic (see the module's docstring)."""
    clock = SystemClock()
    operator = User(username="carepath command line", password_hash="", role="clinic_lead",
                    clinic_id=clinic_id)
    return Context(session, clock, EngineRegistry(clock), user=operator)


def export_command(db: Engine, episode_id: int) -> int:
    """Print the episode's FHIR Bundle (JSON) on standard output."""
    try:
        with transaction(db, write=False) as session:
            episode = session.get(Episode, episode_id)
            if episode is None:
                raise NotFoundError(f"there is no episode {episode_id}")
            bundle = fhir.episode_bundle(_operator(session, episode.clinic_id), episode_id)
    except ServiceError as err:
        return _fail(one_line(err))
    except sa.exc.SQLAlchemyError as err:
        return _fail(f"the export failed: {err}".splitlines()[0])
    print(json.dumps(bundle, indent=2, ensure_ascii=False))
    return 0


def import_command(db: Engine, path: Path, clinic_id: int) -> int:
    """Refer the patient of a referral Bundle file to the clinic; prints the new episode."""
    try:
        with path.open("rb") as file:
            body = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return _fail(f"cannot read {path}: {err.strerror or err}")
    if len(body) > MAX_FILE_BYTES:
        return _fail(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        fhir.read_referral(body)  # every problem, before the database is touched
        with transaction(db, write=True) as session:
            if session.get(Clinic, clinic_id) is None:
                raise NotFoundError(f"there is no clinic {clinic_id}")
            ctx = _operator(session, clinic_id)
            episode = fhir.import_referral(ctx, body)
            patient_id, episode_id = episode.patient_id, episode.id
    except ServiceError as err:
        return _fail(one_line(err))
    except sa.exc.SQLAlchemyError as err:
        return _fail(f"the import failed: {err}".splitlines()[0])
    print(f"referred patient {patient_id}: episode {episode_id}")
    return 0


def one_line(err: ServiceError) -> str:
    """The error and, for a bad Bundle, each problem: `path: what to fix`, on one line."""
    fields = err.fields if isinstance(err, InvalidRequestError) else []
    details = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return f"{err}: {details}" if details else str(err)


def _fail(message: str) -> int:
    print(f"carepath fhir: {message}", file=sys.stderr)
    return 1

