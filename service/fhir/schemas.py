"""The shapes of FHIR's routes in the OpenAPI: the Bundle answered, and the referral Bundle
taken (read by service/fhir/mapping.py, which names each problem by its FHIR path)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class FhirBundle(BaseModel):
    """A FHIR R4 Bundle of type collection (its entries are FHIR resources, as JSON)."""

    model_config = ConfigDict(extra="allow")
    resourceType: Literal["Bundle"]
    type: Literal["collection"]
    timestamp: str
    entry: list[dict[str, Any]]


_REFERENCE = {"type": "object", "properties": {"reference": {"type": "string"}}}
REFERRAL_BUNDLE: dict[str, Any] = {
    "required": True,
    "description": "A FHIR R4 Bundle (collection, transaction or batch) holding one Patient "
                   "(name, birthDate) and one active ServiceRequest whose subject is that "
                   "Patient (its fullUrl, or Patient/<id>). Other entries are allowed and "
                   "not read.",
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["resourceType", "type", "entry"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string", "enum": ["collection", "transaction", "batch"]},
            "entry": {"type": "array", "maxItems": 50, "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {"type": "object", "required": ["resourceType"],
                                 "properties": {
                                     "resourceType": {"type": "string"},
                                     "id": {"type": "string"},
                                     "name": {"type": "array", "items": {"type": "object"}},
                                     "birthDate": {"type": "string"},
                                     "status": {"type": "string"},
                                     "intent": {"type": "string"},
                                     "subject": _REFERENCE}}}}}}}}},
}
"""`openapi_extra`'s request body of `POST /api/fhir/referrals`: the route reads the bytes
itself (depth and entry limits before anything else), so the schema is declared here."""
