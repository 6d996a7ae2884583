"""Question definitions (`kind: question`): loaded beside the studies, checked against them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS
from evidencekit.cli import main

QUESTION = DEFINITIONS / "ivig-refractory-cdm-question.yaml"


def _directory(tmp_path: Path, text: str | None = None) -> Path:
    """definitions/ with the question replaced by ``text`` (as question.yaml)."""
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, directory)
    (directory / QUESTION.name).unlink()
    (directory / "question.yaml").write_text(text if text is not None else QUESTION.read_text(), encoding="utf-8")
    return directory


def _check(runner: CliRunner, directory: Path) -> tuple[int, list[dict], list[str]]:
    result = runner.invoke(main, ["check", str(directory), "--format", "json"])
    lines = (directory / "question.yaml").read_text().splitlines()
    found = [d for d in json.loads(result.output) if d["file"].endswith("question.yaml")]
    return result.exit_code, found, lines


def test_question_is_checked_against_the_studies(tmp_path: Path, runner: CliRunner) -> None:
    code, found, _ = _check(runner, _directory(tmp_path))
    assert code == 0
    assert [d for d in found if d["severity"] == "error"] == []
    # its SNOMED CT concept is corroborated, not verified: reported for questions as for studies,
    # and so are its recommendation's RxNorm and ATC codes; its ICD-10-CM codes are verified against
    # the CMS release, so they are not reported
    assert {d["code"] for d in found} == {"EK302"}
    reported = " ".join(d["message"] for d in found)
    for key in ("sct:396230008", "rxnorm:6851", "rxnorm:68149", "rxnorm:5521", "rxnorm:1256", "atc:J06BA02"):
        assert f"'{key}'" in reported, key
    assert "icd10cm:" not in reported


EDITS = [
    ("unknown result", "result: cdasi-difference", "result: cdasi-diff", "EK230", "result: cdasi-diff"),
    ("unknown study", "study: bounfour-2014", "study: bounfour-2015", "EK230", "study: bounfour-2015"),
    ("a finding cited as a result", "result: improvement-overall", "result: predictors-of-response", "EK230",
     "result: predictors-of-response"),
    ("mean difference pooled with proportions", "      method: narrative\n      reason: A randomized mean",
     "      method: meta-analysis\n      reason: A randomized mean", "EK231", "result: improvement-overall"),
    ("certainty rated down without a reason", "          reason: One trial, with CDASI analysed in 45 and 43 patients.\n", "",
     "EK232", "rating: certainty-rating:serious-concern"),
    ("unknown code", "rating: certainty-rating:low\n      summary: Low certainty, rated down twice",
     "rating: certainty-rating:lowish\n      summary: Low certainty, rated down twice", "EK301",
     "certainty-rating:lowish"),
]


@pytest.mark.parametrize("case", EDITS, ids=[c[0] for c in EDITS])
def test_bad_question_is_a_located_error(case: tuple[str, str, str, str, str], tmp_path: Path,
                                         runner: CliRunner) -> None:
    _, find, replace, code, line_contains = case
    text = QUESTION.read_text()
    assert text.count(find) == 1, find
    directory = _directory(tmp_path, text.replace(find, replace))
    exit_code, found, lines = _check(runner, directory)
    assert exit_code == 1
    assert any(d["code"] == code and d["severity"] == "error" and line_contains in lines[d["line"] - 1]
               for d in found), found
    out = tmp_path / "out"
    build = runner.invoke(main, ["build", str(directory), "-o", str(out)])
    assert build.exit_code == 1 and "Traceback" not in build.output and not out.exists()


def test_a_certainty_reason_with_another_number_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    """EK234: 15 is the trial's N, not one of the cited results' (9 of 12, none of 11)."""
    find = "reason: 9 of 12 patients on IVIG and none of 11 on placebo, in one small trial."
    text = QUESTION.read_text()
    assert text.count(find) == 1
    _, found, lines = _check(runner, _directory(tmp_path, text))
    assert not [d for d in found if d["code"] == "EK234"], found  # the committed reasons state their results' numbers
    _, found, lines = _check(runner, _directory(tmp_path / "bad", text.replace(find, find.replace(
        "in one small trial", "in a trial of 15"))))
    assert [d["message"] for d in found if d["code"] == "EK234"] == [
        "outcome 'muscle-improvement': certainty reason states 15, which none of its cited results has "
        "(hint: state the cited results' own N and counts)"]


def test_outcome_without_result_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    text = QUESTION.read_text().replace("\nrecommendation:\n", "\n  - id: mortality\n    title: Death\n    importance: critical\n"
                                        "    handling: dichotomous\nrecommendation:\n")
    _, found, lines = _check(runner, _directory(tmp_path, text))
    assert any(d["code"] == "EK233" and d["severity"] == "warning" and "id: mortality" in lines[d["line"] - 1]
               for d in found)


def test_question_fields_get_did_you_mean(tmp_path: Path, runner: CliRunner) -> None:
    text = QUESTION.read_text().replace("    importance: important\n", "    importence: important\n")
    exit_code, found, _ = _check(runner, _directory(tmp_path, text))
    assert exit_code == 1
    assert any(d["code"] == "EK101" and "did you mean 'importance'" in d["message"] for d in found), found


def test_a_question_id_may_not_reuse_a_study_id(tmp_path: Path, runner: CliRunner) -> None:
    text = QUESTION.read_text().replace("id: ivig-refractory-cdm-question", "id: galimberti-2018")
    exit_code, found, _ = _check(runner, _directory(tmp_path, text))
    assert exit_code == 1 and any(d["code"] == "EK105" for d in found)


def _build(tmp_path: Path, runner: CliRunner, text: str, *extra: str) -> Path:
    directory = _directory(tmp_path, text)
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(directory), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert "and 1 question definition(s)" in result.output
    return out / "r5" / "resources"


def test_question_compiles_to_a_body_of_evidence_per_outcome(tmp_path: Path, runner: CliRunner) -> None:
    resources = _build(tmp_path, runner, QUESTION.read_text())
    synthesis = json.loads((resources / "Evidence-ivig-refractory-cdm-question-skin-activity.json").read_text())
    assert synthesis["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/evidence-synthesis-evidence"]
    assert synthesis["synthesisType"]["coding"][0]["code"] == "range" and "statistic" not in synthesis
    assert [a["resourceReference"]["reference"] for a in synthesis["relatedArtifact"]] == [
        "Evidence/aggarwal-2022-cdasi-difference", "Evidence/galimberti-2018-improvement-overall",
        "Evidence/bounfour-2014-major-response"]
    certainty = json.loads((resources / "ArtifactAssessment-ivig-refractory-cdm-question-skin-activity-certainty.json")
                           .read_text())
    assert certainty["artifactReference"]["reference"] == "Evidence/ivig-refractory-cdm-question-skin-activity"
    content = certainty["content"][0]
    assert content["classifier"][0]["coding"][0]["code"] == "low"
    summaries = [c["summary"] for c in content["component"]]
    assert "One trial, with CDASI analysed in 45 and 43 patients." in summaries
    assert any(s.startswith("Directness of aggarwal-2022 / cdasi-difference: ProDERM enrolled") for s in summaries)
    # an outcome without certainty gets a synthesis but no assessment
    assert (resources / "Evidence-ivig-refractory-cdm-question-glucocorticoid-sparing.json").exists()
    assert not (resources / "ArtifactAssessment-ivig-refractory-cdm-question-glucocorticoid-sparing-certainty.json"
                ).exists()


POOLED = QUESTION.read_text().replace('''      - study: aggarwal-2022
        result: cdasi-difference
        directness:
          rating: certainty-rating:serious-concern
          reason: ProDERM enrolled adults with active dermatomyositis including muscle disease, not a refractory skin-predominant population.
''', "").replace("      method: narrative\n      reason: A randomized mean",
                "      method: meta-analysis\n      reason: A randomized mean")


def test_meta_analysis_of_proportions_is_pooled_and_marked_derived(tmp_path: Path, runner: CliRunner) -> None:
    import math

    from evidencekit.synthesis import pool_proportions

    resources = _build(tmp_path, runner, POOLED)
    synthesis = json.loads((resources / "Evidence-ivig-refractory-cdm-question-skin-activity.json").read_text())
    assert synthesis["synthesisType"]["coding"][0]["code"] == "std-MA"
    statistic = synthesis["statistic"][0]
    expected = pool_proportions([(35, 42), (19, 27)])  # 83% of 42 is exactly 35 (GRIM); 19/27 reported
    assert float(statistic["quantity"]["value"]) == round(1 / (1 + math.exp(-expected.random)), 4)
    assert statistic["statisticType"]["coding"][0]["code"] == "C44256"
    assert statistic["sampleSize"]["numberOfStudies"] == 2
    assert "derived-value" in statistic["extension"][0]["url"]
    codes = {e["type"]["coding"][0]["code"] for e in statistic["attributeEstimate"]}
    assert codes == {"C53324", "0000420", "0000421", "0000419"}
    assert [m["code"]["coding"][0]["code"] for m in statistic["modelCharacteristic"]] == [
        "effectsRandom", "dersimonianLairdMethod"]
    # and nothing derived is emitted when derived values are switched off
    quiet = _build(tmp_path / "quiet", runner, POOLED, "--no-derived")
    assert "statistic" not in json.loads((quiet / "Evidence-ivig-refractory-cdm-question-skin-activity.json").read_text())


def test_summary_of_findings_lists_every_outcome_with_its_certainty(seed_build: Path) -> None:
    resources = seed_build / "resources"
    sof = json.loads((resources / "Composition-ivig-refractory-cdm-question-summary-of-findings.json").read_text())
    assert sof["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/summary-of-findings"]
    assert sof["type"]["coding"][0]["code"] == "SummaryOfFindings"
    headers, *entries = sof["section"]
    assert headers["code"]["coding"][0]["code"] == "column-headers" and len(headers["section"]) == 6
    question = QUESTION.read_text()
    assert [e["title"] for e in entries] == ["Skin disease activity", "Response to treatment", "Serious adverse events",
                                             "Serious adverse events, weeks 0 to 40 (all on IVIG)",
                                             "Thromboembolic events, weeks 0 to 16 (randomized)",
                                             "Thromboembolic events, weeks 0 to 40 (all on IVIG)",
                                             "Major improvement of muscle disease",
                                             "Less use of systemic glucocorticoids"]
    for entry in entries:
        assert entry["focus"]["reference"].startswith("EvidenceVariable/ivig-refractory-cdm-question-")
    cells = {c["code"]["coding"][0]["code"]: c for c in entries[0]["section"]}
    assert cells["result-with-intervention-vs-comparator"]["entry"][0]["reference"] == \
        "Evidence/aggarwal-2022-cdasi-difference"
    certainty = cells["certainty-of-evidence"]
    target = certainty["entry"][0]["reference"]
    assessment = json.loads((resources / f"{target.replace('/', '-')}.json").read_text())
    assert assessment["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/certainty-of-evidence"]
    assert assessment["artifactReference"]["reference"].startswith("Evidence/")  # about an Evidence
    assert "⊕⊕◯◯ Low" in certainty["text"]["div"] and "certainty-rating:low" in question
    # the serious adverse events row shows both arms of the trial
    cells = {c["code"]["coding"][0]["code"]: c for c in entries[2]["section"]}
    assert cells["result-with-intervention-alone"]["entry"][0]["reference"] == "Evidence/aggarwal-2022-serious-teae-ivig"
    assert cells["result-with-comparator-alone"]["entry"][0]["reference"] == "Evidence/aggarwal-2022-serious-teae-placebo"


REC_EDITS = [
    ("unknown outcome", "  justification: [skin-activity, disease-mortality]\n", "EK106", "disease-mortality"),
    ("quote not in the source", None, "EK209", "quote:"),
]


@pytest.mark.parametrize("case", REC_EDITS, ids=[c[0] for c in REC_EDITS])
def test_bad_recommendation_is_a_located_error(case: tuple[str, str | None, str, str], tmp_path: Path,
                                               runner: CliRunner) -> None:
    _, insert, code, line_contains = case
    text = QUESTION.read_text()
    if insert is not None:
        text = text.replace("  hooks:", insert + "  hooks:") if "  hooks:" in text else \
            text.replace("  qualifies:\n", insert + "  qualifies:\n", 1)
    else:
        old = 'quote: "still having active cutaneous DM after being treated with ≥2 systemic medications"'
        assert text.count(old) == 1
        text = text.replace(old, 'quote: "still having active cutaneous DM after being treated with ≥3 systemic medications"')
    exit_code, found, lines = _check(runner, _directory(tmp_path, text))
    assert exit_code == 1
    assert any(d["code"] == code and d["severity"] == "error" and line_contains in lines[d["line"] - 1]
               for d in found), found


def test_recommendation_may_name_the_outcomes_that_justify_it(tmp_path: Path, runner: CliRunner) -> None:
    text = QUESTION.read_text().replace("  qualifies:\n", "  justification: [glucocorticoid-sparing]\n  qualifies:\n", 1)
    resources = _build(tmp_path, runner, text)
    plan = json.loads((resources / "PlanDefinition-ivig-refractory-cdm-question-ivig-refractory-cdm.json").read_text())
    docs = plan["action"][0]["documentation"]
    assert [d["resource"].rsplit("/", 1)[1] for d in docs if d.get("label") in ("outcome", "result")] == [
        "ivig-refractory-cdm-question-glucocorticoid-sparing", "galimberti-2018-glucocorticoid-reduction"]


def test_ids_too_long_for_fhir_are_reported_where_they_are_written(tmp_path: Path, runner: CliRunner) -> None:
    """Every id a question makes ('<question id>-<outcome id>-certainty', ...) fits FHIR's 64 characters,
    or the id is reported at load, located, before anything is compiled."""
    text = QUESTION.read_text().replace("\nid: ivig-refractory-cdm-question\n", "\nid: e2e-ivig-refractory-cdm-question\n")
    exit_code, found, lines = _check(runner, _directory(tmp_path, text))
    assert exit_code == 1
    located = {lines[d["line"] - 1].strip() for d in found if d["code"] == "EK107"}
    assert located == {"- id: serious-adverse-events", "id: ivig-refractory-cdm", "- id: dermatomyositis"}, found
