"""Population, eligibility definition and subgroups -> Group resources."""

from __future__ import annotations

from decimal import Decimal

from ..terminology import concept
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_groups"]


def compile_groups(ctx: CompileContext) -> list[Json]:
    """StudyGroup (the population), its eligibility CohortDefinition, one ExposureGroup per subgroup."""
    pop = ctx.study.population
    eligibility = pop.eligibility
    elig_id = ctx.rid(eligibility.id)
    characteristics = []
    for i, crit in enumerate(eligibility.criteria):
        item: Json = {"code": {"text": crit.description}}
        found = concept(crit.concept) if crit.concept else None
        if found is not None:
            item["valueCodeableConcept"] = {"coding": [found.coding()], "text": crit.description}
        elif crit.value is not None:
            quantity: Json = {"value": Decimal(crit.value)}
            if crit.comparator:
                quantity["comparator"] = crit.comparator
            if crit.unit:
                quantity["unit"] = crit.unit
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

    pop_id = ctx.rid(pop.id)
    study_group: Json = {
        "resourceType": "Group",
        "id": pop_id,
        "meta": {"profile": [EBM + "study-group"]},
        "text": div(f"Study group: {pop.title} (N = {pop.n.value})", pop.description,
                    *[f"Source: \u201c{p.quote}\u201d" for p in pop.n.provenance]),
        "extension": ctx.artifact_extensions("Group", pop_id, f"Study group: {pop.title}"),
        "type": "person",
        "membership": "enumerated",
        "name": pop.title,
        "description": pop.description,
        "quantity": pop.n.value,
        "characteristic": [
            {"code": {"text": "Meets study eligibility criteria"},
             "valueReference": ctx.ref("Group", elig_id, eligibility.title),
             "exclude": False},
        ],
    }
    compiled = ctx.add(study_group, "population")
    ctx.element(compiled, "Group.quantity", ("population", "n", "value"), str(pop.n.value), pop.n.provenance)
    out = [definition, study_group]
    titles = {s.id: s.title for s in pop.subgroups}
    for i, sub in enumerate(pop.subgroups):
        sub_id = ctx.rid(sub.id)
        characteristics = [
            {"code": {"text": "Member of"}, "valueReference": ctx.ref("Group", pop_id, pop.title), "exclude": False},
            {"code": {"text": "Disease presentation"}, "valueCodeableConcept": {"text": sub.title}, "exclude": False},
        ]
        blocks: list[str | tuple[str, list[str]]] = [f"Subgroup: {sub.title} (N = {sub.n.value})", sub.description]
        if sub.union_of:
            blocks.append(("Combines the subgroups", [titles[s] for s in sub.union_of]))
        group: Json = {
            "resourceType": "Group",
            "id": sub_id,
            "meta": {"profile": [EBM + "exposure-group"]},
            "text": div(*blocks),
            "extension": ctx.artifact_extensions("Group", sub_id, f"Subgroup: {sub.title}"),
            "type": "person",
            "membership": "enumerated",
            "name": sub.title,
            "description": sub.description,
            "quantity": sub.n.value,
            "characteristic": characteristics,
        }
        compiled = ctx.add(group, "population", "subgroups", i)
        ctx.element(compiled, "Group.quantity", ("population", "subgroups", i, "n", "value"),
                    str(sub.n.value), sub.n.provenance)
        out.append(group)
    return out
