"""The whole study -> an EvidenceReport Composition, with an outcome-measure report and a
baseline-measure report beneath it (EBM IG: evidence-report, outcome-measure-report,
baseline-measure-report).

A measure report has one ``results`` section; inside it one row per measured variable (focus:
its VariableDefinition), and inside a row at most one Evidence per column: intervention alone,
comparator alone, total group, intervention vs comparator. A result about a subgroup opens a
row of its own, and so does a second result for a column already filled (another analysis
set). A ``finding`` (a result the source states in words, with no statistic) is not Evidence:
it is a row with the variable as focus and the source's words as its text.
"""

from __future__ import annotations

from html import escape

from ..definitions.model import Result
from .citation import report_ref
from .context import EBM, CompileContext, CompiledResource, Json, div, provenance_note
from .variables import outcome_variable_id

__all__ = ["compile_report"]

_SECTIONS = "https://fevir.net/resources/CodeSystem/179423"
#: the EBM IG's codes for the report types (FEvIR CodeSystem 179423, as shipped in the IG's examples)
_TYPES = {"study": ("EvidenceReport", "Evidence Report"), "outcome": ("OutcomeMeasureReport", "Outcome Measure Report"),
          "baseline": ("BaselineMeasureReport", "Baseline Measure Report")}
#: a measure report's columns: (code, display), in the IG's order
_COLUMNS = {
    "comparator": ("evidence-with-comparator-alone", "Evidence with comparator alone"),
    "intervention": ("evidence-with-intervention-alone", "Evidence with intervention alone"),
    "total": ("evidence-with-total-group", "Evidence with total group"),
    "comparative": ("evidence-with-intervention-vs-comparator", "Evidence with intervention vs. comparator"),
}
_GROUP_SLICES = {"total": ("population", "Population"), "intervention": ("intervention-group", "Intervention Group"),
                 "comparator": ("comparator-group", "Comparator Group")}


def _code(code: str, display: str) -> Json:
    return {"coding": [{"system": _SECTIONS, "code": code, "display": display}]}


def _text(paragraphs: list[str]) -> Json:
    return {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                                          + "".join(f"<p>{escape(t)}</p>" for t in paragraphs) + "</div>"}


def _section(code: str, display: str, title: str, entries: list[Json] | None = None,
             text: list[str] | None = None) -> Json:
    section: Json = {"title": title, "code": _code(code, display)}
    if text:
        section["text"] = _text(text)
    if entries:
        section["entry"] = entries
    return section


def _profiles(resource: Json) -> set[str]:
    return {p.removeprefix(EBM) for p in resource.get("meta", {}).get("profile", [])}


def _role(resource: Json, role: str) -> Json | None:
    """The observed reference of the variableDefinition with this EBM role."""
    for vd in resource.get("variableDefinition", []):
        if any(e.get("valueCode") == role for e in vd.get("extension", [])):
            return vd.get("observed")
    return None


def _column(evidence: Json, group_profiles: dict[str, str]) -> str:
    """The measure-report column an Evidence belongs in (``group_profiles``: 'Group/id' -> profile)."""
    profiles = _profiles(evidence)
    if "comparative-evidence" in profiles:
        return "comparative"
    if "intervention-only-evidence" in profiles:
        return "intervention"
    if "comparator-only-evidence" in profiles:
        return "comparator"
    if "baseline-measure-evidence" in profiles:
        group = group_profiles.get((_role(evidence, "population") or {}).get("reference", ""))
        return {"comparator-group": "comparator", "exposure-group": "intervention"}.get(group or "", "total")
    return "total"


class _Rows:
    """The rows of one measure report, in the order results were authored."""

    def __init__(self) -> None:
        self.rows: list[Json] = []
        self._open: dict[tuple[str, str | None], Json] = {}

    def add(self, variable: Json, scope: str | None, scope_title: str | None, group_title: str, column: str,
            entry: Json) -> None:
        """Put ``entry`` in the row of (variable, scope); a filled column opens a row named by its group."""
        key = (variable["reference"], scope)
        row = self._open.get(key)
        if row is None or column in row["columns"]:
            title = variable.get("display", "")
            if scope_title is not None:
                title += f" in {scope_title}"
            elif row is not None:
                title += f" in {group_title}"
            fresh: Json = {"title": title, "focus": variable, "columns": {}}
            self.rows.append(fresh)
            self._open.setdefault(key, fresh)
            row = fresh
        row["columns"][column] = entry

    def add_finding(self, variable: Json, result: Result) -> Json:
        row = {"title": result.text, "focus": variable, "columns": {}, "finding": result}
        self.rows.append(row)
        return row


def _row_section(ctx: CompileContext, row: Json) -> Json:
    section: Json = {"title": row["title"], "focus": row["focus"]}
    finding: Result | None = row.get("finding")
    if finding is not None:
        section["text"] = _text([finding.text, *(note["text"] for note in provenance_note(ctx, finding.provenance))])
        return section
    section["section"] = [{"code": _code(*_COLUMNS[c]), "entry": [row["columns"][c]]}
                          for c in _COLUMNS if c in row["columns"]]
    return section


def _measure_report(ctx: CompileContext, kind: str, rows: _Rows, parent: str, groups: dict[str, list[Json]],
                    findings: list[tuple[int, int, Result]]) -> Json:
    """An outcome- or baseline-measure report (Composition) of the study."""
    study = ctx.study
    rid = ctx.rid(f"{kind}-measures")
    code, text = _TYPES[kind]
    title = f"{text}: {study.title}"
    citation = ctx.ref("Citation", ctx.rid("citation"), study.citation.title)
    variables: dict[str, Json] = {}  # each focus once, as first seen
    for row in rows.rows:
        variables.setdefault(row["focus"]["reference"], row["focus"])
    sections: list[Json] = []
    group_sections = [_section(*_GROUP_SLICES[slot], title=_GROUP_SLICES[slot][1], entries=entries)
                      for slot, entries in groups.items() if entries]
    if group_sections:
        sections.append({"title": "Groups", "code": _code("groups", "Groups"), "section": group_sections})
    sections.append(_section("variables", "Variables", "Variables", list(variables.values())))
    sections.append({"title": "Results", "code": _code("results", "Results"),
                     "section": [_row_section(ctx, row) for row in rows.rows]})
    resource: Json = {
        "resourceType": "Composition",
        "id": rid,
        "meta": {"profile": [EBM + f"{kind}-measure-report"]},
        "text": div(title, ("Results", [row["title"] for row in rows.rows])),
        "url": ctx.url("Composition", rid),
        "version": ctx.config.version,
        "status": "final",
        "type": {"coding": [{"system": _SECTIONS, "code": code, "display": code}], "text": text},
        "subject": [citation],
        "date": study.date,
        "author": [{"display": ctx.config.publisher}],
        "title": title,
        "relatesTo": [{"type": "part-of", "label": "Part of",
                       "resourceReference": ctx.ref("Composition", parent, study.title)},
                      {"type": "derived-from", "label": "Derived from", "resourceReference": citation}],
        "section": sections,
    }
    compiled = ctx.add(resource)
    _map_findings(ctx, compiled, rows, findings)
    return resource


def _map_findings(ctx: CompileContext, compiled: CompiledResource, rows: _Rows,
                  findings: list[tuple[int, int, Result]]) -> None:
    results_at = len(compiled.resource["section"]) - 1
    for row_index, result_index, result in findings:
        ctx.element(compiled, f"Composition.section[{results_at}].section[{row_index}].text",
                    ("results", result_index, "text"), result.text, result.provenance)


def compile_report(ctx: CompileContext, resources: list[Json]) -> Json:
    """The study's EvidenceReport, and its measure reports (each only when it has a row)."""
    study = ctx.study
    rid = ctx.rid()
    by_id = {r["id"]: r for r in resources}
    group_profiles = {f"Group/{r['id']}": r["meta"]["profile"][0].removeprefix(EBM) for r in resources
                      if r["resourceType"] == "Group"}
    subgroups = {ctx.rid(s.id): s.title for s in study.population.subgroups}

    def refs(resource_type: str, predicate=lambda r: True) -> list[Json]:  # type: ignore[no-untyped-def]
        return [ctx.ref(resource_type, r["id"], r.get("title") or r.get("name"))
                for r in resources if r["resourceType"] == resource_type and predicate(r)]

    rows = {"baseline": _Rows(), "outcome": _Rows()}
    findings: dict[str, list[tuple[int, int, Result]]] = {"baseline": [], "outcome": []}
    evidence = [r for r in resources if r["resourceType"] == "Evidence"]
    for r in evidence:  # partitions first, then results, as compiled
        kind = "baseline" if "baseline-measure-evidence" in _profiles(r) else "outcome"
        population = _role(r, "population") or {}
        group = population.get("reference", "").removeprefix("Group/")
        rows[kind].add(_role(r, "outcome") or {}, group if group in subgroups else None, subgroups.get(group),
                       population.get("display", group), _column(r, group_profiles),
                       ctx.ref("Evidence", r["id"], r.get("title")))
    roles = {v.id: v.role for v in study.variables}
    for i, result in enumerate(study.results):
        if result.in_words:
            kind = "baseline" if roles.get(result.variable) == "baseline" else "outcome"
            variable = by_id[ctx.rid(outcome_variable_id(result))]
            row = rows[kind].add_finding(ctx.ref("EvidenceVariable", variable["id"], variable.get("title")), result)
            findings[kind].append((rows[kind].rows.index(row), i, result))
    groups: dict[str, list[Json]] = {
        "total": [study.population.id],
        "intervention": ([a.id for a in study.arms if a.role == "intervention"] if study.design.comparative
                         else [study.exposure.id] if study.exposure is not None else []),
        "comparator": [a.id for a in study.arms if a.role == "comparator"]}
    group_refs = {slot: [ctx.ref("Group", g["id"], g.get("title") or g.get("name"))
                         for g in (by_id.get(ctx.rid(local)) for local in locals_) if g is not None]
                  for slot, locals_ in groups.items()}
    reports = {kind: _measure_report(ctx, kind, rows[kind], rid, group_refs, findings[kind])
               for kind in ("baseline", "outcome") if rows[kind].rows}
    sections = [
        _section("study-design", "Study Design", "Study design", text=[study.design.summary]),
        _section("population", "Population", "Population", refs("Group")),
        _section("intervention", "Intervention", "Intervention" if not study.design.comparative else
                 "Interventions compared", refs("EvidenceVariable", lambda r: "group-assignment" in _profiles(r)
                                                or (study.exposure is not None
                                                    and r["id"] == ctx.rid(study.exposure.id)))),
    ]
    for kind, code, display, title in (("baseline", "baseline-measures", "Baseline Measures", "Baseline measures"),
                                       ("outcome", "outcome-measures", "Outcome Measures", "Outcome measures")):
        if kind in reports:
            sections.append(_section(code, display, title,
                                     [ctx.ref("Composition", reports[kind]["id"], reports[kind]["title"])]))
    # cmp-1: a section needs text, entries or sub-sections; an empty one is left out
    sections = [s for s in sections if "entry" in s or "text" in s]
    discussion = [f"Limitation: {lim.text}" for lim in study.limitations]
    if study.conclusion is not None:
        discussion.append(f"Investigators' conclusion: {study.conclusion.text}")
    assessments = refs("ArtifactAssessment")
    if discussion or assessments:
        sections.append(_section("discussion", "Discussion", "Limitations, risk of bias and certainty",
                                 assessments or None, discussion or None))
    reports = [report_ref(ctx, r) for r in study.report_ids()]  # the citation, then every further report
    sections.append(_section("references", "References", "References", reports))
    code, text = _TYPES["study"]
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
        "type": {"coding": [{"system": _SECTIONS, "code": code, "display": code}], "text": text},
        "subject": [ctx.ref("Citation", ctx.rid("citation"), study.citation.title)],
        "date": study.date,
        "author": [{"display": ctx.config.publisher}],
        "title": study.title,
        "relatesTo": [{"type": "derived-from", "label": "Derived from", "resourceReference": ref} for ref in reports],
        "section": sections,
    }
    ctx.add(resource)
    return resource
