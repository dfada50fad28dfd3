"""How questionnaire scores read for people: one decimal at most, no trailing zeros.

Scores stay unrounded everywhere else (task data, events, the JSON API), because the MCID
checks compare them (pathways/instruments/scoring.py): a rounded score can miss a threshold
it reaches. Pages round them here, and only here, when a person reads them."""

from __future__ import annotations

DECIMALS = 1
"""A disability index over 9 sections moves in steps of 2.2 points, a PSFS mean of 3 in
steps of 0.3: one decimal tells every step apart without false precision."""


def score_value(value: float) -> float:
    """The number a person sees (for charts, which print their own numbers)."""
    shown = round(float(value), DECIMALS)
    return 0.0 if shown == 0 else shown  # never "-0"


def score_text(value: float | None, signed: bool = False, missing: str = "") -> str:
    """A score as text: "46.7", "40", or with `signed` a change: "+6.7", "-10", "0"."""
    if value is None or isinstance(value, bool):
        return missing
    shown = score_value(value)
    return f"{shown:+g}" if signed and shown else f"{shown:g}"
