"""A question's recommendation -> PlanDefinition (eca-rule), its ValueSets and override-reason
CodeSystem, and an ArtifactAssessment with the recommendation's justification: the question's
summary of findings and, per justifying outcome, its body of evidence and certainty.

The action's ``documentation`` lists, in order: the justification, the summary of findings
(label ``summary-of-findings``), then per justifying outcome its body-of-evidence Evidence
(label ``outcome``) followed by each study result that answers it (label ``result``),
randomized comparisons first, then the citations. ``evidencekit serve`` builds the card
from exactly this list.

The PlanDefinition carries the whole decision rule, so a CDS service can run from it:
each ``action.input`` is a DataRequirement whose ``id`` names a FHIRPath variable
(the patient's matching resources), and each ``action.condition`` is a FHIRPath
expression over those variables. ``evidencekit serve`` evaluates exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..definitions.loader import LoadedStudy
from ..definitions.model import Recommendation, Result, Study
from ..definitions.question import QuestionOutcome
from .context import CompileContext, Json, div
from ..terminology import concept
from .criteria import camel, compile_criteria

__all__ = ["compile_recommendation"]

PLAN_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "eca-rule",
             "display": "ECA Rule"}
_PRIORITY = {"info": "routine", "warning": "urgent", "critical": "stat"}


#: design kinds in the order a card lists their results (randomized comparisons first)
DESIGN_ORDER = {"parallel-randomized": (0, "randomized trial"), "crossover-randomized": (0, "randomized crossover trial"),
                "non-randomized-comparative": (1, "non-randomized comparative study"),
                "single-group": (2, "single-group study")}


#: SEVCO's randomized assignment (study-design codes are terminology keys)
_RANDOMIZED = "study-design:SEVCO:01003"


def study_label(study: Study, result: Result | None = None) -> str:
    """'Aggarwal 2022, randomized trial': first author, year and design, for card lines; a result
    measured outside the trial's randomized period (an open-label extension) says so."""
    cited = study.citation
    author = cited.authors[0].family + (" et al." if len(cited.authors) > 1 or not cited.authors_complete else "")
    label = f"{author} {cited.issue_date[:4]}, {DESIGN_ORDER[study.design.kind][1]}"
    if result is not None and _RANDOMIZED in study.design.codes and _RANDOMIZED not in study.design_codes_for(result):
        label += " (outside its randomized period)"
    return label


def _justifying(ctx: CompileContext, rec: Recommendation) -> list[QuestionOutcome]:
    outcomes = ctx.loaded.question.outcomes
    if rec.justification:
        by_id = {o.id: o for o in outcomes}
        return [by_id[i] for i in rec.justification]
    return [o for o in outcomes if o.importance == "critical"]


def _documentation(ctx: CompileContext, rec: Recommendation, compiled: Mapping[str, Json],
                   studies: dict[str, LoadedStudy], justification_id: str) -> tuple[list[Json], list[Json]]:
    """The action's documentation (see the module docstring) and the outcomes' syntheses it cites."""
    summary = compiled[f"Composition/{ctx.rid('summary-of-findings')}"]
    docs: list[Json] = [
        {"type": "justification", "label": "source", "display": rec.card.source_label,
         "resourceReference": ctx.ref("ArtifactAssessment", justification_id, f"Justification: {rec.title}")},
        {"type": "justification", "label": "summary-of-findings", "display": summary["title"],
         "resource": summary["url"]}]
    syntheses, cited_studies = [], []
    for outcome in _justifying(ctx, rec):
        synthesis = compiled.get(f"Evidence/{ctx.rid(outcome.id)}")
        if synthesis is None:  # an outcome without results (EK233) justifies nothing
            continue
        syntheses.append(synthesis)
        docs.append({"type": "justification", "label": "outcome", "display": outcome.title,
                     "resource": synthesis["url"]})
        ranked = sorted(outcome.results, key=lambda c: DESIGN_ORDER[studies[c.study].study.design.kind][0])
        for cited in ranked:
            evidence = compiled[f"Evidence/{cited.study}-{cited.result}"]
            study = studies[cited.study].study
            result = next((r for r in study.results if r.id == cited.result), None)
            docs.append({"type": "justification", "label": "result",
                         "display": study_label(study, result), "resource": evidence["url"]})
            if cited.study not in cited_studies:
                cited_studies.append(cited.study)
    for study_id in cited_studies:
        citation = compiled[f"Citation/{study_id}-citation"]
        docs.append({"type": "citation", "display": citation["title"], "resource": citation["url"]})
    return docs, syntheses


def compile_recommendation(ctx: CompileContext, compiled: Mapping[str, Json],
                           studies: dict[str, LoadedStudy]) -> list[Json]:
    """PlanDefinition + ValueSets + override-reason CodeSystem + justification ArtifactAssessment,
    for a question's recommendation (after its syntheses and summary of findings are compiled)."""
    question = ctx.loaded.question
    rec: Recommendation | None = question.recommendation
    if rec is None:
        return []
    out: list[Json] = []

    def add(resource: Json, *path: object) -> Json:
        ctx.add(resource, "recommendation", *path)
        out.append(resource)
        return resource

    rule = compile_criteria(ctx, rec)
    for value_set, path in rule.value_sets:
        add(value_set, *path)

    reasons_id = ctx.rid(f"{rec.id}-override")
    reasons = add({
        "resourceType": "CodeSystem",
        "id": reasons_id,
        "text": div(f"Override reasons: {rec.title}", ("Codes", [r.display for r in rec.card.override_reasons])),
        "url": ctx.url("CodeSystem", reasons_id),
        "version": ctx.config.version,
        "name": camel(rec.id, "override-reasons")[:1].upper() + camel(rec.id, "override-reasons")[1:],
        "title": f"Override reasons: {rec.title}",
        "status": question.status,
        "date": question.date,
        "publisher": ctx.config.publisher,
        "description": "Why a clinician did not follow the suggestion (CDS Hooks overrideReasons).",
        "caseSensitive": True,
        "content": "complete",
        "count": len(rec.card.override_reasons),
        "concept": [{"code": r.code, "display": r.display} for r in rec.card.override_reasons],
    }, "card", "override_reasons")

    applicability = list(rule.applicability)
    if set(rec.hooks) != {"patient-view"}:
        # order hooks fire only when an order being selected or signed is an agent of a medication history
        # memberOf (FHIRPath terminology function): the agents' ValueSets, widened by a site's expansions
        terms = [f"memberOf('{url}')" for url in rule.agent_value_sets]
        if terms:
            applicability.append(("On order-select or order-sign: an order being selected or signed is an agent of "
                                  "the medication history", f"%hook = 'patient-view' or %selections.where("
                                  f"medication.concept.coding.where({' or '.join(terms)}).exists()).exists()"))

    def conditions_json(items: list[tuple[str, str]]) -> list[Json]:
        return [{"kind": "applicability", "expression": {"description": d, "language": "text/fhirpath",
                                                          "expression": e}} for d, e in items]

    justification_id = ctx.rid(f"{rec.id}-justification")
    documentation, syntheses = _documentation(ctx, rec, compiled, studies, justification_id)

    order = None
    if rec.suggest is not None:
        suggest = rec.suggest
        order_id = ctx.rid(f"{rec.id}-order")
        order = add({
            "resourceType": "ActivityDefinition",
            "id": order_id,
            "text": div(f"Draft order: {suggest.medication}", suggest.label, suggest.note),
            "url": ctx.url("ActivityDefinition", order_id),
            "version": ctx.config.version,
            "name": camel(rec.id, "order")[:1].upper() + camel(rec.id, "order")[1:],
            "title": suggest.label,
            "status": question.status,
            "date": question.date,
            "publisher": ctx.config.publisher,
            "author": [{"name": question.assessor}],
            "description": f"A draft order for {suggest.medication}, without dose: {suggest.note}",
            "usage": suggest.note,
            "kind": "MedicationRequest",
            "intent": "proposal",
            "productCodeableConcept": {"coding": [c.coding() for k in suggest.concepts
                                                  if (c := concept(k)) is not None], "text": suggest.medication},
        }, "suggest")

    action: Json = {
        "id": "suggest",
        "title": rec.card.summary,
        "description": rec.action,
        "priority": _PRIORITY[rec.card.indicator],
        "documentation": documentation,
        "trigger": [{"type": "named-event", "name": h} for h in rec.hooks],
        "condition": conditions_json(applicability),
        "input": rule.inputs,
        **({"definitionCanonical": order["url"]} if order is not None else {}),
    }

    plan_id = ctx.rid(rec.id)
    plan: Json = {
        "resourceType": "PlanDefinition",
        "id": plan_id,
        "text": div(rec.title, rec.action, f"Direction: {rec.direction}; strength: {rec.strength}.", rec.rationale,
                    f"Safety: {rec.card.safety}",
                    ("Applies when", [d for d, _ in applicability])),
        "url": ctx.url("PlanDefinition", plan_id),
        "version": ctx.config.version,
        "name": camel(rec.id)[:1].upper() + camel(rec.id)[1:],
        "title": rec.title,
        "type": {"coding": [PLAN_TYPE]},
        "status": question.status,
        "date": question.date,
        "publisher": ctx.config.publisher,
        "author": [{"name": question.assessor}],  # the recommendation is its authors', not a source's
        "description": rec.action,
        "purpose": rec.rationale,
        "usage": rec.card.safety,
        "relatedArtifact": [
            {"type": "justification", "resourceReference": documentation[0]["resourceReference"]},
            *documentation[1:],
            {"type": "depends-on", "label": "override-reasons", "resource": reasons["url"]},
            {"type": "documentation", "label": "safety", "display": rec.card.safety_basis},
        ],
        "action": [action],
    }
    plan_compiled = ctx.add(plan, "recommendation")
    out.append(plan)
    for path, value, provenance, basis in rule.thresholds:
        ctx.element(plan_compiled, "PlanDefinition.action.condition", ("recommendation", *path), value,
                    provenance or None, derived=None if provenance else f"rule: {basis}")

    summary = documentation[1]
    content: list[Json] = [{
        "informationType": "rating",
        "summary": f"Recommendation {rec.direction} ({rec.strength}): {rec.rationale}",
        "type": {"text": "Strength of recommendation"},
        "classifier": [{"text": f"{rec.strength} recommendation {rec.direction}"}],
        "author": {"display": question.assessor},
        "freeToShare": True,
        "relatedArtifact": [{"type": "justification", "display": summary["display"], "resource": summary["resource"]},
                            *({"type": "justification", "display": e["title"], "resource": e["url"]}
                              for e in syntheses)],
    }]
    lines = []
    for synthesis in syntheses:
        # the outcome's certainty assessment (compile/question.py names it '<synthesis id>-certainty')
        assessment = compiled.get(f"ArtifactAssessment/{synthesis['id']}-certainty")
        if assessment is None:
            continue
        rated = assessment["content"][0]
        lines.append(f"{synthesis['title']}: {rated['summary']}")
        content.append({
            "informationType": "rating",
            "summary": f"{synthesis['title']}: {rated['summary']}",
            "type": rated["type"],
            "classifier": rated["classifier"],
            "author": {"display": question.assessor},  # the question's certainty rating: its assessor's
            "freeToShare": True,
            "relatedArtifact": [{"type": "justification", "display": assessment["title"],
                                 "resourceReference": ctx.ref("ArtifactAssessment", assessment["id"],
                                                              assessment["title"])}],
        })
    justification: Json = {
        "resourceType": "ArtifactAssessment",
        "id": justification_id,
        "text": div(f"Justification: {rec.title}", rec.rationale, f"Summary of findings: {summary['display']}",
                    ("Certainty of the evidence per outcome", lines)),
        "extension": ctx.artifact_extensions("ArtifactAssessment", justification_id),
        "title": f"Justification: {rec.title}",
        "date": question.date,
        "artifactCanonical": plan["url"],
        "content": content,
    }
    add(justification, "justification")
    return out
