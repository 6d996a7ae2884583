"""Comparative studies: ProDERM's figures recomputed, counts never invented, a new design is data,
and bad comparative input gets a located error."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS, PRODERM, ROOT
from evidencekit.checks import run_checks
from evidencekit.cli import main
from evidencekit.definitions.loader import load_file
from evidencekit.diagnostics import Diagnostic

Json = dict[str, Any]
CROSSOVER = ROOT / "tests" / "fixtures" / "crossover"


def _check(text: str, tmp_path: Path, name: str = "proderm.yaml") -> tuple[list[Diagnostic], list[str]]:
    shutil.copytree(DEFINITIONS / "sources", tmp_path / "sources", dirs_exist_ok=True)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    loaded, problems = load_file(path, name)
    assert loaded is not None and not problems, [d.format_text() for d in problems]
    return run_checks([loaded]), text.splitlines()


def _messages(diagnostics: list[Diagnostic], code: str) -> list[str]:
    return [d.message for d in diagnostics if d.code == code]


def test_check_reproduces_proderm_reported_figures(tmp_path: Path) -> None:
    found, _ = _check(PRODERM.read_text(encoding="utf-8"), tmp_path)
    assert not [d for d in found if d.severity.value == "error"]
    assert not [d.format_text() for d in found if d.code in ("EK219", "EK220", "EK221", "EK222", "EK223")]
    reproduced = "\n".join(_messages(found, "EK225"))
    # primary endpoint (NEJM): 35 points (17 to 53), P<0.001, from 37/47 vs 21/48
    assert "'tis20-difference': risk-difference 35 reproduced from 37/47 vs 21/48 (34.97)" in reproduced
    assert "'tis20-difference': CI reproduced by Wald" in reproduced
    assert "'tis20-difference': P <0.001 agrees with Pearson chi-square, Fisher exact" in reproduced
    # TIS 40 and 60 or more: 45 (27 to 63) and 24 (8 to 39)
    assert "'tis40-difference': risk-difference 45 reproduced from 32/47 vs 11/48 (45.17)" in reproduced
    assert "'tis40-difference': CI reproduced by Wald" in reproduced
    assert "'tis60-difference': risk-difference 24 reproduced from 15/47 vs 4/48 (23.58)" in reproduced
    assert "'tis60-difference': CI reproduced by Wald" in reproduced
    # CDASI: adjusted (ANCOVA) -8.0; the raw difference of the arm means is -8.20
    assert "'cdasi-difference': adjusted mean-difference -8.0" in reproduced and "-8.21 to -8.19" in reproduced
    assert "'cdasi-difference': P <0.0001 agrees with Welch t-test" in reproduced
    # the post hoc paper's per-arm CIs follow from the registry's mean, SD and n
    assert "'cdasi-ivig': CI reproduced by t interval from SD and n" in reproduced
    assert "'cdasi-placebo': CI reproduced by t interval from SD and n" in reproduced


def test_one_changed_arm_count_is_reported_at_its_line(tmp_path: Path) -> None:
    text = PRODERM.read_text(encoding="utf-8").replace("    affected: 37\n", "    affected: 38\n", 1)
    found, lines = _check(text, tmp_path)
    at = {(d.code, lines[d.line - 1].strip()) for d in found if d.severity.value != "info"}
    assert ("EK201", "affected: 38") in at  # 38/47 is 80.9%, not the 78.7% written beside it
    assert ("EK219", "value: 35") in at  # and 38/47 - 21/48 = 37.1 points, not 35
    assert any("38/47 vs 21/48 gives 37.1" in m for m in _messages(found, "EK219"))


def _resources(directory: Path) -> list[Json]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((directory / "resources").glob("*.json"))]


def _derived_elements(statistic: Json) -> set[str]:
    return {part["valueString"] for ext in statistic.get("extension", []) if ext["url"].endswith("/derived-value")
            for part in ext["extension"] if part["url"] == "element"}


def test_no_evidence_asserts_a_count_the_source_does_not_give(seed_build: Path) -> None:
    source_map = json.loads((seed_build / "source-map.json").read_text())
    authored = {(e["resource"], el["fhir_path"]) for e in source_map["resources"] for el in e["elements"]
                if "derived" not in el and el.get("authored") is not None}
    checked = 0
    for resource in _resources(seed_build):
        if resource["resourceType"] != "Evidence":
            continue
        key = f"Evidence/{resource['id']}"
        comparative = any(p.endswith("/comparative-evidence") for p in resource["meta"]["profile"])
        for i, statistic in enumerate(resource.get("statistic", [])):  # a narrative synthesis has none
            if "numberAffected" not in statistic:
                continue
            checked += 1
            assert not comparative, f"{key}: a difference or ratio has no count"
            if "derived-value" in json.dumps(statistic.get("extension", [])):
                assert "numberAffected" in _derived_elements(statistic), key
            elif key.endswith(("-disease-presentation", "-skin-vs-systemic")):
                continue  # partition counts: the subgroups' reported N
            else:
                assert (key, "Evidence.statistic[0].numberAffected") in authored, key
    assert checked >= 25


def test_derived_values_are_marked_and_can_be_left_out(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(DEFINITIONS), "-o", str(out), "--no-derived",
                                  "--config", str(ROOT / "evidencekit.yaml")])
    assert result.exit_code == 0, result.output
    text = (out / "r5" / "bundle.json").read_text()
    assert "Derived by evidencekit" not in text
    # what evidencekit derives is gone; a number the definition's author derived stays, and so does its mark
    authored = " ".join(" ".join(p.read_text().split()) for p in DEFINITIONS.glob("*.yaml"))
    kept = 0
    for entry in json.loads(text)["entry"]:
        found = re.findall(r'"url": "method", "valueString": "((?:[^"\\]|\\.)*)"', json.dumps(entry["resource"]))
        for method in found:
            assert " ".join(json.loads(f'"{method}"').split()) in authored, (entry["resource"]["id"], method)
            kept += 1
    assert kept >= 4  # ProDERM's 48, Dalakas's window's two bounds and its derived worsening count
    improvement = json.loads((out / "r5" / "resources" / "Evidence-galimberti-2018-improvement-overall.json")
                             .read_text())["statistic"][0]
    assert "numberAffected" not in improvement and "attributeEstimate" not in improvement
    definition = json.loads((ROOT / "output" / "r5" / "definitions" / "StructureDefinition-derived-value.json")
                            .read_text())
    assert definition["url"] in (ROOT / "output" / "r5" / "bundle.json").read_text()


def test_proderm_compiles_the_ig_pattern(seed_build: Path) -> None:
    by_id = {r["id"]: r for r in _resources(seed_build) if r["resourceType"] != "Group"}
    groups = {r["id"]: r for r in _resources(seed_build) if r["resourceType"] == "Group"}
    assignment = by_id["aggarwal-2022-group-assignment"]
    assert assignment["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/group-assignment"]
    assert [c["name"] for c in assignment["category"]] == ["IVIG (Octagam 10%) 2.0 g/kg every 4 weeks", "Placebo"]
    difference = by_id["aggarwal-2022-tis20-difference"]
    exposure = difference["variableDefinition"][1]
    assert exposure["observed"]["reference"] == "EvidenceVariable/aggarwal-2022-group-assignment"
    assert {"url": "http://hl7.org/fhir/uv/ebm/StructureDefinition/variable-definition-comparator-category",
            "valueString": "Placebo"} in exposure["extension"]
    statistic = difference["statistic"][0]
    assert statistic["statisticType"]["coding"][0]["code"] == "0000424"
    assert str(statistic["quantity"]["value"]) == "0.35"
    ci, p = statistic["attributeEstimate"]
    assert (str(ci["range"]["low"]["value"]), str(ci["range"]["high"]["value"])) == ("0.17", "0.53")
    assert p["quantity"] == {"value": p["quantity"]["value"], "comparator": "<"} and str(p["quantity"]["value"]) == "0.001"
    assert statistic["sampleSize"]["numberOfParticipants"] == 95 and "numberAffected" not in statistic
    assert _derived_elements(statistic) == {"sampleSize.numberOfParticipants"}  # 47 + 48, said so
    placebo = by_id["aggarwal-2022-tis20-placebo"]
    assert "http://hl7.org/fhir/uv/ebm/StructureDefinition/comparator-only-evidence" in placebo["meta"]["profile"]
    assert placebo["statistic"][0]["numberAffected"] == 21
    assert groups["aggarwal-2022-placebo"]["meta"]["profile"] == [
        "http://hl7.org/fhir/uv/ebm/StructureDefinition/comparator-group"]
    # the outcome at week 16 is its own variable, with the IG's timing extension (UCUM weeks)
    week16 = by_id["aggarwal-2022-tis20-week-16"]
    timing = next(e for e in week16["extension"] if e["url"].endswith("/characteristic-timing"))
    offset = next(x for x in timing["extension"] if x["url"] == "offset")["valueDuration"]
    assert (offset["value"], offset["code"]) == (16, "wk")
    # the safety set: 52 = the 47 of the IVIG arm and 5 switchers from placebo, said so
    safety = groups["aggarwal-2022-safety-ivig"]
    assert safety["quantity"] == 52 and "5 participants of this arm" in json.dumps(safety)
    teae = by_id["aggarwal-2022-teae-ivig"]["statistic"][0]
    assert (teae["numberAffected"], teae["numberOfEvents"], teae["sampleSize"]["numberOfParticipants"]) == (42, 196, 52)
    median = by_id["aggarwal-2022-time-to-minimal-placebo"]["statistic"][0]
    open_ci = median["attributeEstimate"][0]
    assert "high" not in open_ci["range"] and "upper bound is not estimable" in open_ci["description"]
    citation = by_id["aggarwal-2022-citation"]["citedArtifact"]
    assert {"system": "https://clinicaltrials.gov", "value": "NCT02728752"}.items() <= \
        citation["relatedIdentifier"][0].items()
    assert citation["contributorship"]["complete"] is False and "doi" not in json.dumps(citation["identifier"])


def test_single_arm_seed_links_ivig_to_its_evidence(seed_build: Path) -> None:
    by_id = {r["id"]: r for r in _resources(seed_build) if r["resourceType"] != "EvidenceVariable"}
    group = by_id["galimberti-2018-ivig"]
    assert group["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/exposure-group"]
    received = next(c for c in group["characteristic"] if c["code"]["text"] == "Received")
    assert {"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "code": "C2701",
            "display": "Therapeutic Immune Globulin"} in received["valueCodeableConcept"]["coding"]
    overall = by_id["galimberti-2018-improvement-overall"]
    assert "http://hl7.org/fhir/uv/ebm/StructureDefinition/intervention-only-evidence" in overall["meta"]["profile"]
    assert overall["variableDefinition"][0]["observed"]["reference"] == "Group/galimberti-2018-ivig"
    baseline = by_id["galimberti-2018-age-at-ivig"]
    assert baseline["variableDefinition"][0]["observed"]["reference"] == "Group/galimberti-2018-refractory-cdm"


def test_a_crossover_trial_needs_only_a_definition_file(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["build", str(CROSSOVER), "-o", str(tmp_path / "out"), "--show-info"])
    assert result.exit_code == 0, result.output
    by_id = {f"{r['resourceType']}/{r['id']}": r for r in _resources(tmp_path / "out" / "r5")}
    difference = by_id["Evidence/fictional-crossover-score-difference"]
    assert any(p.endswith("/comparative-evidence") for p in difference["meta"]["profile"])
    # both arms are the same 24 patients: no summed N, and no independent-groups recomputation
    assert "numberOfParticipants" not in difference["statistic"][0]["sampleSize"]
    assert "the groups are the same patients (a paired comparison)" in result.output
    assert by_id["Group/fictional-crossover-drug-a"]["quantity"] == by_id["Group/fictional-crossover-placebo"]["quantity"] == 24


BAD = [
    ("arm referenced by no result", "EK215",
     [("analysis_sets:\n", "  - id: low-dose\n    role: intervention\n    title: IVIG 1.0 g/kg\n    description: x\n"
                           "    n:\n      value: 1\n      provenance:\n        - {source: facts, quote: \"1 (1.9%), 2 events\"}\n"
                           "analysis_sets:\n")], "id: low-dose"),
    ("comparison of an arm with itself", "EK216",
     [("    comparison: {intervention: ivig, comparator: placebo}\n    timepoint: week-16\n    statistic: risk-difference\n"
       "    value: 35\n", "    comparison: {intervention: ivig, comparator: ivig}\n    timepoint: week-16\n"
                         "    statistic: risk-difference\n    value: 35\n")], "comparator: ivig}"),
    ("ratio with a negative bound", "EK217",
     [("    statistic: risk-difference\n    value: 35\n    scale: percentage-points\n    ci_low: 17\n",
       "    statistic: relative-risk\n    value: 1.8\n    ci_low: -0.2\n")], "ci_low: -0.2"),
    ("CI that excludes its estimate", "EK207",
     [("    ci_low: 17\n    ci_high: 53\n", "    ci_low: 37\n    ci_high: 53\n")], "value: 35"),
    ("p-value outside (0, 1]", "EK218", [("    p_value: \"<0.001\"\n", "    p_value: 1.5\n")], "p_value: 1.5"),
    ("analysis set larger than its arm, no reason", "EK214",
     [("    n:\n      value: 45\n      provenance:\n        - {source: facts, report: ctgov, locator: \"section 3, Week-16 CDASI",
       "    n:\n      value: 48\n      provenance:\n        - {source: facts, report: ctgov, locator: \"section 3, Week-16 CDASI")],
     "value: 48"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_comparative_input_is_a_located_error(case: tuple[str, str, list[tuple[str, str]], str], tmp_path: Path,
                                                  runner: CliRunner) -> None:
    _, code, edits, line_contains = case
    text = PRODERM.read_text(encoding="utf-8")
    for find, replace in edits:
        assert text.count(find) >= 1, find
        text = text.replace(find, replace, 1)
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS / "sources", directory / "sources")
    (directory / "trial.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(directory), "-o", str(out), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not out.exists()
    lines = text.splitlines()
    errors = [d for d in json.loads(result.output) if d["severity"] == "error"]
    assert any(d["code"] == code and line_contains in lines[d["line"] - 1] for d in errors), errors


def test_a_proportion_without_scale_is_an_error_whose_hint_names_both_scales(tmp_path: Path) -> None:
    """The 100x trap: `value: 0.60` without `scale` used to build as 0.0060."""
    from conftest import SEED

    text = SEED.read_text(encoding="utf-8").replace("    value: 83\n    scale: percent\n", "    value: 0.60\n", 1)
    found, lines = _check(text, tmp_path, "seed.yaml")
    errors = [d for d in found if d.code == "EK212"]
    assert len(errors) == 1 and lines[errors[0].line - 1].strip() == "value: 0.60"
    assert "`scale: percent`" in errors[0].hint and "`scale: fraction`" in errors[0].hint
    assert "0.60 with `scale: fraction` is 60%" in errors[0].hint
    # no other rule guesses a scale meanwhile (the old misleading GRIM hint is gone)
    assert not [d for d in found if d.code in ("EK201", "EK202", "EK211") and d.line == errors[0].line]
