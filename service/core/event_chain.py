"""The event log's hash chain: each event's hash covers the one before it, so an auditor can
verify that nothing was changed, removed or reordered. The care domain appends (its
repository); the audit domain verifies."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def event_hash(prev_hash: str, episode_id: int | None, name: str, at: datetime,
               element: str | None, actor_id: int | None, data: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, episode_id, name, at.isoformat(), element, actor_id, data],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()
