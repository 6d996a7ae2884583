"""The definition author's appraisal -> ArtifactAssessment (risk-of-bias, certainty-of-evidence)."""

from __future__ import annotations

from ..terminology import codeable, concept
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_assessments"]


def _label(key: str) -> str:
    found = concept(key)
    return found.display if found else key


def compile_assessments(ctx: CompileContext) -> list[Json]:
    """Risk of bias of the study (about the Citation) and overall certainty (about the report)."""
    study = ctx.study
    assessment = study.assessment
    if assessment is None:
        return []
    limitations = {lim.id: lim for lim in study.limitations}
    out = []
    for section, profile, suffix, target in (
        ("risk_of_bias", "risk-of-bias", "risk-of-bias", ("Citation", ctx.rid("citation"), study.citation.title)),
        ("certainty", "certainty-of-evidence", "certainty", ("Composition", ctx.rid(), study.title)),
    ):
        judged = getattr(assessment, section)
        rid = ctx.rid(suffix)
        kind = "Risk of bias" if section == "risk_of_bias" else "Certainty of evidence"
        title = f"{kind}: {study.title}"
        components = []
        for dom in judged.domains:
            component: Json = {
                "informationType": "rating",
                "summary": dom.reason,
                "type": codeable(dom.type),
                "classifier": [codeable(dom.rating)],
            }
            for lim_id in dom.limitations:
                lim = limitations[lim_id]
                quotes = "; ".join(f"\u201c{p.quote}\u201d" for p in lim.provenance)
                component.setdefault("component", []).append(
                    {"informationType": "comment", "summary": f"Limitation reported by the source: {lim.text} "
                                                               f"({quotes})"})
            components.append(component)
        overall_type = ({"coding": [{"system": "https://fevir.net/resources/CodeSystem/181513",
                                     "code": "SEVCO:00001", "display": "Bias"}]}
                        if section == "risk_of_bias" else
                        {"coding": [{"system": "http://hl7.org/fhir/certainty-type", "code": "Overall",
                                     "display": "Overall certainty"}]})
        resource: Json = {
            "resourceType": "ArtifactAssessment",
            "id": rid,
            "meta": {"profile": [EBM + profile]},
            "text": div(title, f"Rating: {_label(judged.rating)}. {judged.summary}",
                        f"Assessed by {assessment.assessor} on {assessment.date}.",
                        ("Domains", [f"{_label(d.type)}: {_label(d.rating)}. {d.reason}" for d in judged.domains])),
            "extension": ctx.artifact_extensions("ArtifactAssessment", rid),
            "title": title,
            "date": assessment.date,
            "artifactReference": ctx.ref(*target),
            "content": [{
                "informationType": "rating",
                "summary": judged.summary,
                "type": overall_type,
                "classifier": [codeable(judged.rating)],
                "author": {"display": assessment.assessor},
                "freeToShare": True,
                "component": components,
            }],
        }
        ctx.add(resource, "assessment", section)
        out.append(resource)
    return out
