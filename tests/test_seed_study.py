"""The seed study: every number of the source article is in the output, with provenance."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

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
    """A finding stated in words is not an Evidence (no blank statistic, no second 'Cutaneous DM
    improvement' row in a listing): the outcome-measure report states it, with its source."""
    assert not (seed_build / "resources" / "Evidence-galimberti-2018-predictors-of-response.json").exists()
    titles = [json.loads(p.read_text())["title"] for p in (seed_build / "resources").glob("Evidence-galimberti-*")]
    assert titles.count("Cutaneous DM improvement in Patients with refractory cutaneous dermatomyositis "
                        "treated with IVIG") == 1
    assert all(statistic.get("statisticType") for p in (seed_build / "resources").glob("Evidence-galimberti-*")
               for statistic in json.loads(p.read_text())["statistic"])
    report = json.loads((seed_build / "resources" / "Composition-galimberti-2018-outcome-measures.json").read_text())
    results = next(s for s in report["section"] if s["code"]["coding"][0]["code"] == "results")
    row = next(r for r in results["section"] if "no significant predictors" in r["title"])
    assert row["focus"]["reference"] == "EvidenceVariable/galimberti-2018-cutaneous-improvement"
    assert "section" not in row and "investigators noted that there were no significant predictors" in \
        row["text"]["div"]
    where = next(e for entry in _source_map(seed_build)["resources"] if entry["resource"] == "Composition/"
                 "galimberti-2018-outcome-measures" for e in entry["elements"] if e["fhir_path"].endswith(".text"))
    assert where["yaml_path"] == "results[8].text" and where["provenance"][0]["locator"] == "paragraph 4"


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
        if resource["resourceType"] not in ("PlanDefinition", "ActivityDefinition", "ValueSet", "CodeSystem") and not \
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
    plan = resources["PlanDefinition/ivig-refractory-cdm-question-ivig-refractory-cdm"]
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
    # justification: the summary of findings, then per critical outcome its body of evidence and the
    # studies' results (randomized first), then the citations; the assessment cites the same
    docs = action["documentation"]
    assert [d["type"] for d in docs[:2]] == ["justification"] * 2 and docs[1]["label"] == "summary-of-findings"
    sof = by_url[docs[1]["resource"]]
    assert sof["id"] == "ivig-refractory-cdm-question-summary-of-findings"
    outcomes = [by_url[d["resource"]]["id"] for d in docs if d.get("label") == "outcome"]
    assert outcomes == ["ivig-refractory-cdm-question-skin-activity", "ivig-refractory-cdm-question-disease-response",
                        "ivig-refractory-cdm-question-serious-adverse-events",
                        "ivig-refractory-cdm-question-sae-weeks-0-40", "ivig-refractory-cdm-question-tee-weeks-0-16",
                        "ivig-refractory-cdm-question-tee-weeks-0-40"]  # the critical ones, in order
    skin = docs.index(next(d for d in docs if d.get("label") == "outcome"))
    assert [by_url[d["resource"]]["id"] for d in docs[skin + 1:skin + 4]] == [
        "aggarwal-2022-cdasi-difference", "galimberti-2018-improvement-overall", "bounfour-2014-major-response"]
    assert docs[skin + 1]["display"] == "Aggarwal et al. 2022, randomized trial"
    assert sorted(by_url[d["resource"]]["id"] for d in docs if d["type"] == "citation") == [
        "aggarwal-2022-citation", "bounfour-2014-citation", "galimberti-2018-citation"]
    justification = resources["ArtifactAssessment/ivig-refractory-cdm-question-ivig-refractory-cdm-justification"]
    assert justification["artifactCanonical"] == plan["url"]
    assert justification["content"][0]["relatedArtifact"][0]["resource"] == sof["url"]
    rated = justification["content"][1:]
    assert [c["classifier"][0]["coding"][0]["code"] for c in rated] == ["low"] * len(outcomes)  # one per outcome
    for content in rated:  # each rating is the outcome's certainty-of-evidence assessment
        assessment = resources[content["relatedArtifact"][0]["resourceReference"]["reference"]]
        assert assessment["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/certainty-of-evidence"]
        assert assessment["artifactReference"]["reference"].removeprefix("Evidence/") in outcomes
    excluded = resources["ValueSet/ivig-refractory-cdm-question-ivig-refractory-cdm-juvenile-dm"]
    assert excluded["compose"]["include"][0]["filter"] == [{"property": "concept", "op": "is-a", "value": "M33.0"}]
    # the threshold from the source says where it comes from; the age rule says it is a rule
    entries = {e["resource"]: e for e in _source_map(seed_build)["resources"]}
    assert entries["PlanDefinition/ivig-refractory-cdm-question-ivig-refractory-cdm"]["file"] == "definitions/ivig-refractory-cdm-question.yaml"
    elements = entries["PlanDefinition/ivig-refractory-cdm-question-ivig-refractory-cdm"]["elements"]
    agents = next(e for e in elements if e["yaml_path"].endswith("medication_history.at_least"))
    age = next(e for e in elements if e["yaml_path"].endswith("age.min"))
    assert agents["authored"] == "2" and "≥2 systemic medications" in agents["provenance"][0]["quote"]
    assert age["authored"] == "18" and age["derived"].startswith("rule: Business rule")


def test_certainty_is_rated_per_outcome_result_not_copied_onto_the_report(seed_build: Path) -> None:
    """GRADE rates each outcome: one certainty-of-evidence assessment about each rated result's Evidence;
    no Evidence carries a copy of a report-level rating (issue 10, item 3)."""
    resources = {}
    for path in (seed_build / "resources").glob("*.json"):
        r = json.loads(path.read_text(encoding="utf-8"))
        resources[f"{r['resourceType']}/{r['id']}"] = r
    assert not [k for k, r in resources.items() if r["resourceType"] == "Evidence" and "certainty" in r]
    about = {r["artifactReference"]["reference"]: r for r in resources.values()
             if r["resourceType"] == "ArtifactAssessment" and r["id"].endswith("-certainty")
             and r["artifactReference"]["reference"].startswith("Evidence/galimberti-2018-")}
    assert sorted(about) == [f"Evidence/galimberti-2018-{r}" for r in sorted(
        ["improvement-overall", "improvement-skin-alone", "improvement-skin-muscle-lung", "cycles-to-improvement",
         "glucocorticoid-reduction"])]
    for reference, assessment in about.items():
        assert reference in resources  # about an Evidence of the output
        assert assessment["meta"]["profile"] == [
            "http://hl7.org/fhir/uv/ebm/StructureDefinition/certainty-of-evidence"]
        content = assessment["content"][0]
        assert content["classifier"][0]["coding"][0]["code"] == "very-low"
        assert [c["type"]["coding"][0]["code"] for c in content["component"]] == [
            "RiskOfBias", "Imprecision", "Indirectness"]
        assert all(c["summary"] for c in content["component"])  # every domain says why
    # the trial's results are rated on their own: moderate for the efficacy differences
    trial = resources["ArtifactAssessment/aggarwal-2022-tis20-difference-certainty"]
    assert trial["content"][0]["classifier"][0]["coding"][0]["code"] == "moderate"
    # the report's discussion lists the study's assessments
    report = resources["Composition/galimberti-2018"]
    discussion = next(s for s in report["section"] if s["code"]["coding"][0]["code"] == "discussion")
    listed = {e["reference"] for e in discussion["entry"]}
    assert {f"ArtifactAssessment/{a['id']}" for a in about.values()} <= listed


@pytest.mark.parametrize("old, new, line_contains", [
    ("    - results: [improvement-overall,", "    - results: [improvement-overal,", "improvement-overal,"),
    ("                glucocorticoid-reduction]", "                glucocorticoid-reduction, improvement-overall]",
     "glucocorticoid-reduction, improvement-overall]"),
], ids=["unknown result", "result rated twice"])
def test_certainty_names_each_result_once(definitions_copy: Path, old: str, new: str, line_contains: str) -> None:
    from click.testing import CliRunner

    from evidencekit.cli import main

    seed = definitions_copy / "galimberti-2018-ivig-cutaneous-dm.yaml"
    text = seed.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    seed.write_text(text.replace(old, new), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(definitions_copy), "--format", "json"])
    assert result.exit_code == 1
    lines = seed.read_text(encoding="utf-8").splitlines()
    errors = [d for d in json.loads(result.output) if d["severity"] == "error"]
    assert errors and all(d["file"].endswith(seed.name) for d in errors), errors
    assert any(d["code"] in ("EK105", "EK106") and line_contains in lines[d["line"] - 1] for d in errors), errors


def test_a_recommendation_in_a_study_says_where_it_belongs(definitions_copy: Path) -> None:
    from click.testing import CliRunner

    from evidencekit.cli import main

    seed = definitions_copy / "galimberti-2018-ivig-cutaneous-dm.yaml"
    seed.write_text(seed.read_text(encoding="utf-8") + "recommendation: {id: x}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(definitions_copy), "--format", "json"])
    assert result.exit_code == 1
    (found,) = [d for d in json.loads(result.output) if d["code"] == "EK101"]
    assert "question definition" in found["message"] and "justification" in found["message"]
