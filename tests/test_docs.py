"""The README documents what a model author can use (every helper, every property and every
alert) and every setting an operator can give."""

from __future__ import annotations

from pathlib import Path

from pathways.properties import ALERTS, KNOWN_PROPERTIES
from pathways.script_helpers import HELPERS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_model_helper_is_documented() -> None:
    missing = [name for name in HELPERS if f"`{name}" not in README and f" {name}" not in README]
    assert missing == []


def test_every_task_property_is_documented() -> None:
    missing = [name for name in KNOWN_PROPERTIES if f"`{name}" not in README]
    assert missing == []


def test_every_alert_is_documented() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `alert` |"))
    assert [name for name in ALERTS if f"`{name}`" not in row] == []


def test_every_setting_is_documented() -> None:
    from service.settings import Settings

    missing = [name for name in Settings.model_fields
               if f"`CAREPATH_{name.upper()}`" not in README]
    assert missing == []


def test_every_content_location_is_documented() -> None:
    """pathways/ reads these itself (not through service/settings.py), so the test above
    does not see them."""
    from pathways import education, exercises

    names = [education.ENV_VAR, exercises.ENV_DIR, exercises.ENV_OVERRIDES]
    missing = [name for name in names if f"`{name}`" not in README]
    assert missing == []
