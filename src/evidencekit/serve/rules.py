"""Evaluate a compiled PlanDefinition action for one patient.

Each ``action.input`` DataRequirement (its ``id`` is a FHIRPath variable name) selects
the patient's matching resources; each ``action.condition`` is a FHIRPath expression
over those variables, ``%patient``, ``%hook`` and ``%selections``. Nothing here is
specific to a study: the clinical rule is entirely in the PlanDefinition.

Records are normalised first, so one rule serves R4 and R5 EHRs: an R4
``medicationCodeableConcept`` and the codes of a referenced or contained Medication
(and its ingredients) all appear as R5 ``medication.concept``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .terminology import ValueSets

Json = dict[str, Any]

__all__ = ["Decision", "Rule", "codings", "normalise"]

#: Records that do not count, whatever a rule says.
_DROPPED_STATUS = {"entered-in-error", "not-taken"}
_DROPPED_VERIFICATION = {"refuted", "entered-in-error"}


def codings(concept: Any) -> list[Json]:
    """The well-formed codings of a CodeableConcept (records are hostile input)."""
    if isinstance(concept, dict) and isinstance(concept.get("coding"), list):
        return [c for c in concept["coding"] if isinstance(c, dict) and isinstance(c.get("code"), str)
                and isinstance(c.get("system", ""), str)]
    return []


def _medication_codings(resource: Json, medications: dict[str, Json]) -> list[Json]:
    """Codes of the medication a request or statement is about (R4 or R5 shape)."""
    out: list[Json] = []
    reference = None
    r5 = resource.get("medication")
    if isinstance(r5, dict):
        out += codings(r5.get("concept"))
        reference = r5["reference"].get("reference") if isinstance(r5.get("reference"), dict) else None
    out += codings(resource.get("medicationCodeableConcept"))
    r4 = resource.get("medicationReference")
    if isinstance(r4, dict):
        reference = r4.get("reference")
    if isinstance(reference, str):
        med = None
        if reference.startswith("#"):
            for contained in resource.get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                    med = contained
        else:
            med = medications.get("/".join(reference.split("/")[-2:]))  # relative or absolute
        if isinstance(med, dict) and med.get("resourceType") == "Medication":
            out += codings(med.get("code"))
            for ingredient in med.get("ingredient") or []:
                if isinstance(ingredient, dict):
                    out += codings(ingredient.get("itemCodeableConcept"))
                    item = ingredient.get("item")
                    if isinstance(item, dict):
                        out += codings(item.get("concept"))
    return out


def normalise(resources: list[Json]) -> dict[str, list[Json]]:
    """Records by type, R5-shaped where it matters; entered-in-error and refuted dropped."""
    medications = {f"Medication/{r['id']}": r for r in resources
                   if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)}
    out: dict[str, list[Json]] = {}
    for r in resources:
        rtype = r.get("resourceType")
        if isinstance(r.get("status"), str) and r["status"] in _DROPPED_STATUS:
            continue
        if rtype == "Condition":
            verification = {c.get("code") for c in codings(r.get("verificationStatus"))}
            if verification & _DROPPED_VERIFICATION:
                continue
        if rtype in ("MedicationRequest", "MedicationStatement"):
            r = {**r, "medication": {"concept": {"coding": _medication_codings(r, medications)}}}
        out.setdefault(rtype, []).append(r)
    return out


def _element_codings(resource: Json, path: str) -> list[Json]:
    if path in ("status", "intent"):
        value = resource.get(path)
        return [{"code": value}] if isinstance(value, str) else []
    if path == "medication":
        return codings((resource.get("medication") or {}).get("concept"))
    return codings(resource.get(path))


@dataclass
class Input:
    ident: str
    title: str
    resource_type: str
    filters: list[Callable[[Json], bool]]

    def select(self, records: dict[str, list[Json]]) -> list[Json]:
        return [r for r in records.get(self.resource_type, []) if all(f(r) for f in self.filters)]


def _filter(code_filter: Json, value_sets: ValueSets) -> Callable[[Json], bool]:
    path = code_filter["path"]
    if "valueSet" in code_filter:
        url = code_filter["valueSet"]
        if url not in value_sets.by_url:
            raise KeyError(f"ValueSet {url} is not in this output")
        return lambda r: any(value_sets.contains(url, c) for c in _element_codings(r, path))
    if path in ("status", "intent"):
        wanted = {c["code"] for c in code_filter.get("code", [])}
        return lambda r: any(c["code"] in wanted for c in _element_codings(r, path))
    pairs = {(c.get("system"), c["code"]) for c in code_filter.get("code", [])}
    return lambda r: any((c.get("system"), c.get("code")) in pairs for c in _element_codings(r, path))


@dataclass
class Decision:
    applies: bool
    failed: str | None  # the first condition that did not hold
    found: dict[str, list[Json]] = field(default_factory=dict)


@dataclass
class Rule:
    """One PlanDefinition action, compiled once at start-up."""

    inputs: list[Input]
    conditions: list[tuple[str, Callable[..., Any]]]

    @classmethod
    def from_action(cls, action: Json, value_sets: ValueSets) -> "Rule":
        import fhirpathpy

        # FHIRPath's terminology function memberOf(), answered from the knowledge's ValueSets
        # and the site's expansions (the only function the conditions may add to FHIRPath's own)
        options = {"userInvocationTable": {"memberOf": {"fn": value_sets.member_of, "arity": {1: ["String"]}}}}
        inputs = []
        for item in action.get("input", []):
            req = item["requirement"]
            inputs.append(Input(item["id"], item.get("title", item["id"]), req["type"],
                                [_filter(f, value_sets) for f in req.get("codeFilter", [])]))
        conditions = []
        for cond in action.get("condition", []):
            expr = cond["expression"]
            if expr.get("language") != "text/fhirpath":
                raise ValueError(f"condition language {expr.get('language')!r} is not supported")
            conditions.append((expr.get("description", expr["expression"]), fhirpathpy.compile(expr["expression"],
                                                                                     options=options)))
        return cls(inputs, conditions)

    def types(self) -> set[str]:
        return {i.resource_type for i in self.inputs}

    def evaluate(self, patient: Json | None, records: dict[str, list[Json]], hook: str,
                 selections: list[Json]) -> Decision:
        found = {i.ident: i.select(records) for i in self.inputs}
        env: Json = {**found, "patient": _patient(patient), "hook": hook, "selections": selections}
        for description, condition in self.conditions:
            try:
                result = condition({}, env)
            except Exception:  # noqa: BLE001 - malformed data: the condition does not hold
                return Decision(False, f"{description} (could not be evaluated on this data)", found)
            if result != [True]:
                return Decision(False, description, found)
        return Decision(True, None, found)


_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def _patient(patient: Json | None) -> Json | list[Any]:
    """The Patient for FHIRPath; a birthDate that is not a FHIR date counts as unknown."""
    if patient is None:
        return []
    if "birthDate" in patient and not (isinstance(patient["birthDate"], str) and _DATE.match(patient["birthDate"])):
        return {k: v for k, v in patient.items() if k != "birthDate"}
    return patient
