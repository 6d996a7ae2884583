"""CDS Hooks 2.0 request and response shapes (they also make our OpenAPI 3.1 document)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .knowledge import PREFETCH_KEYS

__all__ = ["CdsRequest", "Feedback", "FeedbackRequest", "FhirAuthorization", "CONTEXT_FIELDS", "HTTPS_URL"]


class _Open(BaseModel):
    # unknown fields (and the reserved "extension") are accepted and ignored
    model_config = ConfigDict(extra="allow")


def _json_integer(value: Any) -> Any:
    """A JSON integer (1 or 1.0), not a string or a boolean."""
    if isinstance(value, (str, bool)):
        raise ValueError("expected an integer")
    return value


class FhirAuthorization(_Open):
    # RFC 6750 b64token: the token goes into an Authorization header as it is
    access_token: str = Field(min_length=1, max_length=8192, pattern=r"^[A-Za-z0-9._~+/-]+=*$")
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, BeforeValidator(_json_integer)] = Field(ge=0)
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None


#: context field -> (required, JSON type) per hook
CONTEXT_FIELDS: dict[str, dict[str, tuple[bool, type]]] = {
    "patient-view": {"userId": (True, str), "patientId": (True, str), "encounterId": (False, str)},
    "order-select": {"userId": (True, str), "patientId": (True, str), "encounterId": (False, str),
                     "selections": (True, list), "draftOrders": (True, dict)},
    "order-sign": {"userId": (True, str), "patientId": (True, str), "encounterId": (False, str),
                   "draftOrders": (True, dict)},
}

_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
#: an absolute https URL (RFC 3986 syntax, a DNS or IPv4 host): what fhirServer may be
HTTPS_URL = (rf"^https://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?"
             rf"(?:#(?:{_PCHAR}|[/?])*)?$")

# What the service checks beyond the field types, said in the document too (JSON Schema 2020-12).
_ENTRY_RESOURCE: dict[str, Any] = {"type": "object", "required": ["resourceType"],
                                   "properties": {"resourceType": {"type": "string", "minLength": 1},
                                                  "id": {"type": "string"}}}
_RESOURCE: dict[str, Any] = {
    **_ENTRY_RESOURCE,
    "description": "a FHIR resource; a Bundle's entries each hold a resource",
    "if": {"properties": {"resourceType": {"const": "Bundle"}}},
    "then": {"properties": {"entry": {"type": "array", "items": {
        "type": "object", "required": ["resource"], "properties": {"resource": _ENTRY_RESOURCE}}}}},
}
_CONTEXT_SCHEMA = {
    "userId": {"type": "string", "minLength": 1},
    "patientId": {"type": "string", "minLength": 1},
    "encounterId": {"type": ["string", "null"], "minLength": 1},
    "selections": {"type": "array", "items": {"type": "string"}},
    "draftOrders": {**_RESOURCE, "properties": {**_RESOURCE["properties"], "resourceType": {"const": "Bundle"}}},
}


def _per_hook() -> list[dict[str, Any]]:
    rules = []
    for hook, fields in CONTEXT_FIELDS.items():
        rules.append({"if": {"properties": {"hook": {"const": hook}}}, "then": {"properties": {"context": {
            "required": [name for name, (required, _) in fields.items() if required],
            "properties": {name: _CONTEXT_SCHEMA[name] for name in fields}}}}})
    return rules


#: a UUID in its canonical text form (any version; CDS Hooks does not name one)
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class CdsRequest(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "dependentRequired": {"fhirAuthorization": ["fhirServer"]}, "allOf": _per_hook()})

    hook: Literal["patient-view", "order-select", "order-sign"]
    hookInstance: str = Field(pattern=UUID, description="a UUID for this hook call (CDS Hooks 2.0 §HTTP Request)")
    # https only; the service may be told to allow a local http test server, so the pattern is
    # documented here and checked by the service. Neither may be null (absent means absent).
    fhirServer: Annotated[str, WithJsonSchema(
        {"type": "string", "format": "uri", "pattern": HTTPS_URL, "maxLength": 2000})] = \
        Field(None, max_length=2000, validate_default=False)  # type: ignore[assignment]
    fhirAuthorization: FhirAuthorization = Field(None, validate_default=False)  # type: ignore[assignment]
    context: dict[str, Any]
    prefetch: Annotated[dict[str, Any], WithJsonSchema({
        "type": "object", "properties": {key: {"anyOf": [_RESOURCE, {"type": "null"}]} for key in ("patient", *PREFETCH_KEYS.values())},
        "additionalProperties": True,
        "description": "key -> a FHIR resource or Bundle, or null for 'no data'; a missing key is fetched from "
                       "fhirServer (412 when that is impossible); keys the service did not ask for are ignored"})] \
        | None = None


class Coding(_Open):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = Field(None, min_length=1, validate_default=False)  # type: ignore[assignment]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: str) -> str:
    if not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with a time zone, e.g. 2021-12-11T10:05:31Z")
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # rejects 2021-02-30
    return value


class OverrideReason(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "anyOf": [{"required": ["reason"]}, {"required": ["userComment"]}]})

    # not nullable: an omitted value is absent, an explicit null is refused
    reason: Coding = Field(None, validate_default=False)  # type: ignore[assignment]
    userComment: str = Field(None, min_length=1, validate_default=False)  # type: ignore[assignment]


class AcceptedSuggestion(_Open):
    id: str = Field(min_length=1)


class Feedback(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "if": {"properties": {"outcome": {"const": "accepted"}}}, "then": {"required": ["acceptedSuggestions"]}})

    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] = Field(None, min_length=1,  # type: ignore[assignment]
                                                          validate_default=False)
    overrideReason: OverrideReason = Field(None, validate_default=False)  # type: ignore[assignment]
    outcomeTimestamp: Annotated[str, AfterValidator(_rfc3339), WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "RFC 3339 with a time zone, e.g. 2021-12-11T10:05:31Z"})]


class FeedbackRequest(_Open):
    feedback: list[Feedback] = Field(min_length=1, max_length=100)


class Link(BaseModel):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Source(BaseModel):
    label: str
    url: str | None = None


class Action(BaseModel):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None


class Suggestion(BaseModel):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = Field(None, min_length=1)


class Card(BaseModel):
    uuid: str | None = None
    summary: str = Field(max_length=139)
    indicator: Literal["info", "warning", "critical"]
    detail: str | None = None
    source: Source
    links: list[Link] | None = Field(None, min_length=1)
    overrideReasons: list[Coding] | None = Field(None, min_length=1)
    suggestions: list[Suggestion] | None = Field(None, min_length=1)
    selectionBehavior: Literal["at-most-one", "any"] | None = None


class CardsResponse(BaseModel):
    cards: list[Card]


class ServiceEntry(BaseModel):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class Discovery(BaseModel):
    services: list[ServiceEntry]


class OperationOutcome(BaseModel):
    resourceType: Literal["OperationOutcome"]
    issue: list[dict[str, Any]]
