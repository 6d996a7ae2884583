"""The command line: formats, exit codes, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS, OUTPUT_RESOURCES, ROOT, SEED
from evidencekit.cli import main

KEYS = {"code", "severity", "message", "file", "line", "column", "fhir_path"}


def test_check_seed_text(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(SEED)])
    assert result.exit_code == 0
    # 2 corroborated codes; 3 count units whose UCUM codes the project's terminology.yaml declares
    # (a single file is checked alone: no terminology file beside it is read)
    assert "0 error(s), 5 warning(s)" in result.output
    assert "EK302" in result.output and "checked 1 study definition(s)" in result.output


def test_check_definitions_directory(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(DEFINITIONS), "--format", "json"])
    assert result.exit_code == 0
    items = json.loads(result.output)
    files = {i["file"] for i in items}
    assert files == {f"definitions/{p.name}" for p in DEFINITIONS.glob("*.yaml") if p.name != "terminology.yaml"}
    assert len(files) == 5  # four studies and the question each have a finding (EK302 at least)
    assert not [i for i in items if i["severity"] == "error"]


def test_check_json_lists_every_diagnostic(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(SEED), "--format", "json"])
    assert result.exit_code == 0
    items = json.loads(result.output)
    assert all(set(item) == KEYS for item in items)
    assert sorted(i["code"] for i in items) == ["EK208"] * 4 + ["EK302"] * 2 + ["EK305"] * 3
    assert all(i["file"] == "galimberti-2018-ivig-cutaneous-dm.yaml" and i["line"] for i in items)


def test_check_sarif(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(SEED), "--format", "sarif"])
    sarif = json.loads(result.output)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"EK208", "EK302", "EK305"}
    first = run["results"][0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"].endswith(".yaml") and first["region"]["startLine"] > 0
    assert {r["level"] for r in run["results"]} == {"note", "warning"}


def test_show_info(runner: CliRunner) -> None:
    hidden = runner.invoke(main, ["check", str(SEED)])
    shown = runner.invoke(main, ["check", str(SEED), "--show-info"])
    assert "EK208" not in hidden.output and "4 info not shown" in hidden.output
    assert shown.output.count("EK208") == 4


def test_build_summary(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["build", str(DEFINITIONS), "-o", str(tmp_path / "out"),
                                  "--config", str(ROOT / "evidencekit.yaml")])
    assert result.exit_code == 0, result.output
    evidence = len(list((ROOT / "output" / "r5" / "resources").glob("Evidence-*.json")))
    assert f"built {OUTPUT_RESOURCES} resources" in result.output and f"{evidence} Evidence" in result.output


@pytest.mark.parametrize("args", [
    ["build", "--format", "xml"],
    ["build", "no-such-directory"],
    ["check", "--bogus"],
    ["frobnicate"],
    ["build", "--config", "missing.yaml"],
])
def test_usage_errors_exit_2(args: list[str], runner: CliRunner) -> None:
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_empty_directory_is_an_input_error(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1 and "EK010" in result.output


def test_bad_config_file(tmp_path: Path, runner: CliRunner) -> None:
    config = tmp_path / "evidencekit.yaml"
    config.write_text("canonical_base: not a url\nversoin: 1.0.0\n")
    result = runner.invoke(main, ["build", str(DEFINITIONS), "-o", str(tmp_path / "o"), "--config", str(config)])
    assert result.exit_code == 2
    assert result.output.count("EK502") == 2 and not (tmp_path / "o").exists()


def test_unwritable_output_exits_2_even_as_root(tmp_path: Path, runner: CliRunner) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output directory should be")
    result = runner.invoke(main, ["build", str(DEFINITIONS), "-o", str(blocker),
                                  "--config", str(ROOT / "evidencekit.yaml")])
    assert result.exit_code == 2, result.output
    assert "EK501" in result.output and blocker.read_text().startswith("a file")


def test_schema_command(runner: CliRunner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "Study"


def test_version(runner: CliRunner) -> None:
    assert runner.invoke(main, ["--version"]).output.startswith("evidencekit, version ")


def test_list_skipped_invariants(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(ROOT / "output"), "--list-skipped-invariants"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    keys = {line.split("\t")[0] for line in lines[:-1]}
    assert keys == {"valueset"}  # every invariant is evaluated (natively where fhirpathpy cannot)
    assert lines[-1] == "0 invariant(s) and 4 required value set(s) not evaluated"


def test_skipped_invariants_are_listed_not_hidden() -> None:
    from evidencekit.validate.spec import Spec

    without_natives = Spec.load()
    without_natives.use_native = False
    listed = {item.key: item.reason for item in without_natives.skipped()}
    assert "htmlChecks" in listed["txt-1"] and "htmlChecks" in listed["txt-2"]
