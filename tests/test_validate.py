"""`evidencekit validate` and its layers on good and deliberately broken output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from evidencekit.cli import main
from evidencekit.pipeline import validate_directory


@pytest.fixture
def output(seed_build: Path, tmp_path: Path) -> Path:
    target = tmp_path / "r5"
    shutil.copytree(seed_build, target)
    return target


def _edit(output: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change one resource file and the same resource in both bundles (so they stay in sync)."""
    path = output / "resources" / name
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource))
    for bundle_name in ("bundle.json", "transaction.json"):
        bundle_path = output / bundle_name
        bundle = json.loads(bundle_path.read_text())
        for entry in bundle["entry"]:
            if (entry["resource"]["resourceType"], entry["resource"]["id"]) == (resource["resourceType"],
                                                                                   resource["id"]):
                entry["resource"] = resource
        bundle_path.write_text(json.dumps(bundle))


def _codes(output: Path) -> list[tuple[str, str]]:
    return sorted((d.code, d.fhir_path) for d in validate_directory(output))


def test_seed_output_is_valid(output: Path, runner: CliRunner) -> None:
    assert validate_directory(output) == []
    assert validate_directory(output.parent) == []  # output/ or output/r5 both work
    result = runner.invoke(main, ["validate", str(output)])
    assert result.exit_code == 0 and "0 error(s)" in result.output


def test_single_bundle_file(output: Path) -> None:
    assert validate_directory(output / "bundle.json") == []
    assert validate_directory(output / "transaction.json") == []


def test_model_error_has_fhir_path(output: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["statistic"][0]["numberAffected"] = -3

    _edit(output, "Evidence-galimberti-2018-improvement-overall.json", change)
    found = [d for d in validate_directory(output) if d.code == "EK401"]
    assert [d.fhir_path for d in found] == ["Evidence.statistic[0].numberAffected"]
    assert found[0].file.endswith("Evidence-galimberti-2018-improvement-overall.json")


def test_dangling_reference(output: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["variableDefinition"][0]["observed"]["reference"] = "Group/does-not-exist"

    _edit(output, "Evidence-galimberti-2018-improvement-overall.json", change)
    assert ("EK402", "Evidence.variableDefinition[0].observed") in _codes(output)


def test_dangling_contained_reference(output: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["contained"] = r["contained"][1:]

    _edit(output, "Citation-galimberti-2018-citation.json", change)
    assert ("EK402", "Citation.citedArtifact.contributorship.entry[0].contributor") in _codes(output)


def test_dangling_canonical(output: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["relatedArtifact"] = [{"type": "depends-on",
                                 "resource": "http://example.org/fhir/evidencekit/Evidence/nope"}]

    _edit(output, "Evidence-galimberti-2018-time-to-ivig.json", change)
    assert ("EK402", "Evidence.relatedArtifact[0].resource") in _codes(output)


def test_dangling_urn_uuid_in_bundle(output: Path) -> None:
    bundle = json.loads((output / "bundle.json").read_text())
    bundle["entry"][0]["resource"]["citedArtifact"]["contributorship"]["entry"][0]["contributor"] = {
        "reference": "urn:uuid:0f7f5e1c-1111-4222-8333-944455556666"}
    (output / "bundle.json").write_text(json.dumps(bundle))
    codes = [d.code for d in validate_directory(output / "bundle.json")]
    assert "EK402" in codes


def test_profile_rules(output: Path) -> None:
    def no_role(r: dict[str, Any]) -> None:
        del r["variableDefinition"][1]["extension"]
        r["synthesisType"]["coding"][0]["code"] = "pooled"
        # the eligibility definition is a CohortDefinition, not a StudyGroup
        r["variableDefinition"][0]["observed"]["reference"] = "Group/galimberti-2018-refractory-cdm-definition"

    def enumerated(r: dict[str, Any]) -> None:
        r["membership"] = "definitional"

    _edit(output, "Evidence-galimberti-2018-improvement-overall.json", no_role)
    _edit(output, "Group-galimberti-2018-refractory-cdm.json", enumerated)
    found = [(d.code, d.fhir_path) for d in validate_directory(output) if d.code == "EK403"]
    assert ("EK403", "Evidence.variableDefinition[1].extension") in found
    assert ("EK403", "Evidence.synthesisType") in found
    assert ("EK403", "Group.membership") in found
    assert any(p == "Evidence.variableDefinition[0].observed" for _, p in found)


def test_measure_report_rules(output: Path) -> None:
    """Outcome-measure report (EBM IG): a column holds at most one Evidence, of the column's profile;
    a row's focus is a VariableDefinition; the type is fixed."""
    def broken(r: dict[str, Any]) -> None:
        r["type"]["coding"][0]["code"] = "EvidenceReport"
        results = next(s for s in r["section"] if s["code"]["coding"][0]["code"] == "results")
        row = results["section"][0]
        comparator, intervention, comparative = row["section"]  # the IG's column order
        comparator["entry"].append(intervention["entry"][0])      # two Evidence in one column
        intervention["entry"] = [comparative["entry"][0]]        # a comparative Evidence as one arm's
        results["section"][1]["focus"] = {"reference": "Group/aggarwal-2022-ivig", "type": "Group"}

    assert not [d for d in validate_directory(output) if d.code == "EK403"]
    _edit(output, "Composition-aggarwal-2022-outcome-measures.json", broken)
    found = {(d.fhir_path, d.message.split("outcome-measure-report: ", 1)[-1]) for d in validate_directory(output)
             if d.code == "EK403"}
    assert found == {
        ("Composition.type.coding", "type.coding is 1..1, fixed to OutcomeMeasureReport"),
        ("Composition.section[2].section[0].section[0].entry", "a column holds at most one Evidence"),
        ("Composition.section[2].section[0].section[1].entry[0]", "this column holds a non-comparative-evidence Evidence"),
        ("Composition.section[2].section[1].focus", "a results row's focus must be a VariableDefinition")}


def test_stale_bundle_detected(output: Path) -> None:
    path = output / "resources" / "Group-galimberti-2018-skin-alone.json"
    group = json.loads(path.read_text())
    group["quantity"] = 16
    path.write_text(json.dumps(group))
    assert any(d.code == "EK405" and "differs" in d.message for d in validate_directory(output))


def test_duplicate_full_url(output: Path) -> None:
    bundle = json.loads((output / "transaction.json").read_text())
    bundle["entry"].append(bundle["entry"][0])
    (output / "transaction.json").write_text(json.dumps(bundle))
    assert ("EK404", f"Bundle.entry[{len(bundle['entry']) - 1}].fullUrl") in _codes(output)


@pytest.mark.parametrize("content,message", [
    (b"not json at all", "not valid JSON"),
    (b'{"hello": "world"}', "not a FHIR resource"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b'{"resourceType": "Patient", "id": "p", "gender": "robot"}', ""),
    (b'{"resourceType": "MedicationStatement", "id": "m", "status": "active", '
     b'"medicationCodeableConcept": {"text": "R4 shape"}, "subject": {"reference": "Patient/p"}}', ""),
])
def test_bad_files(tmp_path: Path, content: bytes, message: str, runner: CliRunner) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    result = runner.invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    items = json.loads(result.output)
    assert items and all(i["severity"] == "error" for i in items)
    assert message in items[0]["message"]


def test_missing_output(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "EK405" in result.output


def test_wrong_fhir_version_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    # an R4B-shaped Evidence: `studyType` became `studyDesign` in R5
    path = tmp_path / "r4b-evidence.json"
    path.write_text(json.dumps({"resourceType": "Evidence", "id": "e", "status": "active",
                                "variableDefinition": [{"variableRole": {"text": "population"}}],
                                "studyType": {"text": "RCT"}}))
    result = runner.invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    items = json.loads(result.output)
    assert any(i["code"] == "EK411" and i["fhir_path"] == "Evidence.studyType" for i in items)


def test_duplicate_element_id(tmp_path: Path, runner: CliRunner) -> None:
    """Two elements with one id in a resource: EK412 (the HL7 validator's "Duplicate id value")."""
    path = tmp_path / "PlanDefinition-p.json"
    action = {"id": "a", "title": "t"}
    text = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>p</p></div>'}
    path.write_text(json.dumps({"resourceType": "PlanDefinition", "id": "p", "text": text, "status": "active",
                                "action": [action, {**action, "title": "u"}]}))
    result = runner.invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    items = json.loads(result.output)
    assert [i["fhir_path"] for i in items if i["code"] == "EK412"] == ["PlanDefinition.action[1]"]
    action_b = {"id": "b", "title": "u"}
    path.write_text(json.dumps({"resourceType": "PlanDefinition", "id": "p", "text": text, "status": "active",
                                "action": [action, action_b]}))
    assert runner.invoke(main, ["validate", str(path), "--format", "json"]).exit_code == 0


def test_hundred_megabyte_bundle(tmp_path: Path, runner: CliRunner) -> None:
    """A 100 MB bundle is read and judged (no crash, no traceback); its defects are reported."""
    big = {"fullUrl": "http://example.org/Basic/b", "resource": {
        "resourceType": "Basic", "id": "b", "code": {"text": "x" * (100 * 1024 * 1024)}}}
    small = {"fullUrl": "http://example.org/Basic/b", "resource": {"resourceType": "Basic", "id": "c",
                                                                     "code": {"text": "y"}}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [big, small]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(bundle))
    assert path.stat().st_size > 100 * 1024 * 1024
    result = runner.invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output[:500]
    assert "Traceback" not in result.output
    assert any(i["code"] == "EK404" for i in json.loads(result.output))  # the duplicated fullUrl


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: CliRunner) -> None:
    import evidencekit.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MAX_OUTPUT_FILE_BYTES", 1000)
    path = tmp_path / "large.json"
    path.write_text(json.dumps({"resourceType": "Basic", "id": "b", "code": {"text": "y" * 2000}}))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1 and "EK405" in result.output and "larger than" in result.output


def test_layers_option(output: Path, runner: CliRunner) -> None:
    assert runner.invoke(main, ["validate", str(output), "--layers", "structure,references"]).exit_code == 0
    bad = runner.invoke(main, ["validate", str(output), "--layers", "models,bogus"])
    assert bad.exit_code == 2 and "bogus" in bad.output
