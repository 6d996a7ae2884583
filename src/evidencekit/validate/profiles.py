"""Layer 3: required elements and slices of the EBM-on-FHIR profiles we declare.

The EBM IG (R5 line, 1.0.0-ballot) is not obtainable as a package, so the
rules we rely on are written here from its FSH sources, as listed in
shared/reference/fhir-modeling.md §1. A resource is checked against every
profile in its ``meta.profile``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator
from collections import ChainMap

from ..diagnostics import Diagnostic
from ._base import Json, OutputSet, key_of

__all__ = ["PROFILE_RULES", "validate_profiles"]

EBM = "http://hl7.org/fhir/uv/ebm/StructureDefinition/"
_ROLE_EXT = EBM + "variable-definition-variable-role-code"
_VARDEF_EXT = EBM + "evidence-variable-definition"
_COMPARATOR_EXT = EBM + "variable-definition-comparator-category"
Problem = tuple[str, str]  # (fhir path, message)
Resolver = Callable[[Json], Json | None]


def _profiles(resource: Json | None) -> set[str]:
    if not resource:
        return set()
    return {p.removeprefix(EBM) for p in resource.get("meta", {}).get("profile", []) if p.startswith(EBM)}


def _codes(concept: Json | None) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding", [])}


def _knowledge_artifact_type(profile: str, classifier: tuple[str, str], display: str,
                             r: Json) -> Iterator[Problem]:
    """A Citation profile's knowledgeArtifactType slice: exactly one, with the profile's classifier."""
    slices = [c for c in r.get("citedArtifact", {}).get("classification", [])
              if ("http://hl7.org/fhir/cited-artifact-classification-type", "knowledge-artifact-type")
              in _codes(c.get("type"))]
    if len(slices) != 1:
        yield ("Citation.citedArtifact.classification",
               f"{profile}: slice knowledgeArtifactType is 1..1, found {len(slices)}")
    elif not any(classifier in _codes(c) for c in slices[0].get("classifier", [])):
        yield ("Citation.citedArtifact.classification",
               f"{profile}: knowledgeArtifactType classifier must be {classifier[1]} {display}")


def journal_article_citation(r: Json, resolve: Resolver) -> Iterator[Problem]:
    if "effectivePeriod" in r:
        yield "Citation.effectivePeriod", "journal-article-citation: effectivePeriod is 0..0"
    yield from _knowledge_artifact_type("journal-article-citation",
                                        ("http://hl7.org/fhir/citation-artifact-classifier", "D016428"),
                                        "Journal Article", r)


def database_entry_citation(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """A record within a database (here: a trial registry's record); published in a Database."""
    yield from _knowledge_artifact_type("database-entry-citation",
                                        ("https://fevir.net/resources/CodeSystem/179423",
                                         "classified-as-database-entry"), "Database Entry", r)
    for i, form in enumerate(r.get("citedArtifact", {}).get("publicationForm", [])):
        published = form.get("publishedIn", {})
        if "type" in published and ("http://hl7.org/fhir/published-in-type", "D019991") not in _codes(published["type"]):
            yield (f"Citation.citedArtifact.publicationForm[{i}].publishedIn.type",
                   "database-entry-citation: publishedIn.type is fixed to D019991 Database")


def web_page_citation(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """A web page: at least one webLocation, published in a Website."""
    if not r.get("citedArtifact", {}).get("webLocation"):
        yield "Citation.citedArtifact.webLocation", "web-page-citation: webLocation is 1..*"
    yield from _knowledge_artifact_type("web-page-citation",
                                        ("http://hl7.org/fhir/citation-artifact-classifier", "webpage"), "Webpage", r)
    for i, form in enumerate(r.get("citedArtifact", {}).get("publicationForm", [])):
        published = form.get("publishedIn", {})
        if "type" in published and published["type"].get("text") != "Website":
            yield (f"Citation.citedArtifact.publicationForm[{i}].publishedIn.type.text",
                   "web-page-citation: publishedIn.type.text is fixed to 'Website'")


def evidence_r6(r: Json, resolve: Resolver) -> Iterator[Problem]:
    for i, vd in enumerate(r.get("variableDefinition", [])):
        roles = [e for e in vd.get("extension", []) if e.get("url") == _ROLE_EXT]
        if len(roles) != 1 or roles[0].get("valueCode") not in ("population", "exposure", "outcome", "covariate"):
            yield (f"Evidence.variableDefinition[{i}].extension",
                   "evidence-r6: variableRoleCode extension is 1..1 (population|exposure|outcome|covariate)")
    for i, st in enumerate(r.get("statistic", [])):
        for j, mc in enumerate(st.get("modelCharacteristic", [])):
            if "value" in mc:
                yield f"Evidence.statistic[{i}].modelCharacteristic[{j}].value", "evidence-r6: value is 0..0"


def single_study_evidence(r: Json, resolve: Resolver) -> Iterator[Problem]:
    if ("http://terminology.hl7.org/CodeSystem/synthesis-type", "NotApplicable") not in _codes(r.get("synthesisType")):
        yield "Evidence.synthesisType", "single-study-evidence: synthesisType is fixed to NotApplicable"


_POPULATION_TARGETS = {"study-group", "exposure-group", "comparator-group", "metaanalysis-study-group"}


def non_comparative_evidence(r: Json, resolve: Resolver) -> Iterator[Problem]:
    defs = r.get("variableDefinition", [])
    if len(defs) < 2:
        yield "Evidence.variableDefinition", "non-comparative-evidence: variableDefinition is 2..*"
    by_slice = _slices(defs, ("population", "outcome"))
    for name, indexes in by_slice.items():
        if not indexes:
            yield "Evidence.variableDefinition", f"non-comparative-evidence: slice {name} is 1..*"
    yield from _observed_targets("non-comparative-evidence", "population", by_slice["population"], defs, resolve,
                                 _POPULATION_TARGETS, _POPULATION_NAMES)
    yield from _observed_targets("non-comparative-evidence", "outcome", by_slice["outcome"], defs, resolve,
                                 {"variable-definition"}, "a VariableDefinition")


def _observed_targets(profile: str, slice_name: str, indexes: list[int], defs: list[Json], resolve: Resolver,
                      allowed: set[str], named: str) -> Iterator[Problem]:
    """Each slice member's ``observed`` target declares one of the ``allowed`` profiles."""
    for i in indexes:
        target = resolve(defs[i].get("observed", {}))
        if target is not None and not (_profiles(target) & allowed):
            yield (f"Evidence.variableDefinition[{i}].observed",
                   f"{profile}: {slice_name} observed must be {named}")


_POPULATION_NAMES = "a StudyGroup, ExposureGroup, ComparatorGroup or MetaanalysisStudyGroup"


def _slices(defs: list[Json], names: tuple[str, ...]) -> dict[str, list[int]]:
    by_slice: dict[str, list[int]] = {name: [] for name in names}
    for i, vd in enumerate(defs):
        notes = [n.get("text") for n in vd.get("note", [])]
        for name in names:
            if name in notes:
                by_slice[name].append(i)
    return by_slice


def _role_code(vd: Json) -> str | None:
    return next((e.get("valueCode") for e in vd.get("extension", []) if e.get("url") == _ROLE_EXT), None)


def comparative_evidence(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """ComparativeEvidence: population 1..*, exposure 1..1 (a GroupAssignment, with the
    comparator-category extension naming one of its categories), outcome 1..*."""
    defs = r.get("variableDefinition", [])
    if len(defs) < 3:
        yield "Evidence.variableDefinition", "comparative-evidence: variableDefinition is 3..*"
    by_slice = _slices(defs, ("population", "exposure", "outcome"))
    for name in ("population", "outcome"):
        if not by_slice[name]:
            yield "Evidence.variableDefinition", f"comparative-evidence: slice {name} is 1..*"
    if len(by_slice["exposure"]) != 1:
        yield ("Evidence.variableDefinition",
               f"comparative-evidence: slice exposure is 1..1, found {len(by_slice['exposure'])}")
    for name, indexes in by_slice.items():
        for i in indexes:
            if _role_code(defs[i]) != name:
                yield (f"Evidence.variableDefinition[{i}].extension",
                       f"comparative-evidence: slice {name} needs variableRoleCode {name}")
            comparators = [e for e in defs[i].get("extension", []) if e.get("url") == _COMPARATOR_EXT]
            if name == "exposure" and len(comparators) != 1:
                yield (f"Evidence.variableDefinition[{i}].extension",
                       "comparative-evidence: exposure needs exactly one comparator-category extension")
            if name == "outcome" and comparators:
                yield (f"Evidence.variableDefinition[{i}].extension",
                       "comparative-evidence: outcome has no comparator-category extension (0..0)")
    yield from _observed_targets("comparative-evidence", "population", by_slice["population"], defs, resolve,
                                 _POPULATION_TARGETS, _POPULATION_NAMES)
    yield from _observed_targets("comparative-evidence", "exposure", by_slice["exposure"], defs, resolve,
                                 {"group-assignment"}, "a GroupAssignment")
    yield from _observed_targets("comparative-evidence", "outcome", by_slice["outcome"], defs, resolve,
                                 {"variable-definition", "group-assignment"}, "a VariableDefinition")
    for i in by_slice["exposure"]:
        target = resolve(defs[i].get("observed", {}))
        comparator = next((e.get("valueString") for e in defs[i].get("extension", [])
                           if e.get("url") == _COMPARATOR_EXT), None)
        names = [c.get("name") for c in (target or {}).get("category", [])]
        if target is not None and comparator is not None and comparator not in names:
            yield (f"Evidence.variableDefinition[{i}].extension",
                   f"comparative-evidence: comparator category '{comparator}' is not a category of "
                   f"{target.get('resourceType')}/{target.get('id')}")


def _arm_evidence(profile: str, targets: set[str]) -> Callable[[Json, Resolver], Iterator[Problem]]:
    def rule(r: Json, resolve: Resolver) -> Iterator[Problem]:
        defs = r.get("variableDefinition", [])
        yield from _observed_targets(profile, "population", _slices(defs, ("population",))["population"], defs,
                                     resolve, targets, "one of " + ", ".join(sorted(targets)))
    rule.__name__ = profile.replace("-", "_")
    return rule


intervention_only_evidence = _arm_evidence("intervention-only-evidence", {"exposure-group", "metaanalysis-study-group"})
comparator_only_evidence = _arm_evidence("comparator-only-evidence",
                                         {"exposure-group", "comparator-group", "metaanalysis-study-group"})


def group_assignment(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """GroupAssignment: definition coded as defined-in-handling-and-category; 2..* named categories."""
    defs = [e for e in r.get("extension", []) if e.get("url") == _VARDEF_EXT]
    codes = _codes(((defs[0].get("valueCodeableReference") or {}).get("concept")) if defs else None)
    if len(codes) != 1 or ("https://fevir.net/resources/CodeSystem/179423", "defined-in-handling-and-category") \
            not in codes:
        yield ("EvidenceVariable.extension",
               "group-assignment: definition concept is 1..1 defined-in-handling-and-category")
    categories = r.get("category", [])
    if len(categories) < 2:
        yield "EvidenceVariable.category", "group-assignment: category is 2..*"
    for i, category in enumerate(categories):
        if not category.get("name"):
            yield f"EvidenceVariable.category[{i}].name", "group-assignment: category.name is 1..1"


def variable_definition(r: Json, resolve: Resolver) -> Iterator[Problem]:
    defs = [e for e in r.get("extension", []) if e.get("url") == _VARDEF_EXT]
    if len(defs) != 1 or "valueCodeableReference" not in defs[0]:
        yield "EvidenceVariable.extension", "variable-definition: evidence-variable-definition extension is 1..1"
    if r.get("characteristic"):
        yield "EvidenceVariable.characteristic", "variable-definition: characteristic is 0..0"
    if not r.get("handling"):
        yield "EvidenceVariable.handling", "variable-definition: handling is 1..1"


def evidence_synthesis_evidence(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """EvidenceSynthesisEvidence: synthesisType 1..1 (how the studies were combined)."""
    if not r.get("synthesisType"):
        yield "Evidence.synthesisType", "evidence-synthesis-evidence: synthesisType is 1..1"
    elif ("http://terminology.hl7.org/CodeSystem/synthesis-type", "NotApplicable") in _codes(r.get("synthesisType")):
        yield "Evidence.synthesisType", "evidence-synthesis-evidence: a synthesis is not 'NotApplicable'"


def study_group(r: Json, resolve: Resolver) -> Iterator[Problem]:
    if r.get("membership") != "enumerated":
        yield "Group.membership", "study-group: membership is fixed to enumerated"


def cohort_definition(r: Json, resolve: Resolver) -> Iterator[Problem]:
    if r.get("membership") != "definitional":
        yield "Group.membership", "cohort-definition: membership is fixed to definitional"
    for element in ("quantity", "member"):
        if element in r:
            yield f"Group.{element}", f"cohort-definition: {element} is 0..0"


def evidence_report(r: Json, resolve: Resolver) -> Iterator[Problem]:
    subjects = r.get("subject", [])
    if len(subjects) > 1:
        yield "Composition.subject", "evidence-report: subject is 0..1"
    for i, subject in enumerate(subjects):
        if subject.get("type") not in (None, "Citation", "ArtifactAssessment", "Group", "ResearchStudy"):
            yield f"Composition.subject[{i}]", "evidence-report: subject must be a Citation, Classification, " \
                                               "EvidenceReportSubject or ResearchStudy"


_SOF = "https://fevir.net/resources/CodeSystem/179423"


def summary_of_findings(r: Json, resolve: Resolver) -> Iterator[Problem]:
    """SummaryOfFindings: type SummaryOfFindings; sections column-headers 1..1 and outcome entries 1..*,
    each entry focused on a VariableDefinition."""
    if (_SOF, "SummaryOfFindings") not in _codes(r.get("type")):
        yield "Composition.type", "summary-of-findings: type is SummaryOfFindings"
    sections = r.get("section", [])
    headers = [s for s in sections if (_SOF, "column-headers") in _codes(s.get("code"))]
    entries = [(i, s) for i, s in enumerate(sections)
               if (_SOF, "summary-of-findings-entry-for-a-single-outcome") in _codes(s.get("code"))]
    if len(headers) != 1:
        yield "Composition.section", f"summary-of-findings: slice columnHeaders is 1..1, found {len(headers)}"
    elif len(headers[0].get("section", [])) < 2:
        yield "Composition.section", "summary-of-findings: columnHeaders.section is 2..*"
    if not entries:
        yield "Composition.section", "summary-of-findings: slice outcomeEntry is 1..*"
    for i, entry in entries:
        target = resolve(entry.get("focus", {}))
        if target is not None and "variable-definition" not in _profiles(target):
            yield f"Composition.section[{i}].focus", "summary-of-findings: outcomeEntry.focus must be a VariableDefinition"
        if not entry.get("section"):
            yield f"Composition.section[{i}].section", "summary-of-findings: outcomeEntry.section is 1..*"


_COLUMNS = {"evidence-with-comparator-alone": "non-comparative-evidence",
            "evidence-with-intervention-alone": "non-comparative-evidence",
            "evidence-with-total-group": "non-comparative-evidence",
            "evidence-with-intervention-vs-comparator": "comparative-evidence"}
_NON_COMPARATIVE = {"non-comparative-evidence", "intervention-only-evidence", "comparator-only-evidence",
                    "baseline-measure-evidence", "participant-flow-evidence"}


def _measure_report(kind: str, report_type: str, r: Json, resolve: Resolver) -> Iterator[Problem]:
    """OutcomeMeasureReport / BaselineMeasureReport: the fixed type; a results section whose rows
    (1..*) each focus on a VariableDefinition and hold at most one Evidence per column, of the
    column's profile."""
    codings = r.get("type", {}).get("coding", [])
    if len(codings) != 1 or (codings[0].get("system"), codings[0].get("code")) != (_SOF, report_type):
        yield "Composition.type.coding", f"{kind}: type.coding is 1..1, fixed to {report_type}"
    for i, section in enumerate(r.get("section", [])):
        if (_SOF, "results") not in _codes(section.get("code")):
            continue
        rows = section.get("section", [])
        if not rows:
            yield f"Composition.section[{i}].section", f"{kind}: results.section is 1..*"
        for j, row in enumerate(rows):
            at = f"Composition.section[{i}].section[{j}]"
            target = resolve(row.get("focus", {}))
            if target is not None and not _profiles(target) & {"variable-definition", "group-assignment"}:
                yield f"{at}.focus", f"{kind}: a results row's focus must be a VariableDefinition"
            for k, column in enumerate(row.get("section", [])):
                wanted = next((_COLUMNS[code] for system, code in _codes(column.get("code")) if system == _SOF
                               and code in _COLUMNS), None)
                if wanted is None:
                    continue
                entries = column.get("entry", [])
                if len(entries) > 1:
                    yield f"{at}.section[{k}].entry", f"{kind}: a column holds at most one Evidence"
                if kind == "baseline-measure-report":
                    wanted = "comparative-baseline-measure-evidence" if wanted == "comparative-evidence" \
                        else "baseline-measure-evidence"
                allowed = _NON_COMPARATIVE if wanted == "non-comparative-evidence" else {wanted}
                for m, entry in enumerate(entries):
                    evidence = resolve(entry)
                    if evidence is not None and not _profiles(evidence) & allowed:
                        yield f"{at}.section[{k}].entry[{m}]", f"{kind}: this column holds a {wanted} Evidence"


def outcome_measure_report(r: Json, resolve: Resolver) -> Iterator[Problem]:
    yield from _measure_report("outcome-measure-report", "OutcomeMeasureReport", r, resolve)


def baseline_measure_report(r: Json, resolve: Resolver) -> Iterator[Problem]:
    yield from _measure_report("baseline-measure-report", "BaselineMeasureReport", r, resolve)


def risk_of_bias(r: Json, resolve: Resolver) -> Iterator[Problem]:
    target = r.get("artifactReference")
    if target is None:
        yield "ArtifactAssessment.artifact[x]", "risk-of-bias: artifactReference is required"
    elif target.get("type") not in ("Evidence", "Composition", "ResearchStudy", "Citation"):
        yield ("ArtifactAssessment.artifactReference",
               "risk-of-bias: artifactReference must be an Evidence, Composition, ResearchStudy or Citation")


def _narrative(r: Json, resolve: Resolver) -> Iterator[Problem]:
    if not r.get("text", {}).get("div"):
        yield f"{r.get('resourceType')}.text", "evidencekit: every resource carries a generated narrative"


#: profile id -> rules; a derived profile lists its parents' rules too.
PROFILE_RULES: dict[str, tuple[Callable[[Json, Resolver], Iterator[Problem]], ...]] = {
    "journal-article-citation": (journal_article_citation,),
    "database-entry-citation": (database_entry_citation,),
    "web-page-citation": (web_page_citation,),
    "evidence-r6": (evidence_r6,),
    "single-study-evidence": (evidence_r6, single_study_evidence),
    "non-comparative-evidence": (evidence_r6, non_comparative_evidence),
    "baseline-measure-evidence": (evidence_r6, non_comparative_evidence),
    "intervention-only-evidence": (evidence_r6, non_comparative_evidence, intervention_only_evidence),
    "comparator-only-evidence": (evidence_r6, non_comparative_evidence, comparator_only_evidence),
    "comparative-evidence": (evidence_r6, comparative_evidence),
    "evidence-synthesis-evidence": (evidence_r6, evidence_synthesis_evidence),
    "variable-definition": (variable_definition,),
    "group-assignment": (variable_definition, group_assignment),
    "study-group": (study_group,),
    "exposure-group": (),
    "comparator-group": (),
    "cohort-definition": (cohort_definition,),
    "study-eligibility-criteria": (cohort_definition,),
    "evidence-report": (evidence_report,),
    "summary-of-findings": (evidence_report, summary_of_findings),
    "outcome-measure-report": (evidence_report, outcome_measure_report),
    "baseline-measure-report": (evidence_report, baseline_measure_report),
    "risk-of-bias": (risk_of_bias,),
    "certainty-of-evidence": (),
}


def validate_profiles(output: OutputSet) -> Iterator[Diagnostic]:
    """Check each resource against the EBM profiles it declares (and that we know)."""
    by_key = ChainMap({key_of(r): r for r in output.resources}, output.context.by_key)

    def resolve(reference: Any) -> Json | None:
        ref = reference.get("reference") if isinstance(reference, dict) else None
        return by_key.get(ref) if isinstance(ref, str) else None

    for resource in output.resources:
        k = key_of(resource)
        problems: list[Problem] = list(_narrative(resource, resolve))
        done: set[Callable[..., Any]] = set()
        for profile in resource.get("meta", {}).get("profile", []):
            name = profile.removeprefix(EBM)
            if not profile.startswith(EBM) or name not in PROFILE_RULES:
                problems.append((f"{resource.get('resourceType')}.meta.profile",
                                 f"profile {profile} is not one evidencekit knows how to check"))
                continue
            for rule in PROFILE_RULES[name]:
                if rule not in done:
                    done.add(rule)
                    problems.extend(rule(resource, resolve))
        for fhir_path, message in problems:
            yield output.diag(k, "EK403", f"{k}: {message}", fhir_path)
