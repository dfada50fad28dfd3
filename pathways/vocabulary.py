"""The words a model's forms give its codes: a field's title ("Working diagnosis") and each
choice's label ("Non-specific low back pain"), so pages say what a person wrote, not what the
model stores (`non_specific_lbp`).

Fields are known by their own name, wherever they sit in a form (`red_flags.fever` is
`fever`): events carry the same names (the event's data is the task's data). Where two forms
share a field name, they share its words; the first form, by name, gives them. A code no form
labels reads as its words, with its separators as spaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


def plain(code: object) -> str:
    """A code as words, for codes no form names: `hold_alert` -> "hold alert"."""
    return str(code).replace("_", " ").replace("-", " ").strip()


@dataclass(frozen=True)
class Vocabulary:
    titles: Mapping[str, str]
    """Field name -> its title."""
    labels: Mapping[str, Mapping[str, str]]
    """Field name -> choice -> its label."""

    def title(self, field: str) -> str:
        return self.titles.get(field) or plain(field).capitalize()

    def label(self, field: str, value: object) -> str:
        """The label a form gives `value` of `field`; for a yes/no field named by its value
        (`red_flags`' keys), the field's title."""
        if value is None or value == "":
            return ""
        known = self.labels.get(field, {}).get(str(value))
        return known or plain(value)

    def labels_of(self, field: str, values: Iterable[object]) -> list[str]:
        return [self.label(field, v) for v in values]

    def codes(self) -> frozenset[str]:
        """Every field name and choice the forms name, as a code: what pages must not show
        (tests look for them in plain words too)."""
        found = set(self.titles)
        for choices in self.labels.values():
            found.update(choices)
        return frozenset(found)


def vocabulary_of(forms: Mapping[str, Mapping[str, Any]]) -> Vocabulary:
    """The titles and labels of every field in `forms` (name -> JSON Schema)."""
    titles: dict[str, str] = {}
    labels: dict[str, dict[str, str]] = {}
    for name in sorted(forms):
        _walk(forms[name], titles, labels)
    return Vocabulary(MappingProxyType(titles),
                      MappingProxyType({k: MappingProxyType(v) for k, v in labels.items()}))


def _walk(schema: Mapping[str, Any], titles: dict[str, str],
          labels: dict[str, dict[str, str]]) -> None:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for field, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        title = prop.get("title")
        if isinstance(title, str) and title and field not in titles:
            titles[field] = title
        items = prop.get("items")
        given = prop.get("x-enum-labels") or (
            items.get("x-enum-labels") if isinstance(items, Mapping) else None)
        if isinstance(given, Mapping):
            known = labels.setdefault(field, {})
            for choice, label in given.items():
                if isinstance(label, str) and label:
                    known.setdefault(str(choice), label)
        if prop.get("type") == "object":
            _walk(prop, titles, labels)
