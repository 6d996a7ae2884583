"""Population, eligibility, exposure, arms, analysis sets and subgroups -> Group resources.

The IG's pattern (EBM-on-FHIR R5): a StudyGroup (who was enrolled), and for what was
given an ExposureGroup (or ComparatorGroup) whose characteristics say it is a member of
the StudyGroup and what it received, so the intervention is linked computably to the
Evidence about that group.
"""

from __future__ import annotations

from decimal import Decimal

from ..definitions.model import Count, Study
from ..terminology import concept, quantity_unit
from .context import EBM, CompileContext, Json, div
from .extensions import derived_value

__all__ = ["coded_characteristic", "compile_groups", "exposure_group_id", "group_profile"]

CHARACTERISTIC_DESCRIPTION = EBM + "characteristic-description"
COMBINATION_METHOD = EBM + "combination-method"


def exposure_group_id(study: Study) -> str | None:
    """Local id of the single-group study's exposure group (the exposure's id), if any."""
    return study.exposure.id if study.exposure is not None and not study.design.comparative else None


def group_profile(study: Study, group: str) -> str:
    """The EBM profile of the Group for a population, subgroup, arm or analysis set id (by what it received)."""
    arm = study.treatment_of(group)
    if arm is not None:
        return "comparator-group" if arm.role == "comparator" else "exposure-group"
    if group == study.population.id:
        return "study-group"
    return "exposure-group"


def coded_characteristic(title: str, keys: list[str], how: str) -> Json:
    """A Group characteristic `how`: the concepts of `keys` (text only when none is known)."""
    codings = [c.coding() for c in (concept(k) for k in keys) if c is not None]
    value: Json = {"coding": codings, "text": title} if codings else {"text": title}
    return {"code": {"text": how}, "valueCodeableConcept": value, "exclude": False}


def _member_of(ctx: CompileContext, local: str, title: str, description: str | None = None) -> Json:
    item: Json = {"code": {"text": "Member of"}, "valueReference": ctx.ref("Group", ctx.rid(local), title),
                  "exclude": False}
    if description:
        item["extension"] = [{"url": CHARACTERISTIC_DESCRIPTION, "valueMarkdown": description}]
    return item


def _group(ctx: CompileContext, local: str, profile: str, kind: str, title: str, description: str, n: int,
           characteristics: list[Json], blocks: list[str | tuple[str, list[str]]],
           extensions: list[Json] | None = None) -> Json:
    rid = ctx.rid(local)
    return {
        "resourceType": "Group",
        "id": rid,
        "meta": {"profile": [EBM + profile]},
        "text": div(f"{kind}: {title} (N = {n})", description, *blocks),
        "extension": ctx.artifact_extensions("Group", rid, f"{kind}: {title}") + (extensions or []),
        "type": "person",
        "membership": "enumerated",
        "name": title,
        "description": description,
        "quantity": n,
        "characteristic": characteristics,
    }


def _method(size: Count) -> str | None:
    return size.derived.method if size.derived is not None else None


def _derived_marks(ctx: CompileContext, sizes: list[tuple[str, Count]]) -> tuple[list[Json], list[str]]:
    """For each size the author derived: the derived-value extension (naming the Group element) and
    a line of the narrative saying how. Authored numbers: marked whatever ``derived_values`` says."""
    extensions, lines = [], []
    for element, size in sizes:
        if size.derived is not None:
            extensions.append(derived_value(ctx, size.derived.method, element))
            lines.append(f"Derived by the definition author ({element}): {size.derived.method}")
    return extensions, lines


def _eligibility(ctx: CompileContext) -> Json:
    eligibility = ctx.study.population.eligibility
    elig_id = ctx.rid(eligibility.id)
    characteristics = []
    for crit in eligibility.criteria:
        item: Json = {"code": {"text": crit.description}}
        found = concept(crit.concept) if crit.concept else None
        if found is not None:
            item["valueCodeableConcept"] = {"coding": [found.coding()], "text": crit.description}
        elif crit.value is not None:
            quantity: Json = {"value": Decimal(crit.value)}
            if crit.comparator:
                quantity["comparator"] = crit.comparator
            if crit.unit:
                quantity.update(quantity_unit(crit.unit))
            item["valueQuantity"] = quantity
        else:
            item["valueBoolean"] = True
        item["exclude"] = crit.exclude
        characteristics.append(item)
    definition: Json = {
        "resourceType": "Group",
        "id": elig_id,
        "meta": {"profile": [EBM + "study-eligibility-criteria"]},
        "text": div(f"Eligibility criteria: {eligibility.title}", eligibility.description,
                    ("Criteria", [("Exclude: " if c.exclude else "") + c.description for c in eligibility.criteria])),
        "extension": ctx.artifact_extensions("Group", elig_id, f"Eligibility criteria: {eligibility.title}"),
        "type": "person",
        "membership": "definitional",
        "name": eligibility.title,
        "description": eligibility.description,
        "characteristic": characteristics,
    }
    compiled = ctx.add(definition, "population", "eligibility")
    for i, crit in enumerate(eligibility.criteria):
        if crit.value is not None:
            ctx.element(compiled, f"Group.characteristic[{i}].valueQuantity.value",
                        ("population", "eligibility", "criteria", i, "value"), crit.value, crit.provenance)
    return definition


def compile_groups(ctx: CompileContext) -> list[Json]:
    """Eligibility, StudyGroup, the exposure or arm groups, analysis sets, subgroups."""
    study = ctx.study
    pop = study.population
    out = [_eligibility(ctx)]
    elig = pop.eligibility
    marks, lines = _derived_marks(ctx, [("quantity", pop.n)])
    study_group = _group(ctx, pop.id, "study-group", "Study group", pop.title, pop.description, pop.n.value,
                         [{"code": {"text": "Meets study eligibility criteria"},
                           "valueReference": ctx.ref("Group", ctx.rid(elig.id), elig.title), "exclude": False}],
                         [f"Source: \u201c{p.quote}\u201d" for p in pop.n.provenance] + lines, marks)
    compiled = ctx.add(study_group, "population")
    ctx.element(compiled, "Group.quantity", ("population", "n", "value"), str(pop.n.value), pop.n.provenance,
                _method(pop.n))
    out.append(study_group)

    exposure = study.exposure
    received: list[Json] = []
    if exposure_group_id(study) is not None and exposure is not None:
        # single group: everyone enrolled received the exposure (the IG's single-arm pattern)
        received = [coded_characteristic(exposure.title, exposure.concepts, "Received")]
        group = _group(ctx, exposure.id, "exposure-group", "Exposure group", f"{pop.title}: {exposure.title}",
                       f"{pop.description} Exposure: {exposure.description}", pop.n.value,
                       [_member_of(ctx, pop.id, pop.title), *received],
                       [f"Received: {exposure.title}"])
        compiled = ctx.add(group, "exposure")
        ctx.element(compiled, "Group.quantity", ("population", "n", "value"), str(pop.n.value), pop.n.provenance,
                    derived=f"N of the population '{pop.id}': in a single-group study everyone enrolled "
                            "received the exposure")
        out.append(group)

    randomized = study.design.kind.endswith("-randomized")
    arm_titles = {a.id: a.title for a in study.arms}
    for i, arm in enumerate(study.arms):
        how = "Randomized to" if randomized else "Assigned to"
        marks, lines = _derived_marks(ctx, [("quantity", arm.n)])
        group = _group(ctx, arm.id, group_profile(study, arm.id),
                       "Comparator group" if arm.role == "comparator" else "Exposure group",
                       arm.title, arm.description, arm.n.value,
                       [_member_of(ctx, pop.id, pop.title), coded_characteristic(arm.title, arm.concepts, how)],
                       [f"{how}: {arm.title}", f"Role: {arm.role}", *lines], marks)
        compiled = ctx.add(group, "arms", i)
        ctx.element(compiled, "Group.quantity", ("arms", i, "n", "value"), str(arm.n.value), arm.n.provenance,
                    _method(arm.n))
        out.append(group)
    for i, aset in enumerate(study.analysis_sets):
        characteristics = [_member_of(ctx, aset.arm, arm_titles.get(aset.arm, aset.arm), "analysed as this arm")]
        blocks: list[str | tuple[str, list[str]]] = [f"Analysed as: {arm_titles.get(aset.arm, aset.arm)}"]
        if aset.received is not None:
            given = next(a for a in study.arms if a.id == aset.received)
            characteristics.append(coded_characteristic(given.title, given.concepts, "Received"))
            blocks.append(f"Received: {given.title}")
        for inc in aset.includes:
            how_many = f"{inc.n.value} participants" if inc.n is not None else "participants (how many is not reported)"
            characteristics.append(_member_of(ctx, inc.arm, arm_titles.get(inc.arm, inc.arm),
                                              f"{how_many} of this arm: {inc.reason}"))
            blocks.append(f"Includes {how_many} of {arm_titles.get(inc.arm, inc.arm)}: {inc.reason}")
        extensions = [{"url": COMBINATION_METHOD, "valueCode": "any-of"}] if aset.includes else []
        marks, lines = _derived_marks(ctx, [("quantity", aset.n)] + [(f"characteristic[{j + 1}]", inc.n)
                                                                      for j, inc in enumerate(aset.includes)
                                                                      if inc.n is not None])
        role = group_profile(study, aset.id)
        group = _group(ctx, aset.id, role, "Analysis set", aset.title, aset.description, aset.n.value,
                       characteristics, blocks + lines, extensions + marks)
        compiled = ctx.add(group, "analysis_sets", i)
        ctx.element(compiled, "Group.quantity", ("analysis_sets", i, "n", "value"), str(aset.n.value),
                    aset.n.provenance, _method(aset.n))
        for j, inc in enumerate(aset.includes):
            if inc.n is not None:
                ctx.element(compiled, f"Group.characteristic[{j + 1}]",
                            ("analysis_sets", i, "includes", j, "n", "value"), str(inc.n.value), inc.n.provenance,
                            _method(inc.n))
        out.append(group)

    titles = {s.id: s.title for s in pop.subgroups}
    for i, sub in enumerate(pop.subgroups):
        characteristics = [
            _member_of(ctx, pop.id, pop.title),
            {"code": {"text": sub.defined_by}, "valueCodeableConcept": {"text": sub.title}, "exclude": False},
            *received,
        ]
        blocks = [f"Subgroup of: {pop.title}"]
        if sub.union_of:
            blocks.append(("Combines the subgroups", [titles[s] for s in sub.union_of]))
        marks, lines = _derived_marks(ctx, [("quantity", sub.n)])
        group = _group(ctx, sub.id, "exposure-group", "Subgroup", sub.title, sub.description, sub.n.value,
                       characteristics, blocks + lines, marks)
        compiled = ctx.add(group, "population", "subgroups", i)
        ctx.element(compiled, "Group.quantity", ("population", "subgroups", i, "n", "value"),
                    str(sub.n.value), sub.n.provenance, _method(sub.n))
        out.append(group)
    return out
