"""The whole study -> an EvidenceReport Composition that ties every resource together."""

from __future__ import annotations

from html import escape

from .context import EBM, CompileContext, Json, div

__all__ = ["compile_report"]

_SECTIONS = "https://fevir.net/resources/CodeSystem/179423"
#: the EBM IG's code for an EvidenceReport (FEvIR CodeSystem 179423, as shipped in the IG's examples)
_TYPE = {"system": _SECTIONS, "code": "EvidenceReport", "display": "EvidenceReport"}


def _section(code: str, display: str, title: str, entries: list[Json] | None = None,
             text: list[str] | None = None) -> Json:
    section: Json = {"title": title, "code": {"coding": [{"system": _SECTIONS, "code": code, "display": display}]}}
    if text:
        section["text"] = {"status": "generated",
                           "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                                  + "".join(f"<p>{escape(t)}</p>" for t in text) + "</div>"}
    if entries:
        section["entry"] = entries
    return section


def compile_report(ctx: CompileContext, resources: list[Json]) -> Json:
    """EvidenceReport (Composition) whose sections reference every compiled resource."""
    study = ctx.study

    def refs(resource_type: str, predicate=lambda r: True) -> list[Json]:  # type: ignore[no-untyped-def]
        return [ctx.ref(resource_type, r["id"], r.get("title") or r.get("name"))
                for r in resources if r["resourceType"] == resource_type and predicate(r)]

    def profile(r: Json, name: str) -> bool:
        return EBM + name in r.get("meta", {}).get("profile", [])

    sections = [
        _section("study-design", "Study Design", "Study design", text=[study.design.summary]),
        _section("population", "Population", "Population", refs("Group")),
        _section("intervention", "Intervention", "Intervention" if not study.design.comparative else
                 "Interventions compared", refs("EvidenceVariable", lambda r: profile(r, "group-assignment")
                                                or (study.exposure is not None
                                                    and r["id"] == ctx.rid(study.exposure.id)))),
        _section("baseline-measures", "Baseline Measures", "Baseline measures",
                 refs("Evidence", lambda r: profile(r, "baseline-measure-evidence"))),
        _section("outcome-measures", "Outcome Measures", "Outcome measures",
                 refs("Evidence", lambda r: not profile(r, "baseline-measure-evidence"))),
    ]
    # cmp-1: a section needs text, entries or sub-sections; an empty one (no baseline measures) is left out
    sections = [s for s in sections if "entry" in s or "text" in s]
    discussion = [f"Limitation: {lim.text}" for lim in study.limitations]
    if study.conclusion is not None:
        discussion.append(f"Investigators' conclusion: {study.conclusion.text}")
    assessments = refs("ArtifactAssessment")
    if discussion or assessments:
        sections.append(_section("discussion", "Discussion", "Limitations, risk of bias and certainty",
                                 assessments or None, discussion or None))
    sections.append(_section("references", "References", "References",
                             [ctx.ref("Citation", ctx.rid("citation"), study.citation.title)]))
    rid = ctx.rid()
    resource: Json = {
        "resourceType": "Composition",
        "id": rid,
        "meta": {"profile": [EBM + "evidence-report"]},
        "text": div(f"Evidence report: {study.title}", study.design.summary,
                    ("Results", [r.text for r in study.results]),
                    ("Limitations", [lim.text for lim in study.limitations])),
        "url": ctx.url("Composition", rid),
        "version": ctx.config.version,
        "status": "final",
        "type": {"coding": [_TYPE], "text": "Evidence Report"},
        "subject": [ctx.ref("Citation", ctx.rid("citation"), study.citation.title)],
        "date": study.date,
        "author": [{"display": ctx.config.publisher}],
        "title": study.title,
        "relatesTo": [{"type": "derived-from", "label": "Derived from",
                       "resourceReference": ctx.ref("Citation", ctx.rid("citation"), study.citation.title)}],
        "section": sections,
    }
    ctx.add(resource)
    return resource
