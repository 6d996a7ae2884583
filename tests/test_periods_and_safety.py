"""Issue 22, points 2, 4 and 6 (the parts landed): Evidence of an open-label period carries that
period's design, a set's treatment is what it received, sizes the author derives are marked, number
words count in quotes, and ProDERM's whole-study safety reaches the summary of findings and the card."""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cds_client as ehr
from conftest import DEFINITIONS, PRODERM
from evidencekit.cli import main
from evidencekit.definitions.loader import load_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Json = dict[str, Any]
RANDOMIZED, BLINDED = "SEVCO:01003", ("SEVCO:01060", "SEVCO:01061")


def _resources(r5: Path) -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r
            for r in (json.loads(p.read_text()) for p in (r5 / "resources").glob("*.json"))}


def _design(evidence: Json) -> set[str]:
    return {c["coding"][0]["code"] for c in evidence["studyDesign"]}


def test_open_label_evidence_carries_the_periods_design(seed_build: Path) -> None:
    resources = _resources(seed_build)
    loaded, _ = load_file(PRODERM, PRODERM.name)
    assert loaded is not None
    study = loaded.study  # type: ignore[union-attr]
    points = {t.id: t for t in study.timepoints}
    checked = 0
    for result in study.results:
        evidence = resources[f"Evidence/aggarwal-2022-{result.id}"]
        point = points[result.timepoint]
        open_label = point.period == "extension" or point.id == "whole-study"
        if open_label:  # the extension, or a window over both periods: no randomization, no blinding
            assert RANDOMIZED not in _design(evidence) and not set(BLINDED) & _design(evidence), result.id
            assert "comparator-only-evidence" not in json.dumps(evidence["meta"]), result.id  # everyone on IVIG
        else:
            assert RANDOMIZED in _design(evidence) and set(BLINDED) <= _design(evidence), result.id
        checked += open_label
    assert checked == 6  # two week-40 results, four whole-study safety results


def test_a_window_over_several_periods_keeps_only_the_codes_they_share(tmp_path: Path) -> None:
    loaded, _ = load_file(PRODERM, PRODERM.name)
    study = loaded.study  # type: ignore[union-attr]
    whole = next(r for r in study.results if r.id == "tee-overall")
    assert study.design_codes_for(whole) == ["study-design:SEVCO:01001", "study-design:SEVCO:01035",
                                             "study-design:SEVCO:01043"]
    first = next(r for r in study.results if r.id == "tee-ivig")
    assert study.design_codes_for(first) == list(study.design.codes)


def test_placebo_first_patients_on_ivig_in_the_extension_are_ivig_evidence(seed_build: Path) -> None:
    resources = _resources(seed_build)
    evidence = resources["Evidence/aggarwal-2022-tis20-week40-placebo"]
    assert evidence["meta"]["profile"][0].endswith("/intervention-only-evidence")
    group = resources["Group-aggarwal-2022-extension-placebo".replace("-", "/", 1)]
    assert group["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/exposure-group"]
    received = [c for c in group["characteristic"] if c["code"].get("text") == "Received"]
    assert received and {"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "code": "C2701",
                         "display": "Therapeutic Immune Globulin"} in received[0]["valueCodeableConcept"]["coding"]
    # the week-40 variable does not inherit the First Period's switch rule
    variable = resources["EvidenceVariable/aggarwal-2022-tis20-extension-week-40"]
    assert "non-responders" not in variable["description"] and "open-label extension" in variable["description"]


def test_a_size_the_author_derives_is_marked_and_need_not_be_quoted(seed_build: Path) -> None:
    group = _resources(seed_build)["Group/aggarwal-2022-ivig-exposed"]
    marks = [e for e in group["extension"] if e["url"].endswith("/StructureDefinition/derived-value")]
    assert len(marks) == 1
    parts = {p["url"]: p["valueString"] for p in marks[0]["extension"]}
    assert parts["element"] == "characteristic[1]" and "95 patients exposed to IVIG" in parts["method"]
    assert "48 participants" in json.dumps(group["characteristic"][1])
    assert "Derived by the definition author" in group["text"]["div"]
    source_map = json.loads((seed_build / "source-map.json").read_text())
    entry = next(e for e in source_map["resources"] if e["resource"] == "Group/aggarwal-2022-ivig-exposed")
    derived = [e for e in entry["elements"] if e["fhir_path"] == "Group.characteristic[1]"]
    assert derived and "minus the 47" in derived[0]["derived"]


def test_the_derived_value_extension_may_mark_a_group(seed_build: Path) -> None:
    definition = json.loads((seed_build / "definitions" / "StructureDefinition-derived-value.json").read_text())
    assert {"type": "element", "expression": "Group"} in definition["context"]


WHOLE_STUDY = {"serious-teae-overall": (14, 95, 22), "tee-overall": (6, 95, 8), "related-tee-overall": (5, 95, 6)}


def test_proderms_whole_study_safety_is_in_the_output(seed_build: Path) -> None:
    resources = _resources(seed_build)
    for result, (affected, n, events) in WHOLE_STUDY.items():
        stat = resources[f"Evidence/aggarwal-2022-{result}"]["statistic"][0]
        assert stat["numberAffected"] == affected and stat["numberOfEvents"] == events, result
        assert stat["sampleSize"]["numberOfParticipants"] == n, result
    nejm = resources["Evidence/aggarwal-2022-related-serious-nejm"]["statistic"][0]
    assert nejm["quantity"]["value"] == 9  # events; the denominator is not given
    assert "numberOfParticipants" not in nejm["sampleSize"] and "not patients" in nejm["sampleSize"]["description"]


def test_whole_study_safety_in_the_summary_of_findings(seed_build: Path) -> None:
    sof = _resources(seed_build)["Composition/ivig-refractory-cdm-question-summary-of-findings"]
    rows = {s["title"]: s for s in sof["section"][1:]}
    for title, result in (("Serious adverse events, weeks 0 to 40 (all on IVIG)", "serious-teae-overall"),
                          ("Thromboembolic events, weeks 0 to 40 (all on IVIG)", "tee-overall")):
        cells = {c["code"]["coding"][0]["code"]: c for c in rows[title]["section"]}
        cell = cells["result-with-intervention-alone"]
        assert [e["reference"] for e in cell["entry"]] == [f"Evidence/aggarwal-2022-{result}"]
        affected, n, _ = WHOLE_STUDY[result]
        assert f"{affected} of {n} patients" in cell["text"]["div"]
        assert "No result" in cells["result-with-comparator-alone"]["text"]["div"]  # no comparator after week 16


def test_whole_study_safety_on_the_card(seed_build: Path, tmp_path: Path) -> None:
    from evidencekit.serve import Settings, create_app, load_knowledge
    from evidencekit.serve.auth import load_trust

    signer = ehr.Signer()
    app = create_app(load_knowledge(seed_build), Settings(public_url="http://testserver",
                                                          trust=load_trust(signer.trust_file(tmp_path / "t.json"))))
    client = TestClient(app)
    service = next(s for s in json.loads(client.get("/cds-services", headers=signer.auth(
        "http://testserver/cds-services")).text)["services"] if s["hook"] == "patient-view")["id"]
    body = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))
    body["hookInstance"] = str(uuid.uuid4())
    url = f"/cds-services/{service}"
    response = client.post(url, json=body, headers=signer.auth("http://testserver" + url))
    assert response.status_code == 200
    detail = response.json()["cards"][0]["detail"]
    assert "Serious adverse events, weeks 0 to 40 (all on IVIG)" in detail and "14 of 95 patients" in detail
    assert "Thromboembolic events, weeks 0 to 40 (all on IVIG)" in detail and "6 of 95 patients" in detail
    # the open-label rows are not offered as randomized evidence; the First Period's rows are
    outside = "Aggarwal et al. 2022, randomized trial (outside its randomized period): "
    assert f"{outside}14 of 95 patients" in detail and f"{outside}6 of 95 patients" in detail
    assert "Aggarwal et al. 2022, randomized trial: 1 of 52 patients" in detail


@pytest.mark.parametrize(("edit", "code", "words"), [
    (("    received: ivig", "    received: ivgi"), "EK106", "arm 'ivgi' is not defined"),
    (("      - study-design:SEVCO:01035   # Phase 3 Trial\n      - study-design:SEVCO:01043",
      "      - study-design:SEVCO:09999\n      - study-design:SEVCO:01043"), "EK301", "SEVCO:09999"),
])
def test_bad_period_and_set_fields_are_located(edit: tuple[str, str], code: str, words: str, tmp_path: Path,
                                               runner: CliRunner) -> None:
    directory = tmp_path / "definitions"
    (directory / "sources").mkdir(parents=True)
    for source in (DEFINITIONS / "sources").iterdir():
        (directory / "sources" / source.name).write_bytes(source.read_bytes())
    text = PRODERM.read_text()
    assert text.count(edit[0]) == 1, edit[0]
    (directory / PRODERM.name).write_text(text.replace(*edit))
    result = runner.invoke(main, ["check", str(directory), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert any(d["code"] == code and words in d["message"] and d["line"] > 0 for d in json.loads(result.output)), \
        result.output
