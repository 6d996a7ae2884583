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

from ..definitions.loader import LoadedStudy
from ..definitions.model import CodeMatch, Recommendation, Study
from ..definitions.question import QuestionOutcome
from ..terminology import concept
from .context import CompileContext, Json, div

__all__ = ["compile_recommendation", "INPUT_STATUS"]

PLAN_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "eca-rule",
             "display": "ECA Rule"}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
REQUEST_STATUS = "http://hl7.org/fhir/CodeSystem/medicationrequest-status"
REQUEST_INTENT = "http://hl7.org/fhir/CodeSystem/medicationrequest-intent"

#: Status codes each kind of input accepts (same codes in R4 and R5).
INPUT_STATUS = {
    "active-condition": (CLINICAL, ("active", "recurrence", "relapse")),
    # a medication that was used: ongoing or finished (R5 adds 'ended')
    "history": (REQUEST_STATUS, ("active", "on-hold", "completed", "stopped", "ended")),
    # a medication being given or about to be: suppresses the suggestion
    "current": (REQUEST_STATUS, ("active", "on-hold", "draft")),
}
ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order", "plan")
_PRIORITY = {"info": "routine", "warning": "urgent", "critical": "stat"}


def _camel(*parts: str) -> str:
    words = [w for part in parts for w in part.replace("_", "-").split("-") if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _codings(keys: list[str]) -> list[Json]:
    return [found.coding() for key in keys if (found := concept(key)) is not None]


def _value_set(ctx: CompileContext, rec: Recommendation, local: str, title: str, description: str,
               matches: list[CodeMatch]) -> Json:
    """A ValueSet: exact codes as concepts, ``descendants`` as an is-a filter."""
    by_system: dict[str, Json] = {}
    includes: list[Json] = []
    for match in matches:
        found = concept(match.concept)
        if found is None:
            continue
        if match.descendants:
            includes.append({"system": found.system,
                             "filter": [{"property": "concept", "op": "is-a", "value": found.code}]})
        else:
            include = by_system.setdefault(found.system, {"system": found.system, "concept": []})
            if not include["concept"]:
                includes.append(include)
            include["concept"].append({"code": found.code, "display": found.display})
    rid = ctx.rid(f"{rec.id}-{local}")
    resource: Json = {
        "resourceType": "ValueSet",
        "id": rid,
        "text": div(title, description),
        "url": ctx.url("ValueSet", rid),
        "version": ctx.config.version,
        "name": _camel(rec.id, local)[:1].upper() + _camel(rec.id, local)[1:],
        "title": title,
        "status": ctx.definition.status,
        "date": ctx.definition.date,
        "publisher": ctx.config.publisher,
        "description": description,
        "compose": {"include": includes},
    }
    return resource


def _status_filter(kind: str, path: str = "status") -> Json:
    system, codes = INPUT_STATUS[kind]
    return {"path": path, "code": [{"system": system, "code": c} for c in codes]}


def _input(ident: str, title: str, resource_type: str, path: str, value_set: str, status: str | None,
           intents: bool = False) -> Json:
    filters: list[Json] = [{"path": path, "valueSet": value_set}]
    if status == "active-condition":
        filters.append(_status_filter(status, "clinicalStatus"))
    elif status is not None:
        filters.append(_status_filter(status))
    if intents:
        filters.append({"path": "intent", "code": [{"system": REQUEST_INTENT, "code": c} for c in ORDER_INTENTS]})
    return {"id": ident, "title": title, "requirement": {"type": resource_type, "codeFilter": filters}}


def _coding_match(keys: list[str]) -> str:
    """FHIRPath: the resource's medication codes include one of these concepts."""
    terms = []
    for key in keys:
        found = concept(key)
        if found is not None:
            terms.append(f"(system = '{found.system}' and code = '{found.code}')")
    return f"medication.concept.coding.where({' or '.join(terms)}).exists()"


#: design kinds in the order a card lists their results (randomized comparisons first)
DESIGN_ORDER = {"parallel-randomized": (0, "randomized trial"), "crossover-randomized": (0, "randomized crossover trial"),
                "non-randomized-comparative": (1, "non-randomized comparative study"),
                "single-group": (2, "single-group study")}


def study_label(study: Study) -> str:
    """'Aggarwal 2022, randomized trial': first author, year and design, for card lines."""
    cited = study.citation
    author = cited.authors[0].family + (" et al." if len(cited.authors) > 1 or not cited.authors_complete else "")
    return f"{author} {cited.issue_date[:4]}, {DESIGN_ORDER[study.design.kind][1]}"


def _justifying(ctx: CompileContext, rec: Recommendation) -> list[QuestionOutcome]:
    outcomes = ctx.loaded.question.outcomes
    if rec.justification:
        by_id = {o.id: o for o in outcomes}
        return [by_id[i] for i in rec.justification]
    return [o for o in outcomes if o.importance == "critical"]


def _documentation(ctx: CompileContext, rec: Recommendation, compiled: dict[str, Json],
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
            docs.append({"type": "justification", "label": "result",
                         "display": study_label(studies[cited.study].study), "resource": evidence["url"]})
            if cited.study not in cited_studies:
                cited_studies.append(cited.study)
    for study_id in cited_studies:
        citation = compiled[f"Citation/{study_id}-citation"]
        docs.append({"type": "citation", "display": citation["title"], "resource": citation["url"]})
    return docs, syntheses


def compile_recommendation(ctx: CompileContext, compiled: dict[str, Json],
                           studies: dict[str, LoadedStudy]) -> list[Json]:
    """PlanDefinition + ValueSets + override-reason CodeSystem + justification ArtifactAssessment,
    for a question's recommendation (after its syntheses and summary of findings are compiled)."""
    question = ctx.loaded.question
    rec: Recommendation | None = question.recommendation
    if rec is None:
        return []
    q = rec.qualifies
    out: list[Json] = []

    def add(resource: Json, *path: object) -> Json:
        ctx.add(resource, "recommendation", *path)
        out.append(resource)
        return resource

    conditions = add(_value_set(ctx, rec, "conditions", f"Qualifying diagnoses: {rec.title}",
                                "Active diagnoses that qualify a patient for the recommendation.", q.conditions),
                     "qualifies", "conditions")
    excluded = None
    if q.excluded_conditions:
        excluded = add(_value_set(ctx, rec, "excluded", f"Excluding diagnoses: {rec.title}",
                                  "Active diagnoses that exclude a patient from the recommendation.",
                                  q.excluded_conditions), "qualifies", "excluded_conditions")
    add(_value_set(ctx, rec, "agents", f"Systemic agents: {rec.title}",
                   "Systemic agents of the medication history; each distinct agent counts once.",
                   [CodeMatch(concept=k) for a in q.systemic_agents for k in a.concepts]),
        "qualifies", "systemic_agents")
    therapy = add(_value_set(ctx, rec, "therapy", f"Suggested therapy: {rec.title}",
                             "Records of the suggested therapy; any of them suppresses the suggestion.",
                             [CodeMatch(concept=k) for k in q.not_already_on]), "qualifies", "not_already_on")

    reasons_id = ctx.rid(f"{rec.id}-override")
    reasons = add({
        "resourceType": "CodeSystem",
        "id": reasons_id,
        "text": div(f"Override reasons: {rec.title}", ("Codes", [r.display for r in rec.card.override_reasons])),
        "url": ctx.url("CodeSystem", reasons_id),
        "version": ctx.config.version,
        "name": _camel(rec.id, "override-reasons")[:1].upper() + _camel(rec.id, "override-reasons")[1:],
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

    # inputs: one variable per DataRequirement, named by its id
    inputs: list[Json] = [
        _input("dermatomyositis", "Active qualifying diagnosis", "Condition", "code", conditions["url"],
               "active-condition")]
    if excluded is not None:
        inputs.append(_input("excludedCondition", "Active excluding diagnosis", "Condition", "code",
                             excluded["url"], "active-condition"))
    agent_vars: list[tuple[str, str]] = []
    for agent in q.systemic_agents:
        codes = [c for k in agent.concepts if (c := concept(k)) is not None]
        for suffix, rtype, status, intents in (("Orders", "MedicationRequest", "history", True),
                                               ("Statements", "MedicationStatement", None, False)):
            ident = _camel("agent", agent.id) + suffix
            inputs.append({"id": ident, "title": agent.display, "requirement": {"type": rtype, "codeFilter": [
                {"path": "medication", "code": [c.coding() for c in codes]}]}})
            if status is not None:
                inputs[-1]["requirement"]["codeFilter"].append(_status_filter(status))
            if intents:
                inputs[-1]["requirement"]["codeFilter"].append(
                    {"path": "intent", "code": [{"system": REQUEST_INTENT, "code": c} for c in ORDER_INTENTS]})
        agent_vars.append((_camel("agent", agent.id), agent.id))
    inputs.append(_input("therapyOrders", "Suggested therapy already ordered", "MedicationRequest", "medication",
                         therapy["url"], "current"))
    inputs.append(_input("therapyStatements", "Suggested therapy already recorded", "MedicationStatement",
                         "medication", therapy["url"], None))

    distinct = " | ".join(f"(%{v}Orders | %{v}Statements).select('{aid}')" for v, aid in agent_vars)
    age = q.min_age_years.value
    applicability = [
        (f"Age {age} years or more", f"%patient.birthDate.exists() and %patient.birthDate <= today() - {age} years"),
        ("An active qualifying diagnosis", "%dermatomyositis.exists()"),
    ]
    if excluded is not None:
        applicability.append(("No active excluding diagnosis", "%excludedCondition.empty()"))
    applicability += [
        (f"At least {q.min_distinct_agents.value} distinct systemic agents in the medication history",
         f"({distinct}).count() >= {q.min_distinct_agents.value}"),
        ("The suggested therapy is not already ordered or recorded",
         "%therapyOrders.empty() and %therapyStatements.empty()"),
    ]
    agent_keys = [k for a in q.systemic_agents for k in a.concepts]
    # order hooks fire only when an order being selected or signed is one of the agents
    order_condition = ("On order-select or order-sign: an order being selected or signed is a systemic agent",
                       f"%hook = 'patient-view' or %selections.where({_coding_match(agent_keys)}).exists()")
    if set(rec.hooks) != {"patient-view"}:
        applicability.append(order_condition)

    def conditions_json(items: list[tuple[str, str]]) -> list[Json]:
        return [{"kind": "applicability", "expression": {"description": d, "language": "text/fhirpath",
                                                          "expression": e}} for d, e in items]

    justification_id = ctx.rid(f"{rec.id}-justification")
    documentation, syntheses = _documentation(ctx, rec, compiled, studies, justification_id)

    action: Json = {
        "id": "suggest",
        "title": rec.card.summary,
        "description": rec.action,
        "priority": _PRIORITY[rec.card.indicator],
        "documentation": documentation,
        "trigger": [{"type": "named-event", "name": h} for h in rec.hooks],
        "condition": conditions_json(applicability),
        "input": inputs,
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
        "name": _camel(rec.id)[:1].upper() + _camel(rec.id)[1:],
        "title": rec.title,
        "type": {"coding": [PLAN_TYPE]},
        "status": question.status,
        "date": question.date,
        "publisher": ctx.config.publisher,
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
    ctx.element(plan_compiled, "PlanDefinition.action.condition", ("recommendation", "qualifies", "min_age_years"),
                str(age), q.min_age_years.provenance or None,
                derived=None if q.min_age_years.provenance else f"rule: {q.min_age_years.basis}")
    ctx.element(plan_compiled, "PlanDefinition.action.condition",
                ("recommendation", "qualifies", "min_distinct_agents"), str(q.min_distinct_agents.value),
                q.min_distinct_agents.provenance or None,
                derived=None if q.min_distinct_agents.provenance else f"rule: {q.min_distinct_agents.basis}")

    summary = documentation[1]
    content: list[Json] = [{
        "informationType": "rating",
        "summary": f"Recommendation {rec.direction} ({rec.strength}): {rec.rationale}",
        "type": {"text": "Strength of recommendation"},
        "classifier": [{"text": f"{rec.strength} recommendation {rec.direction}"}],
        "freeToShare": True,
        "relatedArtifact": [{"type": "justification", "display": summary["display"], "resource": summary["resource"]},
                            *({"type": "justification", "display": e["title"], "resource": e["url"]}
                              for e in syntheses)],
    }]
    lines = []
    for synthesis in syntheses:
        assessment = next((r for r in compiled.values() if r["resourceType"] == "ArtifactAssessment"
                           and r.get("artifactReference", {}).get("reference") == f"Evidence/{synthesis['id']}"), None)
        if assessment is None:
            continue
        rated = assessment["content"][0]
        lines.append(f"{synthesis['title']}: {rated['summary']}")
        content.append({
            "informationType": "rating",
            "summary": f"{synthesis['title']}: {rated['summary']}",
            "type": rated["type"],
            "classifier": rated["classifier"],
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
