"""Exposure, group assignment, measured variables (per timepoint) and partitions -> EvidenceVariable."""

from __future__ import annotations

from decimal import Decimal

from ..definitions.model import Result, Study, Timepoint
from ..terminology import concept, quantity_unit
from .extensions import derived_value
from .context import EBM, CompileContext, Json, div

__all__ = ["ASSIGNMENT", "compile_variables", "evidence_variable", "outcome_variable_id", "timepoint_text"]

VARIABLE_DEFINITION = EBM + "evidence-variable-definition"
CATEGORY_REFERENCE = EBM + "evidence-variable-category-value-reference"
TIMING = EBM + "characteristic-timing"
#: local id of the group-assignment variable of a comparative study
ASSIGNMENT = "group-assignment"
_DEFINED_IN_CATEGORY = {"system": "https://fevir.net/resources/CodeSystem/179423",
                        "code": "defined-in-handling-and-category", "display": "Defined in handling and category elements"}


def outcome_variable_id(result: Result) -> str:
    """Local id of the EvidenceVariable a result's outcome is observed as (per timepoint)."""
    return f"{result.variable}-{result.timepoint}" if result.timepoint else result.variable


def _duration(value: str, unit: str) -> Json:
    return {"value": Decimal(value), **quantity_unit(unit)}


def timepoint_text(study: Study, point: Timepoint) -> str:
    """'Week 16 (First Period: double-blind, weeks 0-16)'."""
    period = next((p for p in study.periods if p.id == point.period), None)
    return point.title + (f" ({period.title}: {period.description})" if period is not None else "")


def _timing(study: Study, point: Timepoint) -> Json:
    parts: list[Json] = []
    if point.at is not None:
        parts.append({"url": "offset", "valueDuration": _duration(point.at.value, point.at.unit)})
    elif point.end is not None:
        rng: Json = {}
        if point.start is not None:
            rng["low"] = _duration(point.start.value, point.start.unit)
        rng["high"] = _duration(point.end.value, point.end.unit)
        parts.append({"url": "offset", "valueRange": rng})
    parts.append({"url": "text", "valueString": timepoint_text(study, point)})
    return {"url": TIMING, "extension": parts}


def evidence_variable(ctx: CompileContext, rid: str, title: str, description: str, handling: str,
              definition: Json, profile: str, extra: Json | None = None, actual: bool = False,
              timing: Json | None = None) -> Json:
    """An EvidenceVariable of an EBM variable profile, with its definition (and timing) extension."""
    extensions = [{"url": VARIABLE_DEFINITION, "valueCodeableReference": definition}]
    if timing is not None:
        extensions.append(timing)
    resource: Json = {
        "resourceType": "EvidenceVariable",
        "id": rid,
        "meta": {"profile": [EBM + profile]},
        "text": div(f"Variable: {title}", description, f"Handling: {handling}"),
        "extension": extensions,
        "url": ctx.url("EvidenceVariable", rid),
        "version": ctx.config.version,
        "title": title,
        "status": ctx.definition.status,
        "date": ctx.definition.date,
        "publisher": ctx.config.publisher,
        "description": description,
        "actual": actual,
    }
    resource.update(extra or {})
    resource["handling"] = handling
    return resource


def _assignment(ctx: CompileContext) -> Json:
    study = ctx.study
    rid = ctx.rid(ASSIGNMENT)
    title = "Group assignment: " + " vs ".join(a.title for a in study.arms)
    how = "Randomized" if study.design.kind.endswith("-randomized") else "Assigned"
    description = f"{how} assignment to one of {len(study.arms)} arms: " + "; ".join(
        f"{a.title} ({a.role})" for a in study.arms) + "."
    categories = {"category": [
        {"extension": [{"url": CATEGORY_REFERENCE, "valueReference": ctx.ref("Group", ctx.rid(a.id), a.title)}],
         "name": a.title} for a in study.arms]}
    return evidence_variable(ctx, rid, title, description, "dichotomous" if len(study.arms) == 2 else "polychotomous",
                     {"concept": {"coding": [_DEFINED_IN_CATEGORY]}}, "group-assignment", categories, actual=True)


def compile_variables(ctx: CompileContext) -> list[Json]:
    """The exposure or group assignment, every variable (and per timepoint used), each partition."""
    study = ctx.study
    out = []
    exposure = study.exposure
    if study.design.comparative:
        resource = _assignment(ctx)
        ctx.add(resource, "arms")
        out.append(resource)
    elif exposure is not None:
        codings = [c.coding() for c in (concept(k) for k in exposure.concepts) if c is not None]
        definition: Json = {"concept": {"text": exposure.title}}
        if codings:
            definition["concept"] = {"coding": codings, "text": exposure.title}
        resource = evidence_variable(ctx, ctx.rid(exposure.id), exposure.title, exposure.description, "dichotomous",
                             definition, "variable-definition", actual=True)
        ctx.add(resource, "exposure")
        out.append(resource)
    timepoints = {t.id: (i, t) for i, t in enumerate(study.timepoints)}
    used: dict[str, list[str]] = {}
    for result in study.results:
        if result.timepoint is not None:
            used.setdefault(result.variable, [])
            if result.timepoint not in used[result.variable]:
                used[result.variable].append(result.timepoint)
    for i, var in enumerate(study.variables):
        description = var.description + (f" Unit: {var.unit}." if var.unit else "")
        resource = evidence_variable(ctx, ctx.rid(var.id), var.title, description, var.handling,
                             {"concept": {"text": var.title}}, "variable-definition", actual=True)
        ctx.add(resource, "variables", i)
        out.append(resource)
        for point_id in used.get(var.id, []):
            j, point = timepoints[point_id]
            when = timepoint_text(study, point)
            resource = evidence_variable(ctx, ctx.rid(f"{var.id}-{point_id}"), f"{var.title}, {point.title}",
                                 f"{description} Measured: {when}.", var.handling,
                                 {"concept": {"text": var.title}}, "variable-definition", actual=True,
                                 timing=_timing(study, point))
            bounds = [(f"extension[1].extension[0].{path}", name, d) for name, path, d in (
                ("at", "valueDuration", point.at), ("start", "valueRange.low", point.start),
                ("end", "valueRange.high", point.end)) if d is not None]
            for element, name, duration in bounds:
                if duration.derived is not None:  # a bound the author worked out: say how, machine-readably
                    resource.setdefault("extension", []).append(derived_value(ctx, duration.derived.method, element))
                    resource["text"] = div(f"Variable: {resource['title']}", resource["description"],
                                           f"Handling: {var.handling}",
                                           f"Derived by the definition author ({name}): {duration.derived.method}")
            compiled = ctx.add(resource, "timepoints", j)
            for element, name, duration in bounds:
                ctx.element(compiled, f"EvidenceVariable.{element}.value", ("timepoints", j, name, "value"),
                            duration.value, point.provenance,
                            duration.derived.method if duration.derived is not None else None)
            out.append(resource)
    titles = {s.id: s.title for s in study.population.subgroups}
    for i, part in enumerate(study.population.partitions):
        description = (f"Which of {len(part.subgroups)} mutually exclusive subgroups a patient belongs to: "
                       + "; ".join(titles[s] for s in part.subgroups) + ".")
        categories = {"category": [
            {"name": titles[s], "valueCodeableConcept": {"text": titles[s]}}
            for s in part.subgroups
        ]}
        resource = evidence_variable(ctx, ctx.rid(part.id), part.title, description, "polychotomous",
                             {"concept": {"text": part.title}}, "variable-definition", categories, actual=True)
        ctx.add(resource, "population", "partitions", i)
        out.append(resource)
    return out
