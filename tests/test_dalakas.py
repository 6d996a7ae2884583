"""Dalakas 1993 (issue 22): a randomized parallel first period (IVIG 8, placebo 7) and an optional
crossover; the sets ever on each treatment (12 and 11) share the patients who crossed over."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import DEFINITIONS
from evidencekit.cli import main

Json = dict[str, Any]
DALAKAS = DEFINITIONS / "dalakas-1993-ivig-dm.yaml"


def _resources(r5: Path) -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r
            for r in (json.loads(p.read_text()) for p in (r5 / "resources").glob("*.json"))}


def test_the_first_period_arms_and_the_overlapping_sets_are_what_they_are(seed_build: Path) -> None:
    resources = _resources(seed_build)
    sizes = {k.removeprefix("Group/dalakas-1993-"): r["quantity"] for k, r in resources.items()
             if k.startswith("Group/dalakas-1993-") and "quantity" in r}
    assert sizes == {"resistant-dm": 15, "ivig": 8, "placebo": 7, "ever-ivig": 12, "ever-placebo": 11}
    for ever, other in (("ever-ivig", "placebo"), ("ever-placebo", "ivig")):
        group = resources[f"Group/dalakas-1993-{ever}"]
        members = [c["valueReference"]["reference"] for c in group["characteristic"] if "valueReference" in c]
        assert f"Group/dalakas-1993-{other}" in members  # it holds patients of the other arm
        assert "shares patients" in group["description"]
    # the randomized first period's Evidence are about the arms; the both-period counts about the sets
    for result, group in (("strength-ivig", "ivig"), ("major-ivig", "ever-ivig"), ("major-placebo", "ever-placebo")):
        evidence = resources[f"Evidence/dalakas-1993-{result}"]
        population = [v["observed"]["reference"] for v in evidence["variableDefinition"]
                      if v["extension"][0]["valueCode"] == "population"]
        assert population == [f"Group/dalakas-1993-{group}"], result


def test_only_the_randomized_period_carries_the_randomized_design(seed_build: Path) -> None:
    resources = _resources(seed_build)
    for key, evidence in resources.items():
        if not key.startswith("Evidence/dalakas-1993-"):
            continue
        codes = {c["coding"][0]["code"] for c in evidence["studyDesign"]}
        first_period = key.split("dalakas-1993-")[1] in ("strength-ivig", "symptoms-ivig")
        assert ("SEVCO:01003" in codes) == first_period, (key, codes)


def test_p_values_are_kept_as_printed_structurally_and_on_the_site(seed_build: Path, built_site: Path) -> None:
    resources = _resources(seed_build)
    for result, value in (("strength-ivig", "0.018"), ("symptoms-ivig", "0.035")):
        statistic = resources[f"Evidence/dalakas-1993-{result}"]["statistic"][0]
        p = [e for e in statistic["attributeEstimate"] if e["type"]["coding"][0]["code"] == "C44185"]
        assert p and p[0]["quantity"] == {"value": float(value), "comparator": "<"}, result  # never "="
        assert "statisticType" not in statistic  # a finding: only the p-value is a statistic
    page = (built_site / "studies" / "dalakas-1993.html").read_text()
    assert page.count('<span class="p">P &lt; 0.018</span>') == 1 and '<span class="p">P &lt; 0.035</span>' in page
    # the placebo arm's finding, in words only, is a row of the report, not Evidence
    assert "Evidence/dalakas-1993-strength-placebo" not in resources
    assert "no significant improvement in muscle strength" in page


def test_what_the_author_derived_is_marked(seed_build: Path) -> None:
    resources = _resources(seed_build)
    worse = resources["Evidence/dalakas-1993-worsening-ivig"]["statistic"][0]
    marks = [e for e in worse.get("extension", []) if e["url"].endswith("/derived-value")]
    assert [m["extension"][0]["valueString"] for m in marks] == ["numberAffected"] and worse["numberAffected"] == 0
    assert any("Derived by the definition author" in n["text"] for n in worse["note"])
    window = resources["EvidenceVariable/dalakas-1993-major-improvement-both-periods"]
    bounds = [m["extension"][0]["valueString"] for m in window["extension"] if m["url"].endswith("/derived-value")]
    assert bounds == ["extension[1].extension[0].valueRange.low", "extension[1].extension[0].valueRange.high"]
    for ever in ("ever-ivig", "ever-placebo"):  # the crossover counts are unverified in the facts: not given
        group = resources[f"Group/dalakas-1993-{ever}"]
        assert not [e for e in group["extension"] if e["url"].endswith("/derived-value")], ever
        assert "how many is not reported" in json.dumps(group["characteristic"][1]), ever


def test_comparing_the_overlapping_sets_as_independent_is_an_error(tmp_path: Path, runner: CliRunner) -> None:
    directory = tmp_path / "definitions"
    (directory / "sources").mkdir(parents=True)
    (directory / "sources" / "dalakas-1993-facts.txt").write_bytes(
        (DEFINITIONS / "sources" / "dalakas-1993-facts.txt").read_bytes())
    text = DALAKAS.read_text()
    difference = ("  - id: major-difference\n    variable: major-improvement\n"
                  "    comparison: {intervention: ever-ivig, comparator: ever-placebo}\n    timepoint: both-periods\n"
                  "    statistic: risk-difference\n    value: \"75.0\"\n    scale: percentage-points\n"
                  "    text: 9 of 12 vs 0 of 11.\n    provenance:\n"
                  "      - {source: facts, quote: \"Major improvement: 9/12 = 75.0% (42.8–94.5) vs 0/11\"}\n")
    (directory / DALAKAS.name).write_text(text.replace("results:\n", "results:\n" + difference, 1))
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(directory), "-o", str(out), "--format", "json"])
    assert result.exit_code == 1 and not out.exists()
    found = [d for d in json.loads(result.output) if d["code"] == "EK226"]
    assert found and "share patients" in found[0]["message"] and "randomized to ivig, placebo" in found[0]["message"]
    # declared paired it is accepted as a within-patient result, and not recomputed as independent groups
    (directory / DALAKAS.name).write_text(text.replace("results:\n", "results:\n" + difference.replace(
        "comparator: ever-placebo}", "comparator: ever-placebo, paired: true}"), 1))
    result = runner.invoke(main, ["check", str(directory), "--format", "json", "--show-info"])
    codes = {d["code"] for d in json.loads(result.output)}
    assert "EK226" not in codes and not {"EK219", "EK225"} & codes and "EK208" in codes, result.output


def test_the_question_cites_dalakas_with_its_indirectness(seed_build: Path) -> None:
    resources = _resources(seed_build)
    sof = resources["Composition/ivig-refractory-cdm-question-summary-of-findings"]
    row = next(s for s in sof["section"] if s["title"] == "Major improvement of muscle disease")
    cells = {c["code"]["coding"][0]["code"]: c for c in row["section"]}
    assert [e["reference"] for e in cells["result-with-intervention-alone"]["entry"]] == \
        ["Evidence/dalakas-1993-major-ivig"]
    assert [e["reference"] for e in cells["result-with-comparator-alone"]["entry"]] == \
        ["Evidence/dalakas-1993-major-placebo"]
    certainty = resources["ArtifactAssessment/ivig-refractory-cdm-question-muscle-improvement-certainty"]
    text = json.dumps(certainty)
    assert "crossed over" in text and "very-low" in text


def test_the_citation_says_only_what_the_record_gives(seed_build: Path) -> None:
    citation = _resources(seed_build)["Citation/dalakas-1993-citation"]
    assert "identifier" not in citation and "identifier" not in citation["citedArtifact"]  # no PMID, no DOI found
    journal = citation["citedArtifact"]["publicationForm"][0]["publishedIn"]
    assert journal["title"] == "The New England journal of medicine" and "identifier" not in journal
    assert re.search(r"Dalakas MC, et al\. A controlled trial .* The New England journal of medicine\. 1993;329\(27\)",
                     citation["summary"][0]["text"])
