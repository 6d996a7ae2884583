"""The patient's data for one call: prefetch first, then the EHR's FHIR server.

CDS Hooks 2.0 §Prefetch: a key sent as ``null`` means "no data"; a key left out, or
sent as an OperationOutcome, must be fetched from ``fhirServer`` with the
``fhirAuthorization`` token; when that is not possible the answer is 412. Paged
results are followed through ``link[next]`` (with the token). The token is never logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ..searchset import next_link, on_base
from .knowledge import PREFETCH_KEYS, Service
from .models import CdsRequest
from .rules import Json, normalise

__all__ = ["Data", "FetchError", "gather"]

_ALLOWED = set(PREFETCH_KEYS) | {"Patient", "Medication", "OperationOutcome"}


class FetchError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Data:
    patient: Json | None
    records: dict[str, list[Json]] = field(default_factory=dict)
    selections: list[Json] = field(default_factory=list)


def _is_resource(value: Any) -> bool:
    """A JSON object with a resourceType and, when it has one, a string id."""
    return (isinstance(value, dict) and isinstance(value.get("resourceType"), str) and bool(value["resourceType"])
            and isinstance(value.get("id", ""), str))


def _resources(value: Any, where: str) -> tuple[list[Json], str | None]:
    """Resources of a prefetch value (a resource or a Bundle) and its next-page link."""
    if not _is_resource(value):
        raise FetchError(400, f"{where} is not a FHIR resource or Bundle")
    if value["resourceType"] != "Bundle":
        return [value], None
    out = []
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        raise FetchError(400, f"{where}: Bundle.entry is not a list")
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not _is_resource(resource):
            raise FetchError(400, f"{where}: entry {i} has no resource")
        out.append(resource)
    return out, next_link(value)


def _ours(resources: list[Json]) -> list[Json]:
    """The resources a rule can read; other types (e.g. an _include) are left out."""
    return [r for r in resources if r["resourceType"] in _ALLOWED - {"OperationOutcome"}]


MAX_MEDICATION_READS = 20
_MEDICATION_REF = re.compile(r"^Medication/[A-Za-z0-9\-.]{1,64}$")


def _medication_refs(resource: Json) -> list[str]:
    """'Medication/<id>' references of an order or statement (R4 medicationReference, R5 medication.reference)."""
    if resource["resourceType"] not in ("MedicationRequest", "MedicationStatement"):
        return []
    refs = [resource.get("medicationReference")]
    r5 = resource.get("medication")
    if isinstance(r5, dict):
        refs.append(r5.get("reference"))
    return [r["reference"] for r in refs if isinstance(r, dict) and isinstance(r.get("reference"), str)
            and _MEDICATION_REF.match(r["reference"])]


def _is_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


async def gather(service: Service, request: CdsRequest, timeout: float, max_pages: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> Data:
    """Everything the service's rule reads, for the patient in the request's context."""
    templates = service.prefetch()
    prefetch = request.prefetch or {}
    patient_id = request.context["patientId"]
    can_fetch = bool(request.fhirServer and request.fhirAuthorization)
    headers = {"Accept": "application/fhir+json"}
    if request.fhirAuthorization is not None:
        headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
    base = (request.fhirServer or "").rstrip("/")
    drafts: list[Json] = []
    if request.hook in ("order-select", "order-sign"):
        orders = request.context["draftOrders"]
        if orders.get("resourceType") != "Bundle":
            raise FetchError(400, "context.draftOrders must be a Bundle")
        drafts, _ = _resources(orders, "context.draftOrders")
    collected: dict[str, list[Json]] = {}
    given: dict[str, tuple[list[Json], str | None]] = {}
    known = {"patient", *PREFETCH_KEYS.values()}
    for key in sorted(known & set(prefetch)):  # every known key sent is checked before anything is fetched,
        value = prefetch.get(key)              # also one this service does not use (the documented shape)
        if value is not None and not _is_outcome(value):
            resources = _resources(value, f"prefetch '{key}'")
            if key in templates:
                given[key] = resources
    clients: list[httpx.AsyncClient] = []  # made only when something must be fetched
    try:

        async def get(url: str, key: str, missing_ok: bool = False) -> Any:
            if not clients:
                clients.append(httpx.AsyncClient(timeout=timeout, headers=headers, follow_redirects=False,
                                                 transport=transport))
            try:
                response = await clients[0].get(url)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(412, f"prefetch '{key}': the FHIR server could not be reached "
                                      f"({type(exc).__name__})") from None
            if missing_ok and response.status_code in (404, 410):
                return None  # a dangling reference: the record just names no drug we can read
            if response.status_code != 200:
                raise FetchError(412, f"prefetch '{key}': the FHIR server answered {response.status_code}")
            try:
                return response.json()
            except ValueError:
                raise FetchError(412, f"prefetch '{key}': the FHIR server's answer is not JSON") from None

        for key, template in templates.items():
            value = prefetch.get(key, ...)
            if value is None:
                collected[key] = []  # "no data"
                continue
            if value is ... or _is_outcome(value):
                if not can_fetch:
                    raise FetchError(412, f"prefetch '{key}' is missing and there is no fhirServer with "
                                          "fhirAuthorization to fetch it")
                query = template.replace("{{context.patientId}}", quote(patient_id, safe=""))
                value = await get(f"{base}/{query}", key)
                if key == "patient" and _is_outcome(value):
                    raise FetchError(412, "prefetch 'patient': the FHIR server returned an OperationOutcome")
            resources, following = given[key] if key in given else _resources(value, f"prefetch '{key}'")
            pages = 1
            while following is not None:
                if not can_fetch:
                    raise FetchError(412, f"prefetch '{key}' has more pages and there is no fhirServer with "
                                          "fhirAuthorization to fetch them")
                if not on_base(following, base):
                    # the token goes only to the EHR's FHIR server, never to a host a Bundle names
                    raise FetchError(412, f"prefetch '{key}': a next link points outside fhirServer")
                if pages >= max_pages:
                    raise FetchError(412, f"prefetch '{key}': more than {max_pages} pages")
                more, following = _resources(await get(following, key), f"prefetch '{key}' page {pages + 1}")
                resources += more
                pages += 1
            collected[key] = _ours(resources)
        if can_fetch:
            # orders and statements that name their drug by reference (a product's Medication, with its
            # ingredients): read each Medication that neither the prefetch nor the searches brought
            have = {f"Medication/{r.get('id')}" for rs in collected.values() for r in rs
                    if r["resourceType"] == "Medication"}
            wanted = sorted({ref for rs in collected.values() for r in rs for ref in _medication_refs(r)} - have)
            if len(wanted) > MAX_MEDICATION_READS:
                raise FetchError(412, f"more than {MAX_MEDICATION_READS} Medications to read")
            for ref in wanted:
                medication = await get(f"{base}/{ref}", "Medication", missing_ok=True)
                if _is_resource(medication) and medication["resourceType"] == "Medication":
                    collected.setdefault("medications", []).append(medication)
    finally:
        for client in clients:
            await client.aclose()
    patients = [r for r in collected.pop("patient", []) if r["resourceType"] == "Patient"]
    records = [r for rs in collected.values() for r in rs]
    selections: list[Json] = []
    if drafts or request.hook in ("order-select", "order-sign"):
        if request.hook == "order-select":
            wanted = set(request.context["selections"])  # strings: checked by the endpoint
            selections = [d for d in drafts if f"{d['resourceType']}/{d.get('id')}" in wanted]
        else:
            selections = list(drafts)
        records += drafts  # draft orders are part of the record (e.g. an IVIG order being placed)
    normalised = normalise(records)
    return Data(patients[0] if patients else None, normalised,
                normalise(selections).get("MedicationRequest", []))
