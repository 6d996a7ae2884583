"""Findability of the knowledge (issue 13, point 3), offline: what a server indexes is in the output.
The searches themselves run against HAPI in tests/test_push_hapi.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from conftest import DEFINITIONS
from evidencekit.cli import main
from evidencekit.terminology import CONCEPTS

FOCUS = ("http://terminology.hl7.org/CodeSystem/usage-context-type", "focus")
WITH_USE_CONTEXT = {"ActivityDefinition", "Citation", "CodeSystem", "Composition", "Evidence", "EvidenceVariable",
                    "PlanDefinition", "ValueSet"}


def _resources(build: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((build / "resources").glob("*.json"))]


def _definition_of(resource_id: str) -> dict[str, Any]:
    """The study or question definition a resource id comes from (ids start with the definition's id)."""
    for path in DEFINITIONS.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "id" in data and resource_id.startswith(data["id"]):
            return data
    raise AssertionError(resource_id)


def _focus_keys(definition: dict[str, Any]) -> list[str]:
    if definition.get("kind") == "question":
        pico = definition["question"]
        return pico["population"]["concepts"] + pico["intervention"]["concepts"]
    keys = [c["concept"] for c in definition["population"]["eligibility"]["criteria"]
            if c.get("concept") and not c.get("exclude")]
    keys += (definition.get("exposure") or {}).get("concepts", [])
    keys += [k for arm in definition.get("arms", []) if arm["role"] == "intervention" for k in arm.get("concepts", [])]
    return list(dict.fromkeys(keys))


def test_every_knowledge_resource_names_its_condition_and_intervention(seed_build: Path) -> None:
    """useContext focus = the definition's condition and intervention concepts, on every resource that
    can carry one (R5's `context` search parameter reads it)."""
    checked = 0
    for resource in _resources(seed_build):
        if resource["resourceType"] not in WITH_USE_CONTEXT:
            assert "useContext" not in resource
            continue
        contexts = resource["useContext"]
        assert all((c["code"]["system"], c["code"]["code"]) == FOCUS for c in contexts), resource["id"]
        codings = [c["valueCodeableConcept"]["coding"][0] for c in contexts]
        expected = [CONCEPTS[k].coding() for k in _focus_keys(_definition_of(resource["id"]))]
        assert codings == expected, resource["id"]
        assert {"system": "http://snomed.info/sct", "code": "396230008", "display": "Dermatomyositis"} in codings
        checked += 1
    assert checked > 100


def test_citation_identifiers_and_classification(seed_build: Path) -> None:
    """The PMID and DOI at the top level too (R5 indexes `identifier` there), and the classification R5
    indexes as `classifier`: the publication type and the verified MeSH heading. A study's further
    reports (issue 22) are found by their identifiers too; an article is a Journal Article."""
    mains = 0
    for citation in (r for r in _resources(seed_build) if r["resourceType"] == "Citation"):
        cited = citation["citedArtifact"].get("identifier", [])
        assert citation.get("identifier", []) == cited, citation["id"]
        profile = citation["meta"]["profile"][0].rsplit("/", 1)[1]
        classifiers = {(c["type"]["coding"][0]["code"], k["coding"][0]["code"])
                       for c in citation.get("classification", []) for k in c["classifier"]}
        if citation["id"].endswith("-citation") and not citation["id"].startswith("dalakas-1993"):
            assert cited[0]["system"] == "https://pubmed.ncbi.nlm.nih.gov"  # a study's main publication
            assert classifiers == {("publication-type", "D016428"), ("mesh-heading", "D003882")}
            mains += 1
        elif citation["id"] == "dalakas-1993-citation":  # its facts found no PMID and no DOI: none is given
            assert not cited and classifiers == {("publication-type", "D016428")}
        elif profile == "journal-article-citation":
            assert classifiers == {("publication-type", "D016428")}, citation["id"]  # no MeSH the definition gives
            assert cited, citation["id"]  # a PMID or a DOI
        else:
            assert profile in ("database-entry-citation", "web-page-citation") and not classifiers, citation["id"]
    assert mains == 3


def test_an_unverified_mesh_code_is_left_out_and_reported(definitions_copy: Path, tmp_path: Path,
                                                         runner: CliRunner) -> None:
    seed = definitions_copy / "galimberti-2018-ivig-cutaneous-dm.yaml"
    text = seed.read_text(encoding="utf-8")
    assert text.count("mesh: [mesh:D003882]") == 1
    seed.write_text(text.replace("mesh: [mesh:D003882]", "mesh: [mesh:D003882, mesh:D016756]"), encoding="utf-8")
    assert CONCEPTS["mesh:D016756"].status == "unverified"
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(definitions_copy), "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    warned = [d for d in json.loads(result.output[:result.output.rindex("]") + 1])
              if d["code"] == "EK302" and "mesh:D016756" in d["message"]]
    assert warned and warned[0]["file"].endswith("galimberti-2018-ivig-cutaneous-dm.yaml")
    citation = json.loads((out / "r5" / "resources" / "Citation-galimberti-2018-citation.json").read_text())
    mesh = [k["coding"][0]["code"] for c in citation["classification"] for k in c["classifier"]
            if c["type"]["coding"][0]["code"] == "mesh-heading"]
    assert mesh == ["D003882"]


def test_subgroup_evidence_names_the_condition_and_the_intervention(seed_build: Path) -> None:
    """A subgroup's title alone ('Refractory skin disease alone') names neither; its Evidence's title
    carries the study population's, which does."""
    subgroups = [r for r in _resources(seed_build) if r["resourceType"] == "Evidence"
                 and r["id"] in ("galimberti-2018-improvement-skin-alone", "galimberti-2018-improvement-skin-muscle-lung",
                                 "bounfour-2014-relapse")]
    assert len(subgroups) == 3
    for evidence in subgroups:
        title = evidence["title"].lower()
        assert "ivig" in title and "dermatomyositis" in title.replace("dm skin", "dermatomyositis skin"), title
        assert "(subgroup of " in title


def test_search_parameters_ship_in_the_package(seed_build: Path) -> None:
    from fhir.resources import get_fhir_model_class

    model = get_fhir_model_class("SearchParameter")

    found = {p.name: json.loads(p.read_text()) for p in (seed_build / "definitions").glob("SearchParameter-*.json")}
    assert {(r["base"][0], r["code"]) for r in found.values()} == {
        ("ArtifactAssessment", "artifact"), ("Evidence", "variable"), ("Citation", "cited-artifact-identifier")}
    for resource in found.values():
        model.model_validate(resource)
        assert resource["url"].startswith("http://example.org/fhir/evidencekit/SearchParameter/")


def test_every_quantity_with_a_unit_is_ucum_coded(seed_build: Path) -> None:
    """Units are machine-readable: every Quantity the output gives a unit carries UCUM's system and a
    code — the built-in units of time and %, and the counts definitions/terminology.yaml declares as 1."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "value" in value and "unit" in value:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for resource in _resources(seed_build):
        walk(resource)
    assert len(found) > 20
    assert all(q.get("system") == "http://unitsofmeasure.org" and q.get("code") for q in found), \
        [q for q in found if "code" not in q][:3]
    codes = {(q["unit"], q["code"]) for q in found}
    assert {("days", "d"), ("years", "a"), ("weeks", "wk"), ("cycles", "1")} <= codes
