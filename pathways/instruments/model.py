"""Questionnaire metadata (items, instruments) and validation of a patient's raw answers.

Standard library only. Scoring lives in ``scoring``; the catalogue of instruments in
``catalogue``. Every invalid answer raises :class:`InstrumentError` with one plain sentence
that names the instrument, the item and what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Number = int | float


class InstrumentError(ValueError):
    """Answers cannot be scored. ``instrument`` and ``item`` say where, when known."""

    def __init__(
        self, message: str, *, instrument: str | None = None, item: str | None = None
    ) -> None:
        super().__init__(message)
        self.instrument = instrument
        self.item = item


@dataclass(frozen=True)
class Item:
    """One question: our own short neutral label (never the published wording) and its scale.

    ``min``/``max`` are inclusive. Answers are whole numbers unless ``allow_float``.
    ``required`` items must be answered; others may be absent or None.
    """

    id: str
    label: str
    min: int
    max: int
    required: bool = True
    allow_float: bool = False

    @property
    def is_binary(self) -> bool:
        """True for 0/1 items, the only ones that accept True/False."""
        return self.min == 0 and self.max == 1 and not self.allow_float

    def expected(self) -> str:
        """What a valid answer looks like, for error messages and forms."""
        if self.is_binary:
            return "0 or 1"
        kind = "a number" if self.allow_float else "a whole number"
        return f"{kind} from {self.min} to {self.max}"


@dataclass(frozen=True)
class Instrument:
    """A questionnaire's structure: items, licence note, and a note on the answer scale.

    ``min_answered`` is the fewest answered items the instrument can be scored from
    (0 means: only the ``required`` flags apply).
    """

    id: str
    name: str
    items: tuple[Item, ...]
    licence: str
    scale_note: str
    min_answered: int = 0

    def __post_init__(self) -> None:
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"instrument {self.id!r} has duplicate item ids")

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> Item:
        """The item with this id; InstrumentError if there is none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise InstrumentError(
            f"{self.name}: unknown item {item_id!r}; valid items are {self.item_span()}",
            instrument=self.id,
            item=item_id,
        )

    def item_span(self) -> str:
        """'SB1 to SB9' style summary of the item ids."""
        ids = self.item_ids
        return ids[0] if len(ids) == 1 else f"{ids[0]} to {ids[-1]}"


def check_answers(
    instrument: Instrument, answers: object, *, min_answered: int | None = None
) -> dict[str, Number]:
    """Validate raw answers and return only the answered items, as numbers.

    Rules: every key must be an item id of the instrument; None or absent means
    unanswered; required items must be answered; True/False only for 0/1 items (counts as
    1/0); floats only where the item allows them; strings are never accepted, not even
    digits. ``min_answered`` overrides the instrument's minimum count.
    """
    name = instrument.name
    if not isinstance(answers, Mapping):
        raise InstrumentError(
            f"{name}: answers must be a mapping of item id to answer, got {type(answers).__name__}",
            instrument=instrument.id,
        )
    known = set(instrument.item_ids)
    unknown = [key for key in answers if key not in known]
    if unknown:
        listed = ", ".join(repr(key) for key in unknown)
        noun = "item" if len(unknown) == 1 else "items"
        raise InstrumentError(
            f"{name}: unknown {noun} {listed}; valid items are {instrument.item_span()}",
            instrument=instrument.id,
            item=str(unknown[0]),
        )
    values: dict[str, Number] = {}
    for item in instrument.items:
        raw = answers.get(item.id)
        if raw is None:
            if item.required:
                raise InstrumentError(
                    f"{name} item {item.id}: answer is missing; expected {item.expected()}",
                    instrument=instrument.id,
                    item=item.id,
                )
            continue
        values[item.id] = check_value(instrument, item, raw)
    needed = instrument.min_answered if min_answered is None else min_answered
    if len(values) < needed:
        raise InstrumentError(
            f"{name}: {len(values)} of {len(instrument.items)} items answered; "
            f"answer at least {needed} of {instrument.item_span()}",
            instrument=instrument.id,
        )
    return values


def check_value(instrument: Instrument, item: Item, raw: object) -> Number:
    """Validate one answer against its item; return it as int (or float if allowed)."""
    where = f"{instrument.name} item {item.id}"
    expected = item.expected()

    def fail(detail: str) -> InstrumentError:
        return InstrumentError(
            f"{where}: expected {expected}, got {detail}", instrument=instrument.id, item=item.id
        )

    value: Number
    if isinstance(raw, bool):
        if not item.is_binary:
            raise fail(f"{raw} (true/false is accepted only for 0/1 items)")
        value = int(raw)
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        if not item.allow_float:
            raise fail(f"{raw!r} (this item takes whole numbers only)")
        if not math.isfinite(raw):
            raise fail(f"{raw!r} (not a finite number)")
        value = raw
    elif isinstance(raw, str):
        raise fail(f"{raw!r} (text); send the number itself, not a string")
    else:
        raise fail(f"{raw!r} of type {type(raw).__name__}")
    if not item.min <= value <= item.max:
        raise fail(repr(value))
    return value
