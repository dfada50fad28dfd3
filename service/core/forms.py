"""HTML forms generated from a task's JSON Schema, and posted forms parsed back into typed data.

Nested objects become dotted field names (`proms.disability.ODI3`). The engine validates the
parsed data against the same schema (pathways.forms), so these helpers only shape it; every
validation message comes back per field and is shown next to that field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FormField:
    name: str
    """Dotted path, also the HTML name and (with dots as dashes) the element id."""
    label: str
    kind: str
    """integer, number, boolean, choice, choices, text, textarea, list"""
    required: bool
    minimum: float | None = None
    maximum: float | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    error: str | None = None
    group: str | None = None
    """Title of the object this field belongs to (for fieldsets)."""
    description: str = ""
    """What to write, for whoever fills the form in (the schema's description)."""

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def label_for(value: str) -> str:
    return value.replace("_", " ").capitalize()


def fields_for(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None,
               errors: Mapping[str, str] | None = None) -> list[FormField]:
    """Every answerable field of a form schema, in schema order, with values and errors."""
    found: list[FormField] = []
    _walk(schema, "", values or {}, errors or {}, None, found)
    return found


def _walk(schema: Mapping[str, Any], prefix: str, values: Mapping[str, Any],
          errors: Mapping[str, str], group: str | None, out: list[FormField]) -> None:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        kind = prop.get("type")
        if kind == "object":
            _walk(prop, f"{path}.", values, errors, prop.get("title") or label_for(name), out)
            continue
        item = FormField(name=path, label=prop.get("title") or label_for(name),
                         kind=_kind(prop), required=name in required,
                         minimum=prop.get("minimum"), maximum=prop.get("maximum"),
                         value=value_at(values, path), error=errors.get(path), group=group,
                         description=str(prop.get("description") or ""))
        options = prop.get("enum") or prop.get("items", {}).get("enum") or []
        labels = prop.get("x-enum-labels") or prop.get("items", {}).get("x-enum-labels") or {}
        item.options = [(str(o), labels.get(str(o)) or label_for(str(o))) for o in options]
        out.append(item)


def _kind(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if kind == "string" and "enum" in prop:
        return "choice"
    if kind == "array":
        return "choices" if "enum" in prop.get("items", {}) else "list"
    if kind == "string":
        return "textarea" if prop.get("maxLength", 0) > 300 else "text"
    return str(kind)


def value_at(values: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of nested answers, or None."""
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def parse_form(schema: Mapping[str, Any],
               posted: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed, nested data from a posted form, and messages for values that are not numbers.

    Empty optional fields are left out, so the schema's own rules decide what is missing."""
    data: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for item in fields_for(schema):
        raw = [v for v in posted.get(item.name, []) if v != ""]
        if item.kind == "choices":
            value: Any = list(raw)
        elif item.kind == "list":
            value = [line.strip() for v in raw for line in v.splitlines() if line.strip()]
        elif item.kind == "boolean":
            if not raw:
                if item.name in posted or not item.required:
                    value = False if item.name in posted else None
                else:
                    continue
            value = raw[-1] in ("true", "on", "yes", "1") if raw else value
            if value is None:
                continue
        elif not raw:
            continue
        elif item.kind == "integer":
            try:
                value = int(raw[-1])
            except ValueError:
                problems[item.name] = "enter a whole number"
                continue
        elif item.kind == "number":
            try:
                value = float(raw[-1])
            except ValueError:
                problems[item.name] = "enter a number"
                continue
        else:
            value = raw[-1]
        store_at(data, item.name, value)
    return data, problems


def store_at(data: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, for None, remove) the answer at a dotted path."""
    *parents, last = path.split(".")
    current = data
    for part in parents:
        current = current.setdefault(part, {})
    if value is None:
        current.pop(last, None)
    else:
        current[last] = value
