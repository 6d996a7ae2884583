"""A question definition -> the body of evidence per outcome.

For each question: a definitional Group for its population (EBM cohort-definition); for each
outcome an EvidenceVariable, and, when results answer it, an ``evidence-synthesis-evidence``
Evidence composed of the studies' own Evidence (a narrative synthesis is the range of
results, synthesisType ``range``), with the outcome's certainty as a ``certainty-of-evidence``
ArtifactAssessment about it (GRADE domains, and each study's directness, with reasons).
Numbers stay in the studies' Evidence: the synthesis cites them and restates their text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from ..definitions.loader import LoadedStudy
from ..definitions.question import QuestionOutcome
from ..stats import count_of
from ..synthesis import Pooled, pool_counts, pool_proportions
from ..terminology import codeable, concept, quantity_unit
from .context import EBM, CompileContext, Json, div
from .evidence import ESTIMATE_TYPES, STATISTIC_TYPES, derived_value, variable_role
from .groups import coded_characteristic
from .variables import evidence_variable

__all__ = ["compile_question"]

_SYNTHESIS_TYPE = "http://terminology.hl7.org/CodeSystem/synthesis-type"
#: narrative synthesis -> range of results; meta-analysis -> summary data meta-analysis
#: (hl7.terminology.r5 7.0.1 CodeSystem-synthesis-type)
RANGE = {"system": _SYNTHESIS_TYPE, "code": "range", "display": "range of results"}
STD_MA = {"system": _SYNTHESIS_TYPE, "code": "std-MA", "display": "summary data meta-analysis"}
_MODEL = "http://hl7.org/fhir/statistic-model-code"
#: statistic-model-code (hl7.fhir.r5.core 5.0.0)
MODEL_CODES = {"random": {"system": _MODEL, "code": "effectsRandom", "display": "Random-effects"},
               "fixed": {"system": _MODEL, "code": "effectsFixed", "display": "Fixed-effects"},
               "dl": {"system": _MODEL, "code": "dersimonianLairdMethod", "display": "Dersimonian-Laird method"},
               "pm": {"system": _MODEL, "code": "pauleMandelMethod", "display": "Paule-Mandel method"}}
#: attribute-estimate-type codes of heterogeneity (hl7.terminology.r5 7.0.1)
HETEROGENEITY = {"i2": {"system": "http://terminology.hl7.org/CodeSystem/attribute-estimate-type", "code": "0000420",
                        "display": "I-squared"},
                 "tau2": {"system": "http://terminology.hl7.org/CodeSystem/attribute-estimate-type",
                          "code": "0000421", "display": "Tau squared"},
                 "q": {"system": "http://terminology.hl7.org/CodeSystem/attribute-estimate-type", "code": "0000419",
                       "display": "Cochran's Q statistic"}}
_MEASURE = {"risk-difference": "risk-difference", "relative-risk": "log-risk-ratio", "odds-ratio": "log-odds-ratio"}
_OVERALL = {"coding": [{"system": "http://hl7.org/fhir/certainty-type", "code": "Overall",
                        "display": "Overall certainty"}]}
_INDIRECTNESS = "certainty-type:Indirectness"


def _label(key: str) -> str:
    found = concept(key)
    return found.display if found else key


def _population(ctx: CompileContext) -> Json:
    q = ctx.loaded.question
    rid = ctx.rid("population")
    characteristics = [coded_characteristic(element.description, element.concepts, label)
                       for label, element in (("Population", q.question.population),
                                              ("Intervention", q.question.intervention))]
    return {
        "resourceType": "Group",
        "id": rid,
        "meta": {"profile": [EBM + "cohort-definition"]},
        "text": div(f"Question population: {q.title}", q.question.population.description,
                    f"Intervention: {q.question.intervention.description}",
                    f"Comparator: {q.question.comparator.description}" if q.question.comparator else ""),
        "extension": ctx.artifact_extensions("Group", rid, f"Question population: {q.title}"),
        "type": "person",
        "membership": "definitional",
        "name": q.question.population.description,
        "description": q.question.population.description,
        "characteristic": characteristics,
    }


def _variable(ctx: CompileContext, outcome: QuestionOutcome) -> Json:
    q = ctx.loaded.question
    return evidence_variable(ctx, ctx.rid(outcome.id), outcome.title,
                             f"{outcome.title} ({outcome.importance} outcome of the question: {q.title}).",
                             outcome.handling, {"concept": {"text": outcome.title}}, "variable-definition",
                             actual=True)  # the synthesis Evidence uses it as `observed`: an actual variable


def _pooled(outcome: QuestionOutcome, studies: dict[str, LoadedStudy]) -> tuple[Pooled, str] | None:
    """Pool the outcome's results (only proportions or two-arm comparisons with counts; EK231 checks it)."""
    statistics, arms, groups = set(), [], []
    for cited in outcome.results:
        study = studies[cited.study].study
        result = next(r for r in study.results if r.id == cited.result)
        statistics.add(result.statistic)
        if result.comparative:
            first, second = study.compared(result)
            counts = [count_of(study, r) for _, r in (first, second)] if first and second else [None, None]
            if None in counts:
                return None
            arms.append(counts)
        else:
            counts_one = count_of(study, result)
            if counts_one is None:
                return None
            groups.append(counts_one)
    synthesis = outcome.synthesis
    tau = synthesis.tau
    if statistics == {"proportion"}:
        return pool_proportions(groups, tau_method=tau), "proportion"
    if len(statistics) == 1 and (statistic := next(iter(statistics))) in _MEASURE:
        return pool_counts([a for a, _ in arms], [c for _, c in arms], _MEASURE[statistic], tau_method=tau), statistic
    return None


def _back(pooled: Pooled, statistic: str, value: float) -> float:
    if pooled.measure in ("log-risk-ratio", "log-odds-ratio"):
        return math.exp(value)
    if pooled.measure == "logit-proportion":
        return 1 / (1 + math.exp(-value))
    return value


def _pooled_statistic(ctx: CompileContext, outcome: QuestionOutcome, pooled: Pooled, statistic: str) -> Json:
    random = outcome.synthesis.model == "random"
    estimate, (low, high) = (pooled.random, pooled.random_ci) if random else (pooled.fixed, pooled.fixed_ci)
    places = Decimal("0.0001")

    def q4(x: float) -> Decimal:
        return Decimal(repr(x)).quantize(places)

    model = "random-effects (" + {"dl": "DerSimonian-Laird", "pm": "Paule-Mandel"}[pooled.tau_method] + " tau²)" \
        if random else "fixed-effect (inverse variance)"
    method = (f"Derived by evidencekit: {model} meta-analysis of {pooled.k} results on the {pooled.measure} scale "
              "(statsmodels combine_effects), back-transformed, rounded to 4 decimals.")
    description = (f"Pooled {STATISTIC_TYPES[statistic]['display'].lower()} {q4(_back(pooled, statistic, estimate))} "
                   f"(95% CI {q4(_back(pooled, statistic, low))} to {q4(_back(pooled, statistic, high))}); "
                   f"I² {pooled.i2:.1f}%, tau² {pooled.tau2:.4f}, Q {pooled.q:.2f} on {pooled.q_df} df.")
    if pooled.prediction is not None and random:
        description += (f" 95% prediction interval {q4(_back(pooled, statistic, pooled.prediction[0]))} to "
                        f"{q4(_back(pooled, statistic, pooled.prediction[1]))}.")
    estimates = [
        {"type": {"coding": [ESTIMATE_TYPES["ci"]]}, "level": Decimal("0.95"),
         "range": {"low": {"value": q4(_back(pooled, statistic, low))},
                   "high": {"value": q4(_back(pooled, statistic, high))}}},
        {"type": {"coding": [HETEROGENEITY["i2"]]}, "quantity": {"value": Decimal(f"{pooled.i2:.2f}"), **quantity_unit("%")}},
        {"type": {"coding": [HETEROGENEITY["tau2"]]}, "quantity": {"value": q4(pooled.tau2)}},
        {"type": {"coding": [HETEROGENEITY["q"]]}, "quantity": {"value": Decimal(f"{pooled.q:.4f}")}},
    ]
    characteristics = [{"code": {"coding": [MODEL_CODES[outcome.synthesis.model]]}}]
    if random:
        characteristics.append({"code": {"coding": [MODEL_CODES[pooled.tau_method]]}})
    return {
        "extension": [derived_value(ctx, method)],
        "description": description,
        "statisticType": {"coding": [STATISTIC_TYPES[statistic]]},
        "quantity": {"value": q4(_back(pooled, statistic, estimate))},
        "sampleSize": {"numberOfStudies": pooled.k},
        "attributeEstimate": estimates,
        "modelCharacteristic": characteristics,
        "note": [{"text": method}],
    }


def _synthesis(ctx: CompileContext, outcome: QuestionOutcome, cited: list[Json],
               studies: dict[str, LoadedStudy]) -> Json:
    q = ctx.loaded.question
    rid = ctx.rid(outcome.id)
    lines = [f"{e['title']}: {e['description']}" for e in cited]
    meta = outcome.synthesis.method == "meta-analysis"
    pooled = _pooled(outcome, studies) if meta and ctx.config.derived_values else None
    kind = "Meta-analysis" if meta else "Narrative synthesis (range of results)"
    description = f"{kind} of {len(cited)} result(s): " + " ".join(e["description"] for e in cited)
    if outcome.synthesis.reason:
        description += f" ({outcome.synthesis.reason})"
    resource: Json = {
        "resourceType": "Evidence",
        "id": rid,
        "meta": {"profile": [EBM + "evidence-synthesis-evidence"]},
        "text": div(f"Body of evidence: {outcome.title}", f"Question: {q.title}", f"Importance: {outcome.importance}.",
                    ("Results", lines), outcome.synthesis.reason or ""),
        "url": ctx.url("Evidence", rid),
        "version": ctx.config.version,
        "title": f"{outcome.title}: body of evidence for {q.title}",
        "status": q.status,
        "date": q.date,
        "publisher": ctx.config.publisher,
        "relatedArtifact": [{"type": "composed-of", "display": e["title"],
                             "resourceReference": ctx.ref("Evidence", e["id"], e["title"])} for e in cited],
        "description": description,
        "variableDefinition": [
            variable_role("population", ctx.ref("Group", ctx.rid("population"), q.question.population.description)),
            variable_role("outcome", ctx.ref("EvidenceVariable", rid, outcome.title)),
        ],
        "synthesisType": {"coding": [STD_MA if meta else RANGE]},
    }
    if pooled is not None:
        resource["statistic"] = [_pooled_statistic(ctx, outcome, *pooled)]
    return resource


def _certainty(ctx: CompileContext, outcome: QuestionOutcome, evidence: Json) -> Json | None:
    certainty = outcome.certainty
    if certainty is None:
        return None
    q = ctx.loaded.question
    rid = ctx.rid(f"{outcome.id}-certainty")
    components: list[Json] = [{"informationType": "rating", "summary": d.reason or _label(d.rating),
                               "type": codeable(d.type), "classifier": [codeable(d.rating)]}
                              for d in certainty.domains]
    for cited in outcome.results:
        components.append({"informationType": "rating",
                           "summary": f"Directness of {cited.study} / {cited.result}: "
                                      + (cited.directness.reason or _label(cited.directness.rating)),
                           "type": codeable(_INDIRECTNESS), "classifier": [codeable(cited.directness.rating)]})
    title = f"Certainty of evidence: {outcome.title} ({q.title})"
    return {
        "resourceType": "ArtifactAssessment",
        "id": rid,
        "meta": {"profile": [EBM + "certainty-of-evidence"]},
        "text": div(title, f"Rating: {_label(certainty.rating)}. {certainty.summary}", f"Assessed by {q.assessor}.",
                    ("Domains", [f"{_label(d.type)}: {_label(d.rating)}." + (f" {d.reason}" if d.reason else "")
                                 for d in certainty.domains])),
        "extension": ctx.artifact_extensions("ArtifactAssessment", rid),
        "title": title,
        "date": q.date,
        "artifactReference": ctx.ref("Evidence", evidence["id"], evidence["title"]),
        "content": [{"informationType": "rating", "summary": certainty.summary, "type": _OVERALL,
                     "classifier": [codeable(certainty.rating)], "author": {"display": q.assessor},
                     "freeToShare": True, "component": components}],
    }


def compile_question(ctx: CompileContext, compiled: Mapping[str, Json], studies: dict[str, LoadedStudy]) -> list[Json]:
    """The question's population Group, its outcome variables, syntheses and certainty assessments.

    ``compiled`` maps resource keys (``Evidence/<study id>-<result id>``, ...) to the compiled resources.
    """
    q = ctx.loaded.question
    population = _population(ctx)
    ctx.add(population, "question")
    out = [population]
    for i, outcome in enumerate(q.outcomes):
        variable = _variable(ctx, outcome)
        ctx.add(variable, "outcomes", i)
        out.append(variable)
        cited = [compiled[f"Evidence/{c.study}-{c.result}"] for c in outcome.results
                 if f"Evidence/{c.study}-{c.result}" in compiled]
        if not cited:
            continue
        synthesis = _synthesis(ctx, outcome, cited, studies)
        ctx.add(synthesis, "outcomes", i, "results")
        out.append(synthesis)
        assessment = _certainty(ctx, outcome, synthesis)
        if assessment is not None:
            ctx.add(assessment, "outcomes", i, "certainty")
            out.append(assessment)
    return out
