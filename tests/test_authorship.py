"""Issue 22, point 5: what the knowledge base's authors say is attributed to them, and no
output claims what no source says."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from conftest import DEFINITIONS


def _resources(r5: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(p.read_text()) for p in sorted((r5 / "resources").glob("*.json"))]


def test_the_recommendation_names_its_authors(seed_build: Path) -> None:
    question = yaml.safe_load((DEFINITIONS / "ivig-refractory-cdm-question.yaml").read_text())
    by_type = {}
    for r in _resources(seed_build):
        by_type.setdefault(r["resourceType"], []).append(r)
    (plan,) = by_type["PlanDefinition"]
    (order,) = by_type["ActivityDefinition"]
    assert plan["author"] == order["author"] == [{"name": question["assessor"]}]
    justification = next(r for r in by_type["ArtifactAssessment"] if r["id"].endswith("-justification"))
    assert all(c["author"] == {"display": question["assessor"]} for c in justification["content"])


def test_a_business_rule_carries_its_basis_in_the_plan_definition(seed_build: Path) -> None:
    plan = next(r for r in _resources(seed_build) if r["resourceType"] == "PlanDefinition")
    conditions = [c["expression"] for c in plan["action"][0]["condition"]]
    age = next(c for c in conditions if "birthDate" in c["expression"])
    assert "a business rule, not a finding of the evidence" in age["description"]
    assert "The source does not report an age limit" in age["description"]
    assert all("business rule" not in c["description"] for c in conditions if c is not age)  # sourced or none


def test_no_output_claims_who_judged_or_how_the_evidence_names_an_agent(seed_build: Path) -> None:
    for resource in _resources(seed_build):
        text = json.dumps(resource, ensure_ascii=False)
        for claim in ("as judged by", "judged by the treating clinicians", "as the evidence names it"):
            assert claim not in text, (resource["id"], claim)
