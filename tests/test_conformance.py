"""The official validator (HAPI FHIR 8.8.0 / org.hl7.fhir.validation) as oracle for output/r5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, OUTPUT_RESOURCES
from fhir_oracle import Oracle, OracleError, conformance_report


def test_seed_output_has_no_errors_and_report_is_current(seed_build: Path, oracle: Oracle) -> None:
    report = conformance_report(seed_build, oracle)
    errors = {f: [i for i in r["issues"] if i["severity"] in ("error", "fatal")]
              for f, r in report["files"].items() if r["errors"]}
    assert report["totals"]["errors"] == 0, errors
    definitions = len(list((seed_build / "definitions").glob("SearchParameter-*.json")))
    assert definitions == 3
    # every resource, bundle.json, transaction.json, and our SearchParameters
    assert len(report["files"]) == OUTPUT_RESOURCES + 2 + definitions
    committed = json.loads((ROOT / "output" / "r5" / "conformance.json").read_text())
    assert committed == report, "output/r5/conformance.json is stale: run `make conformance` and commit it"


def test_every_warning_is_documented(seed_build: Path, oracle: Oracle) -> None:
    doc = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    report = conformance_report(seed_build, oracle)
    for name, result in report["files"].items():
        for issue in result["issues"]:
            if issue["severity"] == "warning":
                documented = any(fragment in issue["message"] for fragment in _documented_fragments(doc))
                assert documented, f"{name}: undocumented warning: {issue['message']}"


def _documented_fragments(doc: str) -> list[str]:
    """Message fragments listed in docs/conformance.md as `warning: <fragment>`."""
    return [line.split("`warning: ", 1)[1].split("`", 1)[0] for line in doc.splitlines() if "`warning: " in line]


def test_oracle_is_not_vacuous(tmp_path: Path, seed_build: Path, oracle: Oracle) -> None:
    resource = json.loads((seed_build / "resources" / "Evidence-galimberti-2018-improvement-overall.json").read_text())
    resource["status"] = "bogus"
    del resource["variableDefinition"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(resource))
    outcome = oracle.validate(path)
    assert sum(1 for i in outcome["issue"] if i["severity"] in ("error", "fatal")) >= 2


def test_the_real_ig_profiles_are_enforced(tmp_path: Path, seed_build: Path, oracle: Oracle) -> None:
    """The oracle loads the real EBM IG package (tests/oracle/ebm-ig-r5) and allows no unknown
    extension: a misspelled IG extension URL, or a profile's required element removed, is an error."""
    from ebm_profiles import profile_urls

    declared = {p for f in (seed_build / "resources").glob("*.json")
                for p in json.loads(f.read_text()).get("meta", {}).get("profile", [])}
    assert declared and declared <= profile_urls()  # every profile we declare is a real IG profile
    name = "EvidenceVariable-galimberti-2018-cutaneous-improvement.json"
    variable = json.loads((seed_build / "resources" / name).read_text())
    good = tmp_path / "good.json"
    good.write_text(json.dumps(variable))
    assert not [i for i in oracle.validate(good)["issue"] if i["severity"] in ("error", "fatal")]
    ext = variable["extension"][0]
    assert ext["url"] == "http://hl7.org/fhir/uv/ebm/StructureDefinition/evidence-variable-definition"
    ext["url"] = "http://hl7.org/fhir/uv/ebm/StructureDefinition/evidence-variable-defintion"  # misspelled
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(variable))
    errors = [i for i in oracle.validate(bad)["issue"] if i["severity"] in ("error", "fatal")]
    assert any("evidence-variable-defintion" in i.get("diagnostics", "") for i in errors), errors
    report = json.loads((ROOT / "output" / "r5" / "conformance.json").read_text())
    assert any(p.startswith("hl7.fhir.uv.ebm#1.0.0-ballot") for p in report["packages"])
    assert report["totals"]["errors"] == 0


def test_oracle_death_is_an_error_not_valid(seed_build: Path) -> None:
    from fhir_oracle import tools_available
    from conftest import require

    require(*tools_available())
    dying = Oracle()
    dying.close()
    with pytest.raises(OracleError):
        dying.validate(seed_build / "bundle.json")


def test_r5_spec_table_is_generated_from_the_pinned_packages(tmp_path: Path) -> None:
    """Regenerate the committed R5 tables from the npm packages and compare (no hand edits)."""
    import hashlib

    from conftest import r5_packages
    from evidencekit.validate.generate_spec import generate

    committed = json.loads((ROOT / "src" / "evidencekit" / "validate" / "data" / "r5-spec.json").read_text())
    paths = r5_packages()
    for path in paths:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == committed["generated_from"][path.name]
    fresh = json.loads(json.dumps(generate(paths[0], paths[1])))  # tuples -> lists, as in the file
    fresh["generated_from"] = committed["generated_from"]
    assert fresh == committed, "run `make r5-spec` and commit src/evidencekit/validate/data/r5-spec.json"

