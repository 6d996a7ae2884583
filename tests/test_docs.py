"""The README documents every diagnostic code and every rule (docs cannot drift)."""

from __future__ import annotations

from conftest import ROOT
from evidencekit.checks import RULES
from evidencekit.diagnostics import CODES


def test_readme_lists_every_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, title in CODES.items():
        assert f"| {code} | {title}" in readme, f"README is missing {code}"
    for rule in RULES:
        assert rule.code in readme


def test_readme_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
