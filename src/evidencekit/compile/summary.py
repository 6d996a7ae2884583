"""A question's outcomes -> a summary-of-findings Composition (EBM IG SummaryOfFindings).

The IG's layout: one ``column-headers`` section naming the columns, then one
``summary-of-findings-entry-for-a-single-outcome`` section per outcome whose sub-sections
hold the outcome, the sample size, the comparator-only, intervention-only and comparative
results, and the certainty. Entries reference the compiled Evidence and ArtifactAssessments;
every cell also has a narrative.
"""

from __future__ import annotations

from collections.abc import Mapping

from html import escape

from ..definitions.loader import LoadedStudy
from ..terminology import GRADE
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_summary"]

#: section codes fixed by the IG's SummaryOfFindings profile (input/fsh/composition/p-summary-of-findings.fsh)
_SECTIONS = "https://fevir.net/resources/CodeSystem/179423"
COLUMNS = [("outcome-measure", "Outcome Measure", "Outcome"),
           ("sample-size", "Sample Size", "Studies and participants"),
           ("result-with-comparator-alone", "Result with comparator alone", "Comparator"),
           ("result-with-intervention-alone", "Result with intervention alone", "Intervention"),
           ("result-with-intervention-vs-comparator", "Result with intervention vs. comparator", "Effect"),
           ("certainty-of-evidence", "Certainty of Evidence", "Certainty")]
_TYPE = {"system": _SECTIONS, "code": "SummaryOfFindings", "display": "SummaryOfFindings"}


def _code(code: str, display: str) -> Json:
    return {"coding": [{"system": _SECTIONS, "code": code, "display": display}]}


def _cell(code: str, display: str, title: str, lines: list[str], entries: list[Json] | None = None) -> Json:
    section: Json = {"title": title, "code": _code(code, display),
                     "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                              + "".join(f"<p>{escape(line)}</p>" for line in lines or ["No result."]) + "</div>"}}
    if entries:
        section["entry"] = entries
    return section


def _profiles(resource: Json) -> set[str]:
    return {p.removeprefix(EBM) for p in resource.get("meta", {}).get("profile", [])}


def compile_summary(ctx: CompileContext, compiled: Mapping[str, Json], studies: dict[str, LoadedStudy]) -> Json:
    """The summary of findings of the question in ``ctx``; ``compiled`` maps resource keys to resources."""
    q = ctx.loaded.question
    rid = ctx.rid("summary-of-findings")
    headers = {"title": "Column headers", "code": _code("column-headers", "Column Headers"),
               "section": [_cell(code, display, title, [title]) for code, display, title in COLUMNS]}
    sections = [headers]
    table: list[str] = []
    for outcome in q.outcomes:
        variable = compiled[f"EvidenceVariable/{ctx.rid(outcome.id)}"]
        cited = [compiled[f"Evidence/{c.study}-{c.result}"] for c in outcome.results
                 if f"Evidence/{c.study}-{c.result}" in compiled]
        comparator = [e for e in cited if "comparator-only-evidence" in _profiles(e)]
        intervention = [e for e in cited if "intervention-only-evidence" in _profiles(e)]
        comparative = [e for e in cited if "comparative-evidence" in _profiles(e)]
        studies_cited = sorted({c.study for c in outcome.results})
        assessment = compiled.get(f"ArtifactAssessment/{ctx.rid(outcome.id + '-certainty')}")
        rating = assessment["content"][0]["classifier"][0]["coding"][0]["code"] if assessment else None
        certainty_line = ([f"{GRADE.get(rating, rating)}. {assessment['content'][0]['summary']}"]
                          if assessment else ["Not assessed."])

        def refs(items: list[Json]) -> list[Json]:
            return [ctx.ref("Evidence", e["id"], e["title"]) for e in items[:1]]

        # each study's own N as reported, not a sum (a total over studies would be a number no source gives)
        size = (f"{len(studies_cited)} stud{'y' if len(studies_cited) == 1 else 'ies'}: " + "; ".join(
            f"{s} (N = {studies[s].study.population.n.value})" for s in studies_cited if s in studies)
                ) if outcome.results else "No studies."
        cells = [
            _cell("outcome-measure", "Outcome Measure", "Outcome", [f"{outcome.title} ({outcome.importance})"],
                  [ctx.ref("EvidenceVariable", variable["id"], variable["title"])]),
            _cell("sample-size", "Sample Size", "Studies and participants", [size]),
            _cell("result-with-comparator-alone", "Result with comparator alone", "Comparator",
                  [e["description"] for e in comparator], refs(comparator)),
            _cell("result-with-intervention-alone", "Result with intervention alone", "Intervention",
                  [e["description"] for e in intervention], refs(intervention)),
            _cell("result-with-intervention-vs-comparator", "Result with intervention vs. comparator", "Effect",
                  [e["description"] for e in comparative], refs(comparative)),
            _cell("certainty-of-evidence", "Certainty of Evidence", "Certainty", certainty_line,
                  [ctx.ref("ArtifactAssessment", assessment["id"])] if assessment else None),
        ]
        sections.append({"title": outcome.title, "code": _code("summary-of-findings-entry-for-a-single-outcome",
                                                               "Summary of findings entry for a single outcome"),
                         "focus": ctx.ref("EvidenceVariable", variable["id"], variable["title"]),
                         "section": cells})
        table.append(f"{outcome.title} ({outcome.importance}): {size} Certainty: {certainty_line[0]}")
    resource: Json = {
        "resourceType": "Composition",
        "id": rid,
        "meta": {"profile": [EBM + "summary-of-findings"]},
        "text": div(f"Summary of findings: {q.title}", ("Outcomes", table)),
        "url": ctx.url("Composition", rid),
        "version": ctx.config.version,
        "status": "final" if q.status == "active" else "preliminary",
        "type": {"coding": [_TYPE], "text": "Summary of Findings"},
        "date": q.date,
        "author": [{"display": q.assessor}],
        "title": f"Summary of findings: {q.title}",
        "section": sections,
    }
    ctx.add(resource, "outcomes")
    return resource
