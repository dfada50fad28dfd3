"""Helpers shared by the questionnaire instrument tests: building answer sets."""

from __future__ import annotations


def start_back(agree: set[int], bothersome: int) -> dict[str, object]:
    """STarT Back answers: items in ``agree`` (1-8) answered agree, SB9 = ``bothersome``."""
    answers: dict[str, object] = {f"SB{n}": int(n in agree) for n in range(1, 9)}
    answers["SB9"] = bothersome
    return answers


def all_items(prefix: str, count: int, value: object) -> dict[str, object]:
    return {f"{prefix}{n}": value for n in range(1, count + 1)}
