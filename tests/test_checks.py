"""Every consistency rule, driven by the YAML cases in tests/fixtures/checks/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, SEED
from evidencekit.checks import RULES
from evidencekit.definitions.loader import load_file
from evidencekit.diagnostics import Severity

FIXTURES = ROOT / "tests" / "fixtures" / "checks"
RULES_BY_CODE = {rule.code: rule for rule in RULES}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check_case" in metafunc.fixturenames:
        params, ids = [], []
        for path in sorted(FIXTURES.glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            for name, case in data["cases"].items():
                params.append((data["rule"], case))
                ids.append(f"{data['rule']}-{name}")
        metafunc.parametrize("check_case", params, ids=ids)


def test_every_rule_has_cases() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yml")} == set(RULES_BY_CODE)


def test_check_case(check_case: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    code, case = check_case
    text = (SEED.parent / case.get("base", SEED.name)).read_text(encoding="utf-8")
    for edit in case.get("edit", []):
        assert text.count(edit["find"]) == 1, f"edit target not unique: {edit['find']!r}"
        text = text.replace(edit["find"], edit["replace"])
    shutil.copytree(SEED.parent / "sources", tmp_path / "sources")
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    loaded, problems = load_file(path, "case.yaml")
    assert loaded is not None and not problems, [d.format_text() for d in problems]
    found = [d for d in RULES_BY_CODE[code].function(loaded)
             if case.get("include_info") or d.severity is not Severity.INFO]
    lines = text.splitlines()
    got = sorted((d.code, d.severity.value, lines[d.line - 1].strip()) for d in found)
    expected = case["expect"]
    assert len(got) == len(expected), got
    for exp in expected:
        assert any(c == exp["code"] and s == exp["severity"] and exp["line_contains"] in line
                   for c, s, line in got), (exp, got)
