"""The bad-input corpus: a located diagnostic, exit 1, no traceback, output untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, SEED
from evidencekit.cli import main

CASES: list[dict[str, Any]] = yaml.safe_load((ROOT / "tests" / "fixtures" / "bad_definitions.yaml").read_text())["cases"]


def _materialize(case: dict[str, Any], directory: Path) -> Path:
    """Write the case's definition file(s) into ``directory``; return the bad file."""
    (directory / "sources").mkdir(parents=True)
    for source in (SEED.parent / "sources").iterdir():
        (directory / "sources" / source.name).write_bytes(source.read_bytes())
    bad = directory / "bad.yaml"
    seed = SEED.read_text(encoding="utf-8")
    if "edit" in case:
        text = seed
        for edit in case["edit"]:
            assert text.count(edit["find"]) == 1, f"{case['name']}: edit target not unique: {edit['find']!r}"
            text = text.replace(edit["find"], edit["replace"])
        bad.write_text(text, encoding="utf-8")
    elif "content" in case:
        bad.write_text(case["content"], encoding="utf-8")
    elif case["generate"] == "not-utf8":
        bad.write_bytes(seed.replace("title: IVIG", "title: IVIG \udcff", 1).encode("utf-8", "surrogateescape"))
    elif case["generate"] == "huge":
        with bad.open("wb") as handle:
            handle.write(seed.encode())
            chunk = b"# padding " + b"x" * 1013 + b"\n"
            for _ in range(50 * 1024):
                handle.write(chunk)
        assert bad.stat().st_size >= 50 * 1024 * 1024
    elif case["generate"] == "duplicate-study":
        (directory / "a-original.yaml").write_text(seed, encoding="utf-8")
        bad.write_text(seed, encoding="utf-8")
    return bad


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_definition(case: dict[str, Any], tmp_path: Path, runner: CliRunner) -> None:
    definitions = tmp_path / "definitions"
    bad = _materialize(case, definitions)
    output = tmp_path / "output"
    (output / "r5").mkdir(parents=True)
    (output / "r5" / "bundle.json").write_text('{"previous": "build"}')
    before = _snapshot(output)

    result = runner.invoke(main, ["build", str(definitions), "-o", str(output), "--format", "json"])

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    diagnostics = json.loads(result.output)
    assert all(set(d) == {"code", "severity", "message", "file", "line", "column", "fhir_path"} for d in diagnostics)
    matching = [d for d in diagnostics if d["code"] == case["code"] and d["file"].endswith("bad.yaml")]
    assert matching, f"expected {case['code']}, got {[(d['code'], d['message']) for d in diagnostics]}"
    found = matching[0]
    assert found["severity"] == "error"
    if "line_contains" in case:
        lines = bad.read_bytes().decode("utf-8", "replace").splitlines()
        assert found["line"] and case["line_contains"] in lines[found["line"] - 1], (
            f"line {found['line']} is {lines[found['line'] - 1]!r}")
    else:
        assert found["line"] == 1
    if "message_contains" in case:
        assert case["message_contains"] in found["message"]
    assert _snapshot(output) == before, "output changed although the build failed"
