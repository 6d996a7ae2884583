"""Exposure, measured variables and partitions -> EvidenceVariable (EBM variable-definition)."""

from __future__ import annotations

from ..terminology import concept
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_variables"]

VARIABLE_DEFINITION = EBM + "evidence-variable-definition"


def _variable(ctx: CompileContext, rid: str, title: str, description: str, handling: str,
              definition: Json, profile: str, extra: Json | None = None) -> Json:
    resource: Json = {
        "resourceType": "EvidenceVariable",
        "id": rid,
        "meta": {"profile": [EBM + profile]},
        "text": div(f"Variable: {title}", description, f"Handling: {handling}"),
        "extension": [{"url": VARIABLE_DEFINITION, "valueCodeableReference": definition}],
        "url": ctx.url("EvidenceVariable", rid),
        "version": ctx.config.version,
        "title": title,
        "status": ctx.study.status,
        "date": ctx.study.date,
        "publisher": ctx.config.publisher,
        "description": description,
        "actual": False,
    }
    resource.update(extra or {})
    resource["handling"] = handling
    return resource


def compile_variables(ctx: CompileContext) -> list[Json]:
    """The exposure, every declared variable and one categorical variable per partition."""
    study = ctx.study
    out = []
    exposure = study.exposure
    codings = [c.coding() for c in (concept(k) for k in exposure.concepts) if c is not None]
    definition: Json = {"concept": {"text": exposure.title}}
    if codings:
        definition["concept"] = {"coding": codings, "text": exposure.title}
    resource = _variable(ctx, ctx.rid(exposure.id), exposure.title, exposure.description, "dichotomous",
                         definition, "variable-definition")
    ctx.add(resource, "exposure")
    out.append(resource)
    for i, var in enumerate(study.variables):
        description = var.description + (f" Unit: {var.unit}." if var.unit else "")
        resource = _variable(ctx, ctx.rid(var.id), var.title, description, var.handling,
                             {"concept": {"text": var.title}}, "variable-definition")
        ctx.add(resource, "variables", i)
        out.append(resource)
    titles = {s.id: s.title for s in study.population.subgroups}
    for i, part in enumerate(study.population.partitions):
        description = (f"Which of {len(part.subgroups)} mutually exclusive subgroups a patient belongs to: "
                       + "; ".join(titles[s] for s in part.subgroups) + ".")
        categories = {"category": [
            {"name": titles[s], "valueCodeableConcept": {"text": titles[s]}}
            for s in part.subgroups
        ]}
        resource = _variable(ctx, ctx.rid(part.id), part.title, description, "polychotomous",
                             {"concept": {"text": part.title}}, "variable-definition", categories)
        ctx.add(resource, "population", "partitions", i)
        out.append(resource)
    return out
