"""Validate submitted task data against the task's form (a JSON Schema in the model bundle)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import FieldError, FormValidationError


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validate_submission(form: str | None, schema: Mapping[str, Any] | None,
                        data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the data if it fits the form, else raise FormValidationError with every problem.

    A task without a form accepts no data at all: nothing unexpected reaches task data.
    """
    if not isinstance(data, Mapping):
        raise FormValidationError(form, [FieldError("(form)", "send an object of answers")])
    if schema is None:
        if data:
            fields = ", ".join(sorted(data))
            raise FormValidationError(form, [FieldError(fields, "this task takes no answers")])
        return {}
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(dict(data)), key=lambda e: list(e.absolute_path))
    if errors:
        raise FormValidationError(form, [f for e in errors for f in _field_errors(e)])
    return dict(data)


def _field_errors(error: ValidationError) -> list[FieldError]:
    """One message per field: an unknown or missing answer is named by its own path."""
    path = ".".join(str(p) for p in error.absolute_path)
    prefix = f"{path}." if path else ""
    if error.validator == "required":
        # jsonschema raises one error per missing property; its message names it.
        match = re.match(r"^'([^']*)' is a required property", error.message)
        missing = match.group(1) if match else ""
        return [FieldError(f"{prefix}{missing}", "an answer is required")]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) \
            else set()
        return [FieldError(f"{prefix}{name}", "this question is not part of the form")
                for name in sorted(set(error.instance) - known)]
    return [_field_error(error, path)]


def _field_error(error: ValidationError, path: str) -> FieldError:
    if error.validator == "enum":
        options: list[Any] = list(error.validator_value)  # type: ignore[arg-type]
        allowed = ", ".join(str(v) for v in options)
        return FieldError(path or "(form)", f"choose one of: {allowed}")
    if error.validator in ("minimum", "maximum"):
        return FieldError(path or "(form)", f"must be {error.validator} {error.validator_value}"
                          .replace("minimum", "at least").replace("maximum", "at most"))
    if error.validator == "type":
        return FieldError(path or "(form)", f"must be {error.validator_value}")
    return FieldError(path or "(form)", error.message)


def task_data_part(schema: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that enter task data. Fields marked `"x-task-data": false` (free-text notes)
    are validated but kept out of the workflow state: the service stores the whole submission
    with the task, and models never branch on prose."""
    properties = (schema or {}).get("properties", {})
    return {k: v for k, v in answers.items()
            if properties.get(k, {}).get("x-task-data", True) is not False}
