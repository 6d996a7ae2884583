"""A recommendation's typed criteria -> PlanDefinition inputs (DataRequirements), applicability
conditions (FHIRPath) and the ValueSets they use.

Each criterion's ``id`` names its FHIRPath variables (``dermatomyositis`` -> ``%dermatomyositis``)
and its ValueSet; nothing here knows a condition, a drug or a number of the seed:

* ``age``: ``%patient.birthDate`` against ``today()`` (min and max in whole years, inclusive);
* ``condition``: an active Condition in the criterion's ValueSet exists (or, not present, none does);
* ``medication_history``: per agent, its MedicationRequests (intent order/plan; status active,
  on-hold, completed, stopped or ended) and MedicationStatements; the distinct agents, within the
  look-back, are counted;
* ``medication``: the medication ordered (active, on-hold, draft) or recorded, or not;
* ``observation``: a final (amended, corrected) Observation in the ValueSet with a quantity in the
  UCUM unit meeting the threshold, within the look-back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..definitions.model import CodeMatch, DecisionCriterion, LookBack, Provenance, Recommendation
from ..terminology import UCUM, concept
from .context import CompileContext, Json, div

__all__ = ["CompiledCriteria", "camel", "compile_criteria", "INPUT_STATUS"]

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
REQUEST_STATUS = "http://hl7.org/fhir/CodeSystem/medicationrequest-status"
REQUEST_INTENT = "http://hl7.org/fhir/CodeSystem/medicationrequest-intent"
OBSERVATION_STATUS = "http://hl7.org/fhir/observation-status"

#: Status codes each kind of input accepts (same codes in R4 and R5).
INPUT_STATUS = {
    "active-condition": (CLINICAL, ("active", "recurrence", "relapse")),
    # a medication that was used: ongoing or finished (R5 adds 'ended')
    "history": (REQUEST_STATUS, ("active", "on-hold", "completed", "stopped", "ended")),
    # a medication being given or about to be
    "current": (REQUEST_STATUS, ("active", "on-hold", "draft")),
    "observation": (OBSERVATION_STATUS, ("final", "amended", "corrected")),
}
ORDER_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order", "plan")
#: FHIRPath date of each record type a look-back reads (R4 and R5 element names)
_RECORD_DATE = {"MedicationRequest": "authoredOn",
                "MedicationStatement": "(effectiveDateTime | effectivePeriod.start | dateAsserted)",
                "Observation": "(effectiveDateTime | effectivePeriod.start | effectiveInstant | issued)"}


def camel(*parts: str) -> str:
    words = [w for part in parts for w in part.replace("_", "-").split("-") if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


@dataclass
class CompiledCriteria:
    """What the criteria compile to, for the PlanDefinition and the source map."""

    value_sets: list[tuple[Json, tuple[object, ...]]] = field(default_factory=list)
    inputs: list[Json] = field(default_factory=list)
    applicability: list[tuple[str, str]] = field(default_factory=list)
    #: (yaml path, authored value, provenance, rule basis) of every number in the rule
    thresholds: list[tuple[tuple[object, ...], str, list[Provenance], str | None]] = field(default_factory=list)
    #: the ValueSet of every agent of each medication history (order hooks fire on these)
    agent_value_sets: list[str] = field(default_factory=list)


def _value_set(ctx: CompileContext, local: str, title: str, description: str,
               matches: list[CodeMatch], value_sets: tuple[str, ...] = ()) -> Json:
    """A ValueSet: exact codes as concepts, ``descendants`` as an is-a filter, other ValueSets included."""
    by_system: dict[str, Json] = {}
    includes: list[Json] = [{"valueSet": list(value_sets)}] if value_sets else []
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
    rid = ctx.rid(local)
    name = camel(local)
    return {
        "resourceType": "ValueSet",
        "id": rid,
        "text": div(title, description),
        "url": ctx.url("ValueSet", rid),
        "version": ctx.config.version,
        "name": name[:1].upper() + name[1:],
        "title": title,
        "status": ctx.definition.status,
        "date": ctx.definition.date,
        "publisher": ctx.config.publisher,
        "description": description,
        "compose": {"include": includes},
    }


def _status_filter(kind: str, path: str = "status") -> Json:
    system, codes = INPUT_STATUS[kind]
    return {"path": path, "code": [{"system": system, "code": c} for c in codes]}


def _intents() -> Json:
    return {"path": "intent", "code": [{"system": REQUEST_INTENT, "code": c} for c in ORDER_INTENTS]}


def _input(ident: str, title: str, resource_type: str, filters: list[Json]) -> Json:
    return {"id": ident, "title": title, "requirement": {"type": resource_type, "codeFilter": filters}}


def _within(resource_type: str, look_back: LookBack | None) -> str:
    """A FHIRPath ``where`` clause keeping records dated within the look-back ('' without one)."""
    if look_back is None:
        return ""
    return f".where({_RECORD_DATE[resource_type]} >= today() - {look_back.value} {look_back.unit})"  # FHIRPath calendar durations


def _look_back_words(look_back: LookBack | None) -> str:
    return f" in the last {look_back.value} {look_back.unit}" if look_back is not None else ""


def _age(criterion: DecisionCriterion, out: CompiledCriteria, path: tuple[object, ...]) -> None:
    age = criterion.age
    assert age is not None
    terms, words = ["%patient.birthDate.exists()"], []
    if age.min is not None:
        terms.append(f"%patient.birthDate <= today() - {age.min.value} years")
        out.thresholds.append((path + ("age", "min"), str(age.min.value), age.min.provenance, age.min.basis))
    if age.max is not None:
        # at most N years old: born after the day N + 1 years ago
        terms.append(f"%patient.birthDate > today() - {age.max.value + 1} years")
        out.thresholds.append((path + ("age", "max"), str(age.max.value), age.max.provenance, age.max.basis))
    if age.min is not None and age.max is not None:
        words.append(f"Age {age.min.value} to {age.max.value} years")
    elif age.min is not None:
        words.append(f"Age {age.min.value} years or more")
    else:
        assert age.max is not None
        words.append(f"Age {age.max.value} years or less")
    out.applicability.append((criterion.description or words[0], " and ".join(terms)))


def compile_criteria(ctx: CompileContext, rec: Recommendation) -> CompiledCriteria:
    """Inputs, conditions and ValueSets of every criterion, in the order they are written."""
    out = CompiledCriteria()
    for i, criterion in enumerate(rec.qualifies):
        path: tuple[object, ...] = ("qualifies", i)
        var = camel(criterion.id)
        kind = criterion.kind
        thresholds_before = len(out.thresholds)
        if kind == "age":
            _age(criterion, out, path)
        elif kind == "condition":
            cond = criterion.condition
            assert cond is not None
            title = criterion.description or (f"An active diagnosis: {criterion.id}" if cond.present
                                               else f"No active diagnosis: {criterion.id}")
            vs = _value_set(ctx, f"{rec.id}-{criterion.id}", f"{'Qualifying' if cond.present else 'Excluding'} diagnoses: "
                            f"{rec.title}", f"Active diagnoses that {'qualify' if cond.present else 'exclude'} a "
                            f"patient ({criterion.id}).", cond.codes)
            out.value_sets.append((vs, path + ("condition",)))
            out.inputs.append(_input(var, title, "Condition", [
                {"path": "code", "valueSet": vs["url"]}, _status_filter("active-condition", "clinicalStatus")]))
            out.applicability.append((title, f"%{var}.exists()" if cond.present else f"%{var}.empty()"))
        elif kind == "medication_history":
            history = criterion.medication_history
            assert history is not None
            selects, agent_urls = [], []
            for j, agent in enumerate(history.agents):
                agent_vs = _value_set(ctx, f"{criterion.id}-{agent.id}", f"{agent.display}: {rec.title}",
                                      f"Codes of {agent.display} in the medication history ({criterion.id}), as the "
                                      "recommendation's authors list them; a site's expansion adds the products it "
                                      "orders.", [CodeMatch(concept=k) for k in agent.concepts])
                out.value_sets.append((agent_vs, path + ("medication_history", "agents", j)))
                agent_urls.append(agent_vs["url"])
                orders, statements = camel(criterion.id, agent.id, "orders"), camel(criterion.id, agent.id, "statements")
                out.inputs.append(_input(orders, agent.display, "MedicationRequest", [
                    {"path": "medication", "valueSet": agent_vs["url"]}, _status_filter("history"), _intents()]))
                out.inputs.append(_input(statements, agent.display, "MedicationStatement", [
                    {"path": "medication", "valueSet": agent_vs["url"]}]))
                selects.append(f"(%{orders}{_within('MedicationRequest', history.look_back)} | "
                               f"%{statements}{_within('MedicationStatement', history.look_back)}).select('{agent.id}')")
            vs = _value_set(ctx, f"{rec.id}-{criterion.id}", f"Agents of the medication history: {rec.title}",
                            "Every agent of the medication history (the agents' own ValueSets); each distinct agent "
                            "counts once.", [], tuple(agent_urls))
            out.value_sets.append((vs, path + ("medication_history", "agents")))
            out.agent_value_sets.append(vs["url"])
            k = history.at_least.value
            out.thresholds.append((path + ("medication_history", "at_least"), str(k), history.at_least.provenance,
                                   history.at_least.basis))
            words = criterion.description or (f"At least {k} distinct agents in the medication history"
                                              f"{_look_back_words(history.look_back)}")
            out.applicability.append((words, f"({' | '.join(selects)}).count() >= {k}"))
        elif kind == "medication":
            med = criterion.medication
            assert med is not None
            vs = _value_set(ctx, f"{rec.id}-{criterion.id}", f"Medication: {rec.title}",
                            "Records of this medication" + (" qualify." if med.present else
                                                            "; any of them suppresses the suggestion."),
                            [CodeMatch(concept=k) for k in med.concepts])
            out.value_sets.append((vs, path + ("medication", "concepts")))
            orders, statements = camel(criterion.id, "orders"), camel(criterion.id, "statements")
            out.inputs.append(_input(orders, f"{criterion.id}: ordered", "MedicationRequest", [
                {"path": "medication", "valueSet": vs["url"]}, _status_filter("current")]))
            out.inputs.append(_input(statements, f"{criterion.id}: recorded", "MedicationStatement", [
                {"path": "medication", "valueSet": vs["url"]}]))
            words = criterion.description or ("The medication is ordered or recorded" if med.present else
                                              "The medication is not already ordered or recorded")
            expr = (f"%{orders}.exists() or %{statements}.exists()" if med.present
                    else f"%{orders}.empty() and %{statements}.empty()")
            out.applicability.append((words, expr))
        else:
            obs = criterion.observation
            assert obs is not None
            vs = _value_set(ctx, f"{rec.id}-{criterion.id}", f"Observations: {rec.title}",
                            f"Observations the threshold of {criterion.id} is read from.", obs.codes)
            out.value_sets.append((vs, path + ("observation", "codes")))
            out.inputs.append(_input(var, criterion.description or criterion.id, "Observation", [
                {"path": "code", "valueSet": vs["url"]}, _status_filter("observation")]))
            out.thresholds.append((path + ("observation", "value"), obs.value, obs.provenance, obs.basis))
            test = (f"valueQuantity.where(system = '{UCUM}' and code = '{obs.unit}' and value {obs.comparator} "
                    f"{obs.value}).exists()")
            words = criterion.description or (f"An observation {obs.comparator} {obs.value} {obs.unit}"
                                              f"{_look_back_words(obs.look_back)}")
            out.applicability.append((words, f"%{var}{_within('Observation', obs.look_back)}.where({test}).exists()"))
        # a business rule carries its basis in the PlanDefinition itself, not only in the source map
        bases = [basis for _, _, provenance, basis in out.thresholds[thresholds_before:] if basis and not provenance]
        if bases:
            words, expression = out.applicability[-1]
            out.applicability[-1] = (f"{words} (a business rule, not a finding of the evidence: "
                                     f"{' '.join(bases)})", expression)
    return out
