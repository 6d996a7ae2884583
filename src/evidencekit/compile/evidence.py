"""Reported results -> Evidence resources (EBM single-study / non-comparative profiles).

Numbers keep their authored precision (``Decimal`` from the authored text).
Values the source does not report are either derived, and then say how, or
left out: a count is derived only when exactly one whole number reproduces
the reported percentage (GRIM), and a CI only from such a count.
"""

from __future__ import annotations

from decimal import Decimal

from ..definitions.model import Result
from ..stats import grim_proportion, wilson_interval
from ..terminology import codeable, concept
from .context import EBM, CompileContext, CompiledResource, Json, div, percent_to_fraction, provenance_note

__all__ = ["compile_evidence"]

ROLE_EXTENSION = EBM + "variable-definition-variable-role-code"
_STAT_TYPE = "http://terminology.hl7.org/CodeSystem/statistic-type"
_ESTIMATE_TYPE = "http://terminology.hl7.org/CodeSystem/attribute-estimate-type"
_VARIABLE_ROLE = "http://terminology.hl7.org/CodeSystem/variable-role"
STATISTIC_TYPES = {
    "proportion": {"system": _STAT_TYPE, "code": "C44256", "display": "Proportion"},
    "mean": {"system": _STAT_TYPE, "code": "C53319", "display": "Mean"},
    "count": {"system": _STAT_TYPE, "code": "C25463", "display": "Count"},
}
_SD = {"system": _ESTIMATE_TYPE, "code": "C53322", "display": "Standard deviation"}
_CI = {"system": _ESTIMATE_TYPE, "code": "C53324", "display": "Confidence interval"}
CI_METHOD = "Wilson score interval"
_CI_PLACES = 3


def _role(ctx: CompileContext, role: str, observed: Json, description: str | None = None) -> Json:
    r5_role = {"population": "population", "outcome": "measuredVariable"}[role]
    display = {"population": "population", "outcome": "measured variable"}[role]
    out: Json = {"extension": [{"url": ROLE_EXTENSION, "valueCode": role}]}
    if description:
        out["description"] = description
    out["note"] = [{"text": role}]
    out["variableRole"] = {"coding": [{"system": _VARIABLE_ROLE, "code": r5_role, "display": display}],
                           "text": "Use extension:variableRoleCode instead."}
    out["observed"] = observed
    return out


def _shell(ctx: CompileContext, rid: str, title: str, description: str, profiles: list[str],
           population: Json, variable: Json, narrative: Json) -> Json:
    study = ctx.study
    return {
        "resourceType": "Evidence",
        "id": rid,
        "meta": {"profile": [EBM + p for p in profiles]},
        "text": narrative,
        "url": ctx.url("Evidence", rid),
        "version": ctx.config.version,
        "title": title,
        "status": study.status,
        "date": study.date,
        "publisher": ctx.config.publisher,
        "relatedArtifact": [{"type": "derived-from", "label": "Reported in",
                             "resourceReference": ctx.ref("Citation", ctx.rid("citation"), study.citation.title)}],
        "description": description,
        "variableDefinition": [_role(ctx, "population", population), _role(ctx, "outcome", variable)],
        "synthesisType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/synthesis-type",
                                      "code": "NotApplicable", "display": "not applicable"}]},
        "studyDesign": [{"coding": [c.coding()]} for c in (concept(k) for k in study.design.codes) if c],
    }


def _certainty(ctx: CompileContext) -> list[Json]:
    assessment = ctx.study.assessment
    if assessment is None:
        return []
    judged = assessment.certainty
    return [{
        "description": judged.summary,
        "type": {"coding": [{"system": "http://hl7.org/fhir/certainty-type", "code": "Overall",
                             "display": "Overall certainty"}]},
        "rating": codeable(judged.rating),
        "rater": assessment.assessor,
        "subcomponent": [{"description": d.reason, "type": codeable(d.type), "rating": codeable(d.rating)}
                         for d in judged.domains],
    }]


def _population_title(ctx: CompileContext, pid: str) -> str:
    pop = ctx.study.population
    if pid == pop.id:
        return pop.title
    return next(s.title for s in pop.subgroups if s.id == pid)


def _compile_result(ctx: CompileContext, index: int, result: Result) -> Json:
    study = ctx.study
    variable = next(v for v in study.variables if v.id == result.variable)
    population_title = _population_title(ctx, result.population)
    n = study.denominator_of(result)
    path = ("results", index)
    statistic: Json = {}
    notes = provenance_note(ctx, result.provenance)
    if result.derived is not None:
        notes.append({"text": f"Derived by the definition author (not stated by the source): "
                              f"{result.derived.method}"})
    elements: list[tuple[str, tuple[object, ...], str | None, str | None]] = []
    lines = [result.text]
    if result.statistic == "finding":
        statistic["description"] = result.text
    else:
        statistic["statisticType"] = {"coding": [STATISTIC_TYPES[result.statistic]]}
        assert result.value is not None
        if result.statistic == "proportion":
            quantity: Json = {"value": percent_to_fraction(result.value) if result.scale != "fraction"
                              else Decimal(result.value)}
        else:
            quantity = {"value": Decimal(result.value)}
            if result.unit:
                quantity["unit"] = result.unit
        statistic["quantity"] = quantity
        elements.append(("statistic[0].quantity.value", path + ("value",), result.value,
                         result.derived.method if result.derived is not None else None))
        events, derived_events = result.events, None
        if result.statistic == "proportion" and events is None and n is not None:
            counts = grim_proportion(result.value, n, percent=result.scale != "fraction")[1]
            if len(counts) == 1:
                events = counts[0]
                shown = f"{result.value}%" if result.scale != "fraction" else result.value
                derived_events = (f"Derived by evidencekit: {events} is the only whole number k with "
                                  f"k/{n} = {shown} at the reported precision; the source reports only "
                                  "the percentage.")
        description = result.text
        if events is not None and n is not None:
            description += (f" {events} of {n} patients"
                            + (" (count derived from the reported percentage)." if derived_events else "."))
        elif n is None and result.denominator.kind == "unknown":
            description += " The denominator is not reported."
        statistic = {"description": description, **statistic}
        if events is not None:
            statistic["numberAffected"] = events
            elements.append(("statistic[0].numberAffected",
                             path + ("events",) if derived_events is None else path + ("value",),
                             str(events), derived_events))
            if derived_events:
                notes.append({"text": derived_events})
        sample: Json = {"numberOfStudies": 1}
        if n is not None:
            sample["numberOfParticipants"] = n
            sample["knownDataCount"] = n
            elements.append(("statistic[0].sampleSize.numberOfParticipants", path + ("denominator",), str(n),
                             None if result.denominator.kind == "count" else
                             f"N of the population '{result.population}' (denominator: population)"))
        if result.denominator.note:
            sample["description"] = result.denominator.note
        statistic["sampleSize"] = sample
        estimates: list[Json] = []
        if result.sd is not None:
            sd: Json = {"value": Decimal(result.sd)}
            if result.unit:
                sd["unit"] = result.unit
            estimates.append({"type": {"coding": [_SD]}, "quantity": sd})
            elements.append((f"statistic[0].attributeEstimate[{len(estimates) - 1}].quantity.value",
                             path + ("sd",), result.sd, None))
        if result.ci_low is not None and result.ci_high is not None:
            ci: Json = {"description": "As reported by the source."}
            ci["type"] = {"coding": [_CI]}
            if result.ci_level is not None:
                ci["level"] = Decimal(result.ci_level)
            scale = percent_to_fraction if result.scale == "percent" else Decimal
            ci["range"] = {"low": {"value": scale(result.ci_low)}, "high": {"value": scale(result.ci_high)}}
            estimates.append(ci)
            elements.append((f"statistic[0].attributeEstimate[{len(estimates) - 1}].range",
                             path + ("ci_low",), f"{result.ci_low}..{result.ci_high}", None))
        elif result.statistic == "proportion" and events is not None and n is not None:
            low, high = wilson_interval(events, n)
            quantum = Decimal(1).scaleb(-_CI_PLACES)
            method = (f"Derived by evidencekit: 95% {CI_METHOD} (Wilson 1927) for {events}/{n}"
                      + (" (itself derived from the percentage)" if derived_events else "")
                      + f", bounds rounded to {_CI_PLACES} decimals; not reported by the source.")
            estimates.append({
                "description": method,
                "type": {"coding": [_CI]},
                "level": Decimal("0.95"),
                "range": {"low": {"value": Decimal(repr(low)).quantize(quantum)},
                          "high": {"value": Decimal(repr(high)).quantize(quantum)}},
            })
            elements.append((f"statistic[0].attributeEstimate[{len(estimates) - 1}].range", path + ("value",),
                             None, method))
            lines.append(f"95% CI {Decimal(repr(low)).quantize(quantum)} to {Decimal(repr(high)).quantize(quantum)}"
                         " (derived, Wilson score interval).")
        if estimates:
            statistic["attributeEstimate"] = estimates
    statistic["note"] = notes
    rid = ctx.rid(result.id)
    kind = "outcome" if variable.role == "outcome" else "baseline"
    profiles = (["baseline-measure-evidence", "single-study-evidence"] if kind == "baseline"
                else ["non-comparative-evidence", "single-study-evidence"])
    title = f"{variable.title} in {population_title}"
    narrative = div(f"Evidence: {title}", *lines,
                    ("Provenance", [f"{ctx.source_title(p.source)}" + (f", {p.locator}" if p.locator else "")
                                    + f": \u201c{p.quote}\u201d" for p in result.provenance]))
    resource = _shell(ctx, rid, title, result.text, profiles,
                      ctx.ref("Group", ctx.rid(result.population), population_title),
                      ctx.ref("EvidenceVariable", ctx.rid(variable.id), variable.title), narrative)
    resource["statistic"] = [statistic]
    if kind == "outcome":
        certainty = _certainty(ctx)
        if certainty:
            resource["certainty"] = certainty
    compiled = ctx.add(resource, *path)
    for fhir_path, yaml_path, authored, derived in elements:
        ctx.element(compiled, f"Evidence.{fhir_path}", yaml_path, authored,
                    result.provenance, derived)
    return resource


def _compile_partition(ctx: CompileContext, index: int) -> Json:
    study = ctx.study
    pop = study.population
    part = pop.partitions[index]
    subgroups = {s.id: (i, s) for i, s in enumerate(pop.subgroups)}
    rid = ctx.rid(part.id)
    statistics = []
    compiled_elements = []
    for sub_id in part.subgroups:
        i, sub = subgroups[sub_id]
        statistics.append({
            "description": f"{sub.n.value} of {pop.n.value} patients: {sub.title}.",
            "note": provenance_note(ctx, sub.n.provenance),
            "statisticType": {"coding": [STATISTIC_TYPES["count"]]},
            "category": {"text": sub.title},
            "quantity": {"value": sub.n.value},
            "numberAffected": sub.n.value,
            "sampleSize": {"numberOfStudies": 1, "numberOfParticipants": pop.n.value,
                           "knownDataCount": pop.n.value},
        })
        compiled_elements.append((len(statistics) - 1, i, sub))
    title = f"{part.title} in {pop.title}"
    description = f"Composition of the study group by {part.title.lower()}."
    narrative = div(f"Evidence: {title}",
                    ("Counts", [f"{sub.title}: {sub.n.value} of {pop.n.value}" for _, _, sub in compiled_elements]))
    resource = _shell(ctx, rid, title, description, ["baseline-measure-evidence", "single-study-evidence"],
                      ctx.ref("Group", ctx.rid(pop.id), pop.title),
                      ctx.ref("EvidenceVariable", rid, part.title), narrative)
    resource["statistic"] = statistics
    compiled: CompiledResource = ctx.add(resource, "population", "partitions", index)
    for stat_index, i, sub in compiled_elements:
        ctx.element(compiled, f"Evidence.statistic[{stat_index}].quantity.value",
                    ("population", "subgroups", i, "n", "value"), str(sub.n.value), sub.n.provenance)
    return resource


def compile_evidence(ctx: CompileContext) -> list[Json]:
    """One Evidence per reported result, and one count Evidence per partition."""
    out = [_compile_partition(ctx, i) for i in range(len(ctx.study.population.partitions))]
    out += [_compile_result(ctx, i, r) for i, r in enumerate(ctx.study.results)]
    return out
