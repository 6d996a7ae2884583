"""The definition author's appraisal -> ArtifactAssessment (risk-of-bias of the study, certainty-of-evidence
per outcome result)."""

from __future__ import annotations

from ..definitions.model import Rating
from ..terminology import codeable, concept
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_assessments"]


_BIAS = {"coding": [{"system": "https://fevir.net/resources/CodeSystem/181513", "code": "SEVCO:00001",
                    "display": "Bias"}]}
_OVERALL = {"coding": [{"system": "http://hl7.org/fhir/certainty-type", "code": "Overall",
                        "display": "Overall certainty"}]}


def _label(key: str) -> str:
    found = concept(key)
    return found.display if found else key


def _components(ctx: CompileContext, judged: Rating) -> list[Json]:
    limitations = {lim.id: lim for lim in ctx.study.limitations}
    components = []
    for dom in judged.domains:
        component: Json = {"informationType": "rating", "summary": dom.reason, "type": codeable(dom.type),
                           "classifier": [codeable(dom.rating)]}
        for lim_id in dom.limitations:
            lim = limitations[lim_id]
            quotes = "; ".join(f"\u201c{p.quote}\u201d" for p in lim.provenance)
            component.setdefault("component", []).append(
                {"informationType": "comment", "summary": f"Limitation reported by the source: {lim.text} "
                                                           f"({quotes})"})
        components.append(component)
    return components


def _assessment(ctx: CompileContext, rid: str, profile: str, title: str, judged: Rating, overall_type: Json,
                target: Json) -> Json:
    assessment = ctx.study.assessment
    return {
        "resourceType": "ArtifactAssessment",
        "id": rid,
        "meta": {"profile": [EBM + profile]},
        "text": div(title, f"Rating: {_label(judged.rating)}. {judged.summary}",
                    f"Assessed by {assessment.assessor} on {assessment.date}.",
                    ("Domains", [f"{_label(d.type)}: {_label(d.rating)}. {d.reason}" for d in judged.domains])),
        "extension": ctx.artifact_extensions("ArtifactAssessment", rid),
        "title": title,
        "date": assessment.date,
        "artifactReference": target,
        "content": [{
            "informationType": "rating",
            "summary": judged.summary,
            "type": overall_type,
            "classifier": [codeable(judged.rating)],
            "author": {"display": assessment.assessor},
            "freeToShare": True,
            "component": _components(ctx, judged),
        }],
    }


def compile_assessments(ctx: CompileContext, evidence: list[Json]) -> list[Json]:
    """Risk of bias of the study (about the Citation), and the certainty of each rated outcome result
    (a certainty-of-evidence assessment about that result's Evidence: GRADE rates each outcome)."""
    study = ctx.study
    assessment = study.assessment
    if assessment is None:
        return []
    out = []
    rid = ctx.rid("risk-of-bias")
    bias = _assessment(ctx, rid, "risk-of-bias", f"Risk of bias: {study.title}", assessment.risk_of_bias,
                       _BIAS, ctx.ref("Citation", ctx.rid("citation"), study.citation.title))
    ctx.add(bias, "assessment", "risk_of_bias")
    out.append(bias)
    by_id = {e["id"]: e for e in evidence if e["resourceType"] == "Evidence"}
    for k, judged in enumerate(assessment.certainty):
        for j, result_id in enumerate(judged.results):
            target = by_id[ctx.rid(result_id)]
            rid = ctx.rid(f"{result_id}-certainty")
            resource = _assessment(ctx, rid, "certainty-of-evidence", f"Certainty of evidence: {target['title']}",
                                   judged, _OVERALL, ctx.ref("Evidence", target["id"], target["title"]))
            ctx.add(resource, "assessment", "certainty", k, "results", j)
            out.append(resource)
    return out
