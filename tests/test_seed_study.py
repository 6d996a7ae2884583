"""The seed study: every number of the source article is in the output, with provenance."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from conftest import SOURCE_TEXT, OUTPUT_RESOURCES


def _body_numbers() -> list[str]:
    text = SOURCE_TEXT.read_text(encoding="utf-8")
    body = text.split("Galimberti F, Kooistra L")[0]  # the citation line is checked separately
    return re.findall(r"\d+(?:\.\d+)?", body)


def _source_map(build: Path) -> dict:
    return json.loads((build / "source-map.json").read_text(encoding="utf-8"))


def test_every_number_of_the_article_is_authored_with_provenance(seed_build: Path) -> None:
    elements = [e for r in _source_map(seed_build)["resources"] for e in r["elements"]]
    numbers = _body_numbers()
    assert len(numbers) >= 18, numbers  # 42, 15, 25, 1, 1, 671.6, 1207.9, ... guards the regex
    for number in numbers:
        backed = [e for e in elements if e.get("authored") == number and e.get("provenance")
                  and any(number in p["quote"] for p in e["provenance"])]
        assert backed, f"{number} from the article has no output element with a provenance quote"


def test_citation_numbers(seed_build: Path) -> None:
    citation = json.loads((seed_build / "resources" / "Citation-galimberti-2018-citation.json").read_text())
    art = citation["citedArtifact"]
    ids = {i["system"]: i["value"] for i in art["identifier"]}
    assert ids == {"https://pubmed.ncbi.nlm.nih.gov": "29856076", "https://doi.org": "10.1111/ced.13607"}
    form = art["publicationForm"][0]
    assert (form["volume"], form["issue"], form["pageString"]) == ("43", "8", "906-912")
    assert form["articleDate"] == "2018-06-01" and form["publicationDateText"] == "2018-12"
    issn = [i["value"] for i in form["publishedIn"]["identifier"] if i.get("system") == "https://portal.issn.org"]
    assert issn == ["1365-2230"]
    assert [e["contributor"]["display"] for e in art["contributorship"]["entry"]] == [
        "Galimberti F", "Kooistra L", "Li Y", "Chatterjee S", "Fernandez AP"]


def _evidence(build: Path, name: str) -> dict:
    path = build / "resources" / f"Evidence-galimberti-2018-{name}.json"
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def test_proportions_keep_precision_and_mark_derived_counts(seed_build: Path) -> None:
    raw = (seed_build / "resources" / "Evidence-galimberti-2018-glucocorticoid-reduction.json").read_text()
    assert '"value": 0.80' in raw  # authored "80%" keeps two decimals as a fraction
    for name, value, events, n in (("improvement-overall", "0.83", 35, 42),
                                   ("improvement-skin-alone", "0.87", 13, 15),
                                   ("improvement-skin-muscle-lung", "0.81", 22, 27)):
        stat = _evidence(seed_build, name)["statistic"][0]
        assert str(stat["quantity"]["value"]) == value
        assert (stat["numberAffected"], stat["sampleSize"]["numberOfParticipants"]) == (events, n)
        assert "derived" in stat["description"]
        ci = stat["attributeEstimate"][0]
        assert ci["type"]["coding"][0]["code"] == "C53324" and ci["level"] == Decimal("0.95")
        assert "Wilson" in ci["description"] and "not reported by the source" in ci["description"]
        assert ci["range"]["low"]["value"] < Decimal(value) < ci["range"]["high"]["value"]


def test_unknown_denominators_stay_unknown(seed_build: Path) -> None:
    for name in ("glucocorticoid-reduction", "cycles-to-improvement"):
        stat = _evidence(seed_build, name)["statistic"][0]
        assert "numberAffected" not in stat
        assert "numberOfParticipants" not in stat["sampleSize"]
        assert all(e["type"]["coding"][0]["code"] != "C53324" for e in stat.get("attributeEstimate", []))
        assert "not reported" in stat["description"]


def test_means_carry_sd_and_unit(seed_build: Path) -> None:
    for name, mean, sd, unit in (("time-to-ivig", "671.6", "1207.9", "days"),
                                 ("age-at-ivig", "49.9", "20.42", "years"),
                                 ("prior-systemic-medications", "2.7", "1.2", "medications"),
                                 ("cycles-to-improvement", "1.82", "1.38", "cycles")):
        stat = _evidence(seed_build, name)["statistic"][0]
        assert stat["statisticType"]["coding"][0]["code"] == "C53319"
        assert (str(stat["quantity"]["value"]), stat["quantity"]["unit"]) == (mean, unit)
        sd_estimate = stat["attributeEstimate"][0]
        assert sd_estimate["type"]["coding"][0]["code"] == "C53322"
        assert str(sd_estimate["quantity"]["value"]) == sd


def test_subgroup_composition_counts(seed_build: Path) -> None:
    stats = _evidence(seed_build, "disease-presentation")["statistic"]
    assert [(s["category"]["text"], s["quantity"]["value"]) for s in stats] == [
        ("Refractory skin disease alone", 15), ("Refractory skin and muscle disease", 25),
        ("Refractory skin disease and interstitial lung disease", 1),
        ("Refractory skin disease, myositis and interstitial lung disease", 1)]
    assert sum(s["quantity"]["value"] for s in stats) == 42
    assert all(s["sampleSize"]["numberOfParticipants"] == 42 for s in stats)


def test_finding_without_numbers(seed_build: Path) -> None:
    stat = _evidence(seed_build, "predictors-of-response")["statistic"][0]
    assert "no significant predictors" in stat["description"]
    assert "quantity" not in stat


def test_refractory_definition_and_limitations(seed_build: Path) -> None:
    group = json.loads((seed_build / "resources" / "Group-galimberti-2018-refractory-cdm-definition.json").read_text())
    assert group["membership"] == "definitional" and "quantity" not in group
    quantity = group["characteristic"][1]["valueQuantity"]
    assert (quantity["comparator"], quantity["value"]) == (">=", 2)
    rob = json.loads((seed_build / "resources" / "ArtifactAssessment-galimberti-2018-risk-of-bias.json").read_text())
    comments = json.dumps(rob)
    assert "retrospective design" in comments and "objective evaluation of cutaneous DM activity" in comments
    assert rob["content"][0]["classifier"][0]["coding"][0]["code"] == "SEVCO:00189"


def test_every_resource_has_narrative_profile_and_source_location(seed_build: Path) -> None:
    entries = {e["resource"]: e for e in _source_map(seed_build)["resources"]}
    files = sorted((seed_build / "resources").glob("*.json"))
    assert len(files) == len(entries) == OUTPUT_RESOURCES
    for path in files:
        resource = json.loads(path.read_text(encoding="utf-8"))
        key = f"{resource['resourceType']}/{resource['id']}"
        assert resource["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        # decision-support resources claim no profile (CPG-on-FHIR is not available offline)
        if resource["resourceType"] not in ("PlanDefinition", "ValueSet", "CodeSystem") and not \
                resource["id"].endswith("-justification"):
            assert resource["meta"]["profile"]
        assert entries[key]["file"].startswith("definitions/") and entries[key]["file"].endswith(".yaml")
        assert entries[key]["line"] > 0


def test_author_derived_value_is_marked(definitions_copy: Path) -> None:
    from evidencekit.config import Config
    from evidencekit.pipeline import build

    seed = definitions_copy / "galimberti-2018-ivig-cutaneous-dm.yaml"
    text = seed.read_text(encoding="utf-8")
    marker = "    text: 81% of patients treated for refractory skin/muscle/lung disease improved.\n"
    assert text.count(marker) == 1
    seed.write_text(text.replace(marker, marker + "    derived: {method: 'subgroup N taken as 25 + 1 + 1'}\n"),
                    encoding="utf-8")
    result = build(definitions_copy, None, config=Config())
    assert result.ok and result.compiled is not None
    evidence = next(r for r in result.compiled.resources if r["id"] == "galimberti-2018-improvement-skin-muscle-lung")
    assert any("Derived by the definition author" in n["text"] and "25 + 1 + 1" in n["text"]
               for n in evidence["statistic"][0]["note"])
    entry = next(c for c in result.compiled.compiled if c.key == "Evidence/" + evidence["id"])
    value = next(e for e in entry.elements if e["fhir_path"] == "Evidence.statistic[0].quantity.value")
    assert value["derived"] == "subgroup N taken as 25 + 1 + 1" and value["provenance"]


def test_recommendation_compiles_to_a_plan_definition_with_its_justification(seed_build: Path) -> None:
    """The PlanDefinition carries the whole rule and points at resources that exist in the output."""
    resources = {}
    for path in (seed_build / "resources").glob("*.json"):
        r = json.loads(path.read_text(encoding="utf-8"))
        resources[f"{r['resourceType']}/{r['id']}"] = r
    by_url = {r["url"]: r for r in resources.values() if "url" in r}
    plan = resources["PlanDefinition/galimberti-2018-ivig-refractory-cdm"]
    assert plan["type"]["coding"][0]["code"] == "eca-rule"
    (action,) = plan["action"]
    assert [t["name"] for t in action["trigger"]] == ["patient-view", "order-select", "order-sign"]
    assert len(action["title"]) < 140
    conditions = [c["expression"]["expression"] for c in action["condition"]]
    assert "%patient.birthDate <= today() - 18 years" in conditions[0]
    assert conditions[3].endswith(".count() >= 2") and conditions[3].count(".select(") == 4  # 4 agents
    # every input is a DataRequirement whose value set or codes exist
    for item in action["input"]:
        for code_filter in item["requirement"]["codeFilter"]:
            if "valueSet" in code_filter:
                assert by_url[code_filter["valueSet"]]["resourceType"] == "ValueSet"
            else:
                assert code_filter["code"]
    # justification: the Evidence named in the definition, the Citation and the assessment
    evidence = [d["resource"] for d in action["documentation"] if d["type"] == "justification" and "resource" in d]
    assert [by_url[u]["id"] for u in evidence] == ["galimberti-2018-improvement-overall",
                                                  "galimberti-2018-improvement-skin-alone",
                                                  "galimberti-2018-glucocorticoid-reduction"]
    assert by_url[next(d["resource"] for d in action["documentation"] if d["type"] == "citation")][
        "resourceType"] == "Citation"
    justification = resources["ArtifactAssessment/galimberti-2018-ivig-refractory-cdm-justification"]
    assert justification["artifactCanonical"] == plan["url"]
    assert justification["content"][1]["classifier"][0]["coding"][0]["code"] == "very-low"
    excluded = resources["ValueSet/galimberti-2018-ivig-refractory-cdm-excluded"]
    assert excluded["compose"]["include"][0]["filter"] == [{"property": "concept", "op": "is-a", "value": "M33.0"}]
    # the threshold from the source says where it comes from; the age rule says it is a rule
    entries = {e["resource"]: e for e in _source_map(seed_build)["resources"]}
    elements = entries["PlanDefinition/galimberti-2018-ivig-refractory-cdm"]["elements"]
    agents = next(e for e in elements if e["yaml_path"].endswith("min_distinct_agents"))
    age = next(e for e in elements if e["yaml_path"].endswith("min_age_years"))
    assert agents["authored"] == "2" and "≥2 systemic medications" in agents["provenance"][0]["quote"]
    assert age["authored"] == "18" and age["derived"].startswith("rule: Business rule")
