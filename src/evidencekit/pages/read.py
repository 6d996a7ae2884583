"""Read built output (``output/r5``: the FHIR resources and the source map) into what the pages show.

Everything here comes from the FHIR output, so what people read is what servers receive; the
source map adds where each number was authored and the source's words for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

from ..compile.context import EBM
from ..terminology import GRADE

__all__ = ["Estimate", "EvidenceView", "OutcomeView", "Provenance", "QuestionView", "Row", "Site", "StudyView",
           "grade", "number", "read_output"]

Json = dict[str, Any]
_SECTIONS = "https://fevir.net/resources/CodeSystem/179423"
_DERIVED = "/StructureDefinition/derived-value"
_CI, _P, _SD = "C53324", "C44185", "C53322"
_COLUMNS = {"evidence-with-comparator-alone": "Comparator", "evidence-with-intervention-alone": "Intervention",
            "evidence-with-total-group": "Total group", "evidence-with-intervention-vs-comparator": "Comparison"}


@dataclass
class Provenance:
    """Where a number was read (the source's words) and where it was authored (definition file:line)."""

    quote: str
    source: str
    locator: str | None
    file: str
    line: int
    yaml_path: str


@dataclass
class Estimate:
    """One statistic of an Evidence, as the JSON holds it (FHIR scale: proportions as fractions)."""

    index: int
    kind: str                      # the statistic type's display, e.g. "Proportion", "Risk Difference"
    code: str                      # its code, e.g. C44256
    value: Decimal | None
    unit: str | None
    low: Decimal | None = None
    high: Decimal | None = None
    level: Decimal | None = None
    ci_derived: str | None = None  # how, when the CI is evidencekit's
    affected: int | None = None
    participants: int | None = None
    p_value: str | None = None
    sd: Decimal | None = None
    category: str | None = None
    derived: dict[str, str] = field(default_factory=dict)  # element -> how it was derived
    description: str = ""


@dataclass
class EvidenceView:
    id: str
    title: str
    description: str
    estimates: list[Estimate]
    provenance: list[Provenance]
    study: str | None                # the id of the study's report Composition
    certainty: str | None = None     # certainty-rating code of its certainty-of-evidence assessment
    certainty_summary: str | None = None
    synthesis: bool = False
    reported_in: list[str] = field(default_factory=list)  # the Citations its numbers were read in (titles)


@dataclass
class Row:
    """One row of a measure report: a variable, and its Evidence by column (or a finding in words)."""

    title: str
    kind: str                        # outcome | baseline
    columns: list[tuple[str, EvidenceView]]
    finding: str | None = None
    finding_provenance: list[Provenance] = field(default_factory=list)


@dataclass
class StudyView:
    id: str
    title: str
    file: str
    citation: str
    pmid: str | None
    doi: str | None
    links: list[tuple[str, str]]
    design: str
    design_codes: list[str]
    groups: list[tuple[str, int | None, str, str, str | None]]  # name, N, profile, description, how N was derived
    rows: list[Row]
    discussion: list[str]
    risk_of_bias: tuple[str, str] | None        # rating display, summary
    diagnostics: list[Json] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # every report's citation text (References), in order


@dataclass
class OutcomeView:
    id: str
    title: str
    importance: str
    participants: str
    columns: dict[str, str]           # SoF column title -> its text
    certainty: str | None             # certainty-rating code
    certainty_summary: str
    footnotes: list[tuple[str, str, str]]   # domain, rating, reason: every rating down
    evidence: list[EvidenceView]
    synthesis: EvidenceView | None


@dataclass
class QuestionView:
    id: str
    title: str
    sof_id: str
    outcomes: list[OutcomeView]


@dataclass
class Site:
    studies: list[StudyView]
    questions: list[QuestionView]
    evidence: dict[str, EvidenceView]
    directory: Path


def _codes(concept: Json | None) -> list[tuple[str, str]]:
    return [(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding", [])]


def _code_of(concept: Json | None, system: str) -> str | None:
    return next((code for s, code in _codes(concept) if s == system), None)


def _derived_methods(extensions: list[Json]) -> list[tuple[str | None, str]]:
    out = []
    for ext in extensions:
        if str(ext.get("url", "")).endswith(_DERIVED):
            parts = {e.get("url"): e.get("valueString") for e in ext.get("extension", [])}
            out.append((parts.get("element"), str(parts.get("method", ""))))
    return out


def _estimate(index: int, stat: Json) -> Estimate:
    coding = (stat.get("statisticType", {}).get("coding") or [{}])[0]
    quantity = stat.get("quantity") or {}
    size = stat.get("sampleSize") or {}
    est = Estimate(index, str(coding.get("display", "")), str(coding.get("code", "")), quantity.get("value"),
                   quantity.get("unit"), affected=stat.get("numberAffected"),
                   participants=size.get("numberOfParticipants"), category=(stat.get("category") or {}).get("text"),
                   description=str(stat.get("description", "")))
    for element, method in _derived_methods(stat.get("extension", [])):
        est.derived[element or "value"] = method
    for attribute in stat.get("attributeEstimate", []):
        kind = _code_of(attribute.get("type"), "http://terminology.hl7.org/CodeSystem/attribute-estimate-type")
        if kind == _CI and est.low is None and est.high is None:
            rng = attribute.get("range") or {}
            est.low, est.high = (rng.get("low") or {}).get("value"), (rng.get("high") or {}).get("value")
            est.level = attribute.get("level")
            methods = _derived_methods(attribute.get("extension", []))
            if methods:
                est.ci_derived = methods[0][1]
        elif kind == _SD:
            est.sd = (attribute.get("quantity") or {}).get("value")
        elif kind == _P:
            quantity = attribute.get("quantity") or {}
            est.p_value = f"{quantity.get('comparator', '=')} {quantity.get('value')}"
    return est


def _provenance(entry: Json | None) -> list[Provenance]:
    """Every authored number of a resource with the source's words, from its source-map entry."""
    out: list[Provenance] = []
    seen: set[str] = set()
    for element in (entry or {}).get("elements", []):
        for p in element.get("provenance", []):
            key = p["quote"]  # one quote often backs several numbers (a value and its denominator)
            if key in seen:
                continue
            seen.add(key)
            out.append(Provenance(p["quote"], p.get("source_title", p["source"]), p.get("locator"), element["file"],
                                  element["line"], element["yaml_path"]))
    return out


def read_output(directory: Path) -> Site:
    """The studies and questions of ``output/r5`` (or ``output``), with their Evidence."""
    if (directory / "r5").is_dir():
        directory = directory / "r5"
    resources = [json.loads(p.read_bytes(), parse_float=Decimal)
                 for p in sorted((directory / "resources").glob("*.json"))]
    source_map = json.loads((directory / "source-map.json").read_bytes(), parse_float=Decimal)
    mapped = {e["resource"]: e for e in source_map.get("resources", [])}
    by_key = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    about: dict[str, Json] = {}
    for r in resources:
        if r["resourceType"] == "ArtifactAssessment" and "artifactReference" in r \
                and EBM + "certainty-of-evidence" in r.get("meta", {}).get("profile", []):
            about[r["artifactReference"]["reference"]] = r
    reports = [r for r in resources if r["resourceType"] == "Composition"]
    study_of: dict[str, str] = {}
    for report in reports:
        if (_SECTIONS, "EvidenceReport") in _codes(report.get("type")):
            for section in _walk(report.get("section", [])):
                for entry in section.get("entry", []):
                    study_of.setdefault(entry.get("reference", ""), report["id"])
    for report in reports:  # the measure reports' Evidence belong to the study report they are part of
        parent = next((rel["resourceReference"]["reference"].removeprefix("Composition/")
                       for rel in report.get("relatesTo", []) if rel.get("type") == "part-of"), None)
        if parent is not None:
            for section in _walk(report.get("section", [])):
                for entry in section.get("entry", []):
                    study_of.setdefault(entry.get("reference", ""), parent)
    evidence: dict[str, EvidenceView] = {}
    for r in resources:
        if r["resourceType"] != "Evidence":
            continue
        key = f"Evidence/{r['id']}"
        assessment = about.get(key)
        content = (assessment or {}).get("content", [{}])[0]
        evidence[r["id"]] = EvidenceView(
            r["id"], r.get("title", r["id"]), str(r.get("description", "")),
            [_estimate(i, s) for i, s in enumerate(r.get("statistic", []))], _provenance(mapped.get(key)),
            study_of.get(key), _code_of((content.get("classifier") or [None])[0],
                                        "http://hl7.org/fhir/certainty-rating") if assessment else None,
            content.get("summary"), synthesis=EBM + "evidence-synthesis-evidence" in r.get("meta", {}).get("profile", []),
            reported_in=[_cited(by_key, a["resourceReference"]) for a in r.get("relatedArtifact", [])
                         if a.get("type") == "derived-from" and "resourceReference" in a])
    designs: dict[str, list[str]] = {}  # study report id -> the design codes its Evidence carry
    syntheses: dict[str, EvidenceView] = {}  # outcome variable reference -> its synthesis Evidence
    for r in resources:
        if r["resourceType"] != "Evidence":
            continue
        view = evidence[r["id"]]
        if view.study is not None:  # the study's design: every code its Evidence carry (a period's are fewer)
            shown = designs.setdefault(view.study, [])
            shown += [d for c in r.get("studyDesign", [])
                      if (d := str(c.get("coding", [{}])[0].get("display", ""))) not in shown]
        if view.synthesis:
            for v in r.get("variableDefinition", []):
                syntheses.setdefault(v.get("observed", {}).get("reference", ""), view)
    studies = [_study(r, by_key, evidence, mapped, designs.get(r["id"], [])) for r in reports
               if (_SECTIONS, "EvidenceReport") in _codes(r.get("type"))]
    questions = [_question(r, by_key, evidence, about, syntheses) for r in reports
                 if (_SECTIONS, "SummaryOfFindings") in _codes(r.get("type"))]
    return Site(sorted(studies, key=lambda s: s.id), sorted(questions, key=lambda q: q.id), evidence, directory)


def _cited(by_key: dict[str, Json], reference: Json) -> str:
    """How a page names a cited report: its Citation's summary, else its title (without 'Citation for')."""
    citation = by_key.get(str(reference.get("reference", "")), {})
    summary = (citation.get("summary") or [{}])[0].get("text")
    return str(summary or str(citation.get("title", reference.get("display", ""))).removeprefix("Citation for "))


def _walk(sections: list[Json]) -> list[Json]:
    out = []
    for section in sections:
        out.append(section)
        out += _walk(section.get("section", []))
    return out


def _text(section: Json) -> str:
    """A section's narrative as plain text (its paragraphs joined)."""
    return " ".join(_paragraphs(section))


def _section(report: Json, code: str) -> Json | None:
    return next((s for s in report.get("section", []) if (_SECTIONS, code) in _codes(s.get("code"))), None)


def _study(report: Json, by_key: dict[str, Json], evidence: dict[str, EvidenceView], mapped: dict[str, Json],
           study_design: list[str]) -> StudyView:
    citation = by_key.get((report.get("subject") or [{}])[0].get("reference", ""), {})
    identifiers = {i.get("system"): i.get("value") for i in citation.get("citedArtifact", {}).get("identifier", [])}
    links = [(str(w.get("classifier", [{}])[0].get("coding", [{}])[0].get("display", w["url"])), str(w["url"]))
             for w in citation.get("citedArtifact", {}).get("webLocation", [])]
    design = _section(report, "study-design") or {}
    groups = []
    for entry in (_section(report, "population") or {}).get("entry", []):
        group = by_key.get(entry.get("reference", ""), {})
        profile = next(iter(group.get("meta", {}).get("profile", [])), "").removeprefix(EBM)
        derived = dict(_derived_methods(group.get("extension", []))).get("quantity")  # an N the author derived
        groups.append((str(group.get("name", entry.get("display", ""))), group.get("quantity"), profile,
                       str(group.get("description", "")), derived))
    rows: list[Row] = []
    for code, kind in (("outcome-measures", "outcome"), ("baseline-measures", "baseline")):
        for entry in (_section(report, code) or {}).get("entry", []):
            sub = by_key.get(entry.get("reference", ""), {})
            results = _section(sub, "results") or {}
            for j, row in enumerate(results.get("section", [])):
                columns = [(_COLUMNS.get(c, c), evidence[e["reference"].removeprefix("Evidence/")])
                           for col in row.get("section", []) for _, c in _codes(col.get("code"))
                           for e in col.get("entry", []) if e.get("reference", "").removeprefix("Evidence/") in evidence]
                # a finding's row: its words, then the source notes (which the source map gives here too)
                finding = (_paragraphs(row) or [""])[0] if "text" in row and not row.get("section") else None
                prov: list[Provenance] = []
                if finding is not None:
                    where = mapped.get(f"Composition/{sub['id']}", {})
                    prov = _provenance({"elements": [e for e in where.get("elements", [])
                                                     if e["fhir_path"].endswith(f".section[{j}].text")]})
                rows.append(Row(str(row.get("title", "")), kind, columns, finding, prov))
    discussion = _section(report, "discussion") or {}
    rob = next((by_key[e["reference"]] for e in discussion.get("entry", [])
                if e.get("reference", "") in by_key
                and EBM + "risk-of-bias" in by_key[e["reference"]].get("meta", {}).get("profile", [])), None)
    risk = None
    if rob is not None:
        content = rob.get("content", [{}])[0]
        rating = (content.get("classifier") or [{}])[0].get("coding", [{}])[0].get("display", "")
        risk = (str(rating), str(content.get("summary", "")))
    where = mapped.get(f"Composition/{report['id']}", {})
    return StudyView(report["id"], str(report.get("title", report["id"])), str(where.get("file", "")),
                     str((citation.get("summary") or [{}])[0].get("text", citation.get("title", ""))),
                     identifiers.get("https://pubmed.ncbi.nlm.nih.gov"), identifiers.get("https://doi.org"), links,
                     _text(design), study_design, groups, rows,
                     [p for p in _paragraphs(discussion)], risk,
                     reports=[_cited(by_key, e) for e in (_section(report, "references") or {}).get("entry", [])])


def _paragraphs(section: Json) -> list[str]:
    """The paragraphs of a section's generated narrative (compile writes its text as <p> elements)."""
    return [unescape(p) for p in re.findall(r"<p>(.*?)</p>", section.get("text", {}).get("div", ""), re.S)]


def _question(sof: Json, by_key: dict[str, Json], evidence: dict[str, EvidenceView], about: dict[str, Json],
              syntheses: dict[str, EvidenceView]) -> QuestionView:
    question_id = sof["id"].removesuffix("-summary-of-findings")
    outcomes = []
    for entry in sof.get("section", []):
        if (_SECTIONS, "summary-of-findings-entry-for-a-single-outcome") not in _codes(entry.get("code")):
            continue
        variable = entry.get("focus", {}).get("reference", "")
        synthesis = syntheses.get(variable)
        columns = {str(s.get("title", "")): _text(s) for s in entry.get("section", [])}
        assessment = about.get(f"Evidence/{synthesis.id}") if synthesis is not None else None
        content = (assessment or {}).get("content", [{}])[0]
        footnotes = []
        for component in content.get("component", []):
            rating = _code_of((component.get("classifier") or [None])[0], "http://hl7.org/fhir/certainty-rating")
            if rating in ("serious-concern", "very-serious-concern"):
                domain = (component.get("type", {}).get("coding") or [{}])[0].get("display", "")
                footnotes.append((str(domain), "very serious" if rating == "very-serious-concern" else "serious",
                                  str(component.get("summary", ""))))
        cited = []
        if synthesis is not None:
            resource = by_key[f"Evidence/{synthesis.id}"]
            cited = [evidence[a["resourceReference"]["reference"].removeprefix("Evidence/")]
                     for a in resource.get("relatedArtifact", []) if a.get("type") == "composed-of"
                     and a.get("resourceReference", {}).get("reference", "").removeprefix("Evidence/") in evidence]
        outcome_text = columns.get("Outcome", entry.get("title", ""))
        importance = outcome_text[outcome_text.rfind("(") + 1:-1] if outcome_text.endswith(")") else ""
        outcomes.append(OutcomeView(variable.removeprefix("EvidenceVariable/"), str(entry.get("title", "")),
                                    importance, columns.get("Studies and participants", ""), columns,
                                    _code_of((content.get("classifier") or [None])[0],
                                             "http://hl7.org/fhir/certainty-rating") if assessment else None,
                                    str(content.get("summary", "")), footnotes, cited, synthesis))
    return QuestionView(question_id, str(sof.get("title", question_id)), sof["id"], outcomes)


def number(value: Decimal | None, percent: bool = False) -> str:
    """A JSON decimal as written (``0.80`` stays ``0.80``), or moved two places for percent (``80``)."""
    if value is None:
        return ""
    return format(value.scaleb(2) if percent else value, "f")


def grade(code: str | None) -> str:
    """GRADE's symbols and words for a certainty-rating code ('⊕⊕◯◯ Low')."""
    return GRADE.get(code or "", "Not rated")
