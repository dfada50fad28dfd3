"""Pseudonyms for exports that leave the clinic: each patient, episode and user id replaced
by a keyed hash, and free text withheld from what the event log's data carries.

The same id gives the same pseudonym in every export made with the same key
(`CAREPATH_EXPORT_KEY`), so exports can be joined to each other but not to the clinic's
records; without the key a pseudonym cannot be computed from an id, so guessing small ids
does not work as it would against a plain hash."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from service.core.errors import NotConfiguredError
from service.core.settings import Settings

Kind = Literal["patient", "episode", "user"]
PREFIX: dict[Kind, str] = {"patient": "p-", "episode": "e-", "user": "u-"}
DIGITS = 16
"""Hex digits kept of the HMAC-SHA256 (64 bits): no collisions within a region's ids."""
CODE = re.compile(r"[a-z0-9_.:+-]{1,64}")
"""A value kept in pseudonymised event data: a code such as `non_specific_lbp` or `high`."""
WITHHELD = "[text withheld]"
_KEY_CONTEXT = b"carepath export pseudonyms"


def export_key(settings: Settings) -> bytes:
    """The pseudonyms' key: `CAREPATH_EXPORT_KEY`; in development, when unset, one derived
    from the secret key (never the secret key itself)."""
    if settings.export_key is not None:
        return settings.export_key.encode()
    if settings.mode == "development":
        return hmac.new(settings.secret_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    raise NotConfiguredError("pseudonymised exports need CAREPATH_EXPORT_KEY (32+ random "
                             "characters) in production; ask the service's operator to set it")


@dataclass(frozen=True)
class Pseudonyms:
    """How an export names patients, episodes and users: by keyed hash, or (an identifiable
    export, `key` None) by their ids."""

    key: bytes | None

    @property
    def identifiable(self) -> bool:
        return self.key is None

    def of(self, kind: Kind, id_: int | None) -> str | int | None:
        if id_ is None or self.key is None:
            return id_
        digest = hmac.new(self.key, f"{kind}:{id_}".encode(), hashlib.sha256).hexdigest()
        return PREFIX[kind] + digest[:DIGITS]

    def data(self, value: Any, key: str = "") -> Any:
        """An event's data as the export shows it. Identifiable: as logged. Pseudonymised:
        ids under `*_id` and `*_by` keys hashed (`episode_id`, `patient_id` as such; others as
        users), and every string that is neither a code nor a date withheld, as free text
        (a clinician's notes, a patient's own words) may name people."""
        if self.key is None:
            return value
        if isinstance(value, Mapping):
            return {k: self.data(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v, key) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and (
                key.endswith("_id") or key.endswith("_by")):
            kind: Kind = ("episode" if key == "episode_id" else
                          "patient" if key == "patient_id" else "user")
            return self.of(kind, value)
        if isinstance(value, str) and not _is_code_or_time(value):
            return WITHHELD
        return value


def _is_code_or_time(text: str) -> bool:
    if CODE.fullmatch(text):
        return True
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
