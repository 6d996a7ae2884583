"""Reported results -> Evidence resources, the way the EBM IG models them.

* a result about one group: ``intervention-only-evidence`` (an intervention arm, or the
  exposure group of a single-group study), ``comparator-only-evidence`` (a comparator arm),
  ``non-comparative-evidence`` (the whole population of a comparative study) or
  ``baseline-measure-evidence`` (a baseline variable);
* a result comparing two groups: ``comparative-evidence``, with the group-assignment
  variable as exposure and the comparator's category named by the comparator-category
  extension.

Numbers keep their authored precision (``Decimal`` from the authored text). Values the
source does not report are either derived, and then say how (in text and with the
``derived-value`` extension), or left out: a count is derived only from a proportion of one
group's participants, when exactly one whole number reproduces the reported percentage
(GRIM), and a CI only from such a count. A difference or a ratio never gets a count.
"""

from __future__ import annotations

from decimal import Decimal

from ..definitions.model import NOT_ESTIMABLE, RATIO_STATISTICS, Provenance, Result, p_value_parts
from ..stats import grim_proportion, wilson_interval
from ..terminology import concept, quantity_unit
from .citation import report_ref
from .extensions import DERIVED_VALUE, derived_value, derived_value_url
from .context import EBM, CompileContext, CompiledResource, Json, div, percent_to_fraction, provenance_note
from .groups import exposure_group_id
from .variables import ASSIGNMENT, outcome_variable_id

__all__ = ["DERIVED_VALUE", "STATISTIC_TYPES", "ESTIMATE_TYPES", "compile_evidence", "derived_value",
           "derived_value_url", "variable_role"]

ROLE_EXTENSION = EBM + "variable-definition-variable-role-code"
COMPARATOR_CATEGORY = EBM + "variable-definition-comparator-category"
_STAT_TYPE = "http://terminology.hl7.org/CodeSystem/statistic-type"
_ESTIMATE_TYPE = "http://terminology.hl7.org/CodeSystem/attribute-estimate-type"
_VARIABLE_ROLE = "http://terminology.hl7.org/CodeSystem/variable-role"
_MODEL_CODE = "http://hl7.org/fhir/statistic-model-code"

#: statistic -> statisticType (hl7.terminology.r5 7.0.1 CodeSystem-statistic-type; tests re-check them)
STATISTIC_TYPES = {
    "proportion": {"system": _STAT_TYPE, "code": "C44256", "display": "Proportion"},
    "mean": {"system": _STAT_TYPE, "code": "C53319", "display": "Mean"},
    "median": {"system": _STAT_TYPE, "code": "C28007", "display": "Median"},
    "count": {"system": _STAT_TYPE, "code": "C25463", "display": "Count"},
    "risk-difference": {"system": _STAT_TYPE, "code": "0000424", "display": "Risk Difference"},
    "relative-risk": {"system": _STAT_TYPE, "code": "C93152", "display": "Relative Risk"},
    "odds-ratio": {"system": _STAT_TYPE, "code": "C16932", "display": "Odds Ratio"},
    "hazard-ratio": {"system": _STAT_TYPE, "code": "C93150", "display": "Hazard Ratio"},
    "mean-difference": {"system": _STAT_TYPE, "code": "0000457", "display": "Mean Difference"},
    "median-difference": {"system": _STAT_TYPE, "code": "absolute-MedianDiff", "display": "Absolute Median Difference"},
}
#: attributeEstimate types (hl7.terminology.r5 7.0.1 CodeSystem-attribute-estimate-type)
ESTIMATE_TYPES = {
    "sd": {"system": _ESTIMATE_TYPE, "code": "C53322", "display": "Standard deviation"},
    "se": {"system": _ESTIMATE_TYPE, "code": "0000037", "display": "Standard error of the mean"},
    "ci": {"system": _ESTIMATE_TYPE, "code": "C53324", "display": "Confidence interval"},
    "iqr": {"system": _ESTIMATE_TYPE, "code": "C53245", "display": "Interquartile range"},
    "range": {"system": _ESTIMATE_TYPE, "code": "C38013", "display": "Range"},
    "p": {"system": _ESTIMATE_TYPE, "code": "C44185", "display": "P-value"},
}
#: statistic-model-code (hl7.fhir.r5.core 5.0.0)
ADJUSTED = {"system": _MODEL_CODE, "code": "adjusted", "display": "Adjusted analysis"}
CI_METHOD = "Wilson score interval"
_CI_PLACES = 3
_ROLE_CODES = {"population": ("population", "population"), "outcome": ("measuredVariable", "measured variable"),
               "exposure": ("exposure", "exposure")}


def variable_role(role: str, observed: Json, comparator: str | None = None) -> Json:
    """A variableDefinition with the EBM role extension (and the comparator category of an exposure)."""
    extensions: list[Json] = [{"url": ROLE_EXTENSION, "valueCode": role}]
    if comparator is not None:
        extensions.append({"url": COMPARATOR_CATEGORY, "valueString": comparator})
    code, display = _ROLE_CODES[role]
    return {"extension": extensions, "note": [{"text": role}],
            "variableRole": {"coding": [{"system": _VARIABLE_ROLE, "code": code, "display": display}],
                             "text": "Use extension:variableRoleCode instead."},
            "observed": observed}


def _shell(ctx: CompileContext, rid: str, title: str, description: str, profiles: list[str],
           variables: list[Json], narrative: Json, provenance: list[Provenance],
           design_codes: list[str] | None = None) -> Json:
    """What every Evidence has; ``provenance`` names the reports its numbers were read in, and
    ``design_codes`` are the study design as it was when they were measured (default: the study's)."""
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
        "relatedArtifact": [{"type": "derived-from", "label": "Reported in", "resourceReference": report_ref(ctx, r)}
                            for r in study.reported_in(provenance)],
        "description": description,
        "variableDefinition": variables,
        "synthesisType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/synthesis-type",
                                      "code": "NotApplicable", "display": "not applicable"}]},
        "studyDesign": [{"coding": [c.coding()]} for c in (concept(k) for k in (
            study.design.codes if design_codes is None else design_codes)) if c],
    }


def _group_title(ctx: CompileContext, group: str) -> str:
    study = ctx.study
    pop = study.population
    names = {pop.id: pop.title, **{s.id: s.title for s in pop.subgroups}, **{a.id: a.title for a in study.arms},
             **{s.id: s.title for s in study.analysis_sets}}
    return names[group]


def _group_ref(ctx: CompileContext, group: str, outcome: bool) -> Json:
    """The Group a result about ``group`` is observed in (an outcome of a single-group study's whole
    population: its exposure group; a baseline measure: the study group itself)."""
    study = ctx.study
    exposure = exposure_group_id(study)
    if outcome and group == study.population.id and exposure is not None:
        return ctx.ref("Group", ctx.rid(exposure), _group_title(ctx, group))
    return ctx.ref("Group", ctx.rid(group), _group_title(ctx, group))


def _scaled(result: Result, text: str) -> Decimal:
    """An authored estimate or bound on the FHIR scale (percent and percentage points -> fraction)."""
    return percent_to_fraction(text) if result.percent else Decimal(text)


class _Builder:
    """Collects one Evidence's statistic, notes, narrative lines and source-map elements."""

    def __init__(self, ctx: CompileContext, index: int, result: Result) -> None:
        self.ctx, self.index, self.result = ctx, index, result
        self.path: tuple[object, ...] = ("results", index)
        self.notes = provenance_note(ctx, result.provenance)
        if result.derived is not None:
            self.notes.append({"text": f"Derived by the definition author (not stated by the source): "
                                       f"{result.derived.method}"})
        self.lines = [result.text]
        self.elements: list[tuple[str, tuple[object, ...], str | None, str | None]] = []
        self.extensions: list[Json] = []
        self.estimates: list[Json] = []

    def element(self, fhir_path: str, field: str, authored: str | None, derived: str | None = None) -> None:
        self.elements.append((fhir_path, self.path + (field,), authored, derived))

    def quantity(self, text: str, unit: str | None) -> Json:
        out: Json = {"value": _scaled(self.result, text)}
        if unit and not self.result.percent and self.result.statistic not in RATIO_STATISTICS:
            out.update(quantity_unit(unit))
        return out

    def estimate(self, kind: str, **content: object) -> int:
        self.estimates.append({**({"description": content.pop("description")} if "description" in content else {}),
                               "type": {"coding": [ESTIMATE_TYPES[kind]]}, **content})
        return len(self.estimates) - 1

    def reported_estimates(self) -> None:
        r = self.result
        unit = r.unit
        for kind, field in (("sd", "sd"), ("se", "se")):
            value = getattr(r, field)
            if value is not None:
                i = self.estimate(kind, quantity=self.quantity(value, unit))
                self.element(f"statistic[0].attributeEstimate[{i}].quantity.value", field, value)
        if r.ci_low is not None or r.ci_high is not None:
            rng: Json = {}
            open_bounds = []
            for side, text in (("low", r.ci_low), ("high", r.ci_high)):
                if text == NOT_ESTIMABLE:
                    open_bounds.append("lower" if side == "low" else "upper")
                elif text is not None:
                    rng[side] = self.quantity(text, unit)
            description = "As reported by the source" + (
                f"; the {' and '.join(open_bounds)} bound{'s are' if len(open_bounds) > 1 else ' is'} not estimable."
                if open_bounds else ".")
            content: Json = {"description": description}
            if r.ci_level is not None:
                content["level"] = Decimal(r.ci_level)
            content["range"] = rng
            i = self.estimate("ci", **content)
            self.element(f"statistic[0].attributeEstimate[{i}].range", "ci_low", f"{r.ci_low}..{r.ci_high}")
        for kind, low, high in (("iqr", r.iqr_low, r.iqr_high), ("range", r.range_low, r.range_high)):
            if low is not None and high is not None:
                i = self.estimate(kind, range={"low": self.quantity(low, unit), "high": self.quantity(high, unit)})
                self.element(f"statistic[0].attributeEstimate[{i}].range", f"{kind}_low", f"{low}..{high}")
        if r.p_value is not None:
            comparator, value = p_value_parts(r.p_value)
            quantity: Json = {"value": value}
            if comparator != "=":
                quantity["comparator"] = comparator
            i = self.estimate("p", description=f"As reported by the source: P {r.p_value}.", quantity=quantity)
            self.element(f"statistic[0].attributeEstimate[{i}].quantity.value", "p_value", r.p_value)

    def model(self, statistic: Json) -> None:
        model = self.result.model
        if model is not None:
            code: Json = {"coding": [ADJUSTED], "text": model.description} if model.adjusted else \
                {"text": model.description}
            statistic["modelCharacteristic"] = [{"code": code}]


def _group_statistic(ctx: CompileContext, b: _Builder, n: int | None) -> Json:
    """The statistic of a result about one group (proportion, mean, median, count, finding)."""
    result = b.result
    statistic: Json = {}
    if result.statistic in STATISTIC_TYPES:  # a finding with a p-value has no statistic type of its own
        statistic["statisticType"] = {"coding": [STATISTIC_TYPES[result.statistic]]}
    if result.value is not None:
        statistic["quantity"] = b.quantity(result.value, result.unit)
        b.element("statistic[0].quantity.value", "value", result.value,
                  result.derived.method if result.derived is not None else None)
    affected, derived_affected = result.affected, None
    if (result.statistic == "proportion" and affected is None and n is not None and result.value is not None
            and result.scale is not None and ctx.config.derived_values):
        counts = grim_proportion(result.value, n, percent=result.percent)[1]
        if len(counts) == 1:
            affected = counts[0]
            shown = f"{result.value}%" if result.percent else result.value
            derived_affected = (f"Derived by evidencekit: {affected} is the only whole number k with "
                                f"k/{n} = {shown} at the reported precision; the source reports only "
                                "the percentage.")
    description = result.text
    if affected is not None and n is not None:
        description += (f" {affected} of {n} patients"
                        + (" (count derived from the reported percentage)." if derived_affected else "."))
    elif n is None and result.denominator is not None and result.denominator.kind == "unknown":
        description += " The denominator is not reported."
    statistic = {"description": description, **statistic}
    authored = result.derived.method if result.derived is not None else None  # derived by the author
    if authored is not None:
        for element in (["quantity"] if result.value is not None else []) + \
                (["numberAffected"] if result.affected is not None else []):
            b.extensions.append(derived_value(ctx, authored, element))
        b.notes.append({"text": f"Derived by the definition author: {authored}"})
    if affected is not None:
        statistic["numberAffected"] = affected
        b.element("statistic[0].numberAffected", "affected" if derived_affected is None else "value",
                  str(affected), derived_affected or authored)
        if derived_affected:
            b.notes.append({"text": derived_affected})
            b.extensions.append(derived_value(ctx, derived_affected, "numberAffected"))
    if result.event_count is not None:
        statistic["numberOfEvents"] = result.event_count
        b.element("statistic[0].numberOfEvents", "event_count", str(result.event_count))
    sample: Json = {"numberOfStudies": 1}
    if n is not None:
        sample["numberOfParticipants"] = n
        sample["knownDataCount"] = n
        den = result.denominator
        b.element("statistic[0].sampleSize.numberOfParticipants", "denominator", str(n),
                  None if den is not None and den.kind == "count" else
                  f"N of the group '{result.population}' (denominator: population)")
    if result.denominator is not None and result.denominator.note:
        sample["description"] = result.denominator.note
    statistic["sampleSize"] = sample
    b.reported_estimates()
    reported_ci = result.ci_low is not None or result.ci_high is not None
    if (not reported_ci and result.statistic == "proportion" and affected is not None and n
            and ctx.config.derived_values):
        low, high = wilson_interval(affected, n)
        quantum = Decimal(1).scaleb(-_CI_PLACES)
        method = (f"Derived by evidencekit: 95% {CI_METHOD} (Wilson 1927) for {affected}/{n}"
                  + (" (itself derived from the percentage)" if derived_affected else "")
                  + f", bounds rounded to {_CI_PLACES} decimals; not reported by the source.")
        low_q, high_q = Decimal(repr(low)).quantize(quantum), Decimal(repr(high)).quantize(quantum)
        i = b.estimate("ci", description=method, level=Decimal("0.95"),
                       range={"low": {"value": low_q}, "high": {"value": high_q}})
        b.estimates[i] = {"extension": [derived_value(ctx, method)], **b.estimates[i]}
        b.element(f"statistic[0].attributeEstimate[{i}].range", "value", None, method)
        b.lines.append(f"95% CI {low_q} to {high_q} (derived, Wilson score interval).")
    return statistic


def _comparative_statistic(ctx: CompileContext, b: _Builder) -> Json:
    """The statistic of a between-group result: no count, ever; N only as the sum of the groups' N."""
    result = b.result
    assert result.comparison is not None
    statistic: Json = {"description": result.text, "statisticType": {"coding": [STATISTIC_TYPES[result.statistic]]}}
    if result.value is not None:
        statistic["quantity"] = b.quantity(result.value, result.unit)
        b.element("statistic[0].quantity.value", "value", result.value,
                  result.derived.method if result.derived is not None else None)
    sizes = ctx.study.population_ids()
    sides = (result.comparison.intervention, result.comparison.comparator)
    known = [sizes.get(side) for side in sides]
    sample: Json = {"numberOfStudies": 1}
    if ctx.config.derived_values and not result.comparison.paired and ctx.study.design.kind != "crossover-randomized" \
            and all(k is not None for k in known):
        total = sum(k for k in known if k is not None)
        method = (f"Derived by evidencekit: the sum of the compared groups' N ({known[0]} + {known[1]}); "
                  "the source reports each group's N.")
        sample["numberOfParticipants"] = total
        b.extensions.append(derived_value(ctx, method, "sampleSize.numberOfParticipants"))
        b.element("statistic[0].sampleSize.numberOfParticipants", "comparison", str(total), method)
    statistic["sampleSize"] = sample
    b.reported_estimates()
    b.model(statistic)
    return statistic


def _profiles(ctx: CompileContext, result: Result, role: str) -> list[str]:
    study = ctx.study
    if result.comparative:
        return ["comparative-evidence", "single-study-evidence"]
    if role == "baseline":
        return ["baseline-measure-evidence", "single-study-evidence"]
    assert result.population is not None
    arm = study.treatment_of(result.population)
    if arm is not None:
        return [f"{'comparator' if arm.role == 'comparator' else 'intervention'}-only-evidence", "single-study-evidence"]
    if not study.design.comparative and exposure_group_id(study) is not None:
        return ["intervention-only-evidence", "single-study-evidence"]  # everyone received the exposure
    return ["non-comparative-evidence", "single-study-evidence"]


def _compile_result(ctx: CompileContext, index: int, result: Result) -> Json:
    study = ctx.study
    variable = next(v for v in study.variables if v.id == result.variable)
    point = next((t for t in study.timepoints if t.id == result.timepoint), None)
    b = _Builder(ctx, index, result)
    outcome_local = outcome_variable_id(result)
    outcome_title = variable.title + (f", {point.title}" if point is not None else "")
    outcome = ctx.ref("EvidenceVariable", ctx.rid(outcome_local), outcome_title)
    if result.comparison is not None:
        intervention, comparator = result.comparison.intervention, result.comparison.comparator
        comparator_arm = study.arm_of(comparator)
        group_title = f"{_group_title(ctx, intervention)} vs {_group_title(ctx, comparator)}"
        assignment_title = "Group assignment: " + " vs ".join(a.title for a in study.arms)
        variables = [
            variable_role("population", ctx.ref("Group", ctx.rid(study.population.id), study.population.title)),
            variable_role("exposure", ctx.ref("EvidenceVariable", ctx.rid(ASSIGNMENT), assignment_title),
                  comparator_arm.title if comparator_arm is not None else _group_title(ctx, comparator)),
            variable_role("outcome", outcome),
        ]
        statistic = _comparative_statistic(ctx, b)
    else:
        assert result.population is not None
        group_title = _group_title(ctx, result.population)
        if any(s.id == result.population for s in study.population.subgroups):
            # a subgroup's title alone names neither the condition nor the exposure: the population's does
            group_title += f" (subgroup of {study.population.title})"
        variables = [variable_role("population", _group_ref(ctx, result.population, variable.role == "outcome")),
                     variable_role("outcome", outcome)]
        statistic = _group_statistic(ctx, b, study.denominator_of(result))
    if b.estimates:
        statistic["attributeEstimate"] = b.estimates
    statistic["note"] = b.notes
    if b.extensions:
        statistic = {"extension": b.extensions, **statistic}
    rid = ctx.rid(result.id)
    title = f"{outcome_title} in {group_title}"
    narrative = div(f"Evidence: {title}", *b.lines,
                    ("Provenance", [f"{ctx.source_title(p.source)}" + (f", {p.locator}" if p.locator else "")
                                    + f": \u201c{p.quote}\u201d" for p in result.provenance]))
    resource = _shell(ctx, rid, title, result.text, _profiles(ctx, result, variable.role), variables, narrative,
                      result.provenance, study.design_codes_for(result))
    resource["statistic"] = [statistic]
    compiled = ctx.add(resource, *b.path)
    for fhir_path, yaml_path, authored, derived in b.elements:
        ctx.element(compiled, f"Evidence.{fhir_path}", yaml_path, authored, result.provenance, derived)
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
    variables = [variable_role("population", ctx.ref("Group", ctx.rid(pop.id), pop.title)),
                 variable_role("outcome", ctx.ref("EvidenceVariable", rid, part.title))]
    resource = _shell(ctx, rid, title, description, ["baseline-measure-evidence", "single-study-evidence"],
                      variables, narrative, [p for sub_id in part.subgroups for p in subgroups[sub_id][1].n.provenance])
    resource["statistic"] = statistics
    compiled: CompiledResource = ctx.add(resource, "population", "partitions", index)
    for stat_index, i, sub in compiled_elements:
        ctx.element(compiled, f"Evidence.statistic[{stat_index}].quantity.value",
                    ("population", "subgroups", i, "n", "value"), str(sub.n.value), sub.n.provenance)
    return resource


def compile_evidence(ctx: CompileContext) -> list[Json]:
    """One Evidence per reported result with a statistic, and one count Evidence per partition.

    A ``finding`` in words only is not Evidence: the study's outcome-measure report carries it
    (compile/report.py). A finding with a p-value is: its statistic is the words and the p-value
    as printed (an inequality stays a Quantity with its comparator)."""
    out = [_compile_partition(ctx, i) for i in range(len(ctx.study.population.partitions))]
    out += [_compile_result(ctx, i, r) for i, r in enumerate(ctx.study.results) if not r.in_words]
    return out
