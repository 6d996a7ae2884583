"""Same definitions -> byte-identical output; the committed output/ is never stale."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import DEFINITIONS, ROOT
from evidencekit.cli import main


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _build(runner: CliRunner, out: Path, definitions: str = str(DEFINITIONS),
           config: Path = ROOT / "evidencekit.yaml") -> None:
    result = runner.invoke(main, ["build", definitions, "-o", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output


def test_two_builds_are_byte_identical(tmp_path: Path, runner: CliRunner) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    # Different spellings of the same input directory, different working directories.
    copy = tmp_path / "elsewhere" / "definitions"
    shutil.copytree(DEFINITIONS, copy)
    _build(runner, first)
    cwd = os.getcwd()
    try:
        os.chdir(copy.parent)
        _build(runner, second, "./definitions/")
    finally:
        os.chdir(cwd)
    assert _tree(first / "r5") == _tree(second / "r5")


def test_committed_output_is_not_stale(seed_build: Path) -> None:
    committed = ROOT / "output" / "r5"
    assert committed.is_dir(), "output/r5 is missing: run `make run` and commit output/"
    fresh, old = _tree(seed_build), _tree(committed)
    old.pop("conformance.json", None)  # made by `make conformance`; checked by test_conformance.py
    stale = sorted(k for k in fresh.keys() | old.keys() if fresh.get(k) != old.get(k))
    assert not stale, f"output/ is stale, run `make run` and commit: {stale[:10]}"


def test_rebuild_replaces_output_atomically(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "out"
    _build(runner, out)
    (out / "r5" / "leftover.txt").write_text("from an older build")
    _build(runner, out)
    assert not (out / "r5" / "leftover.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["r5"]  # no staging or old directories left behind


def test_reports_survive_only_an_identical_rebuild(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "out"
    _build(runner, out)
    (out / "r5" / "conformance.json").write_text('{"totals": {}}')
    _build(runner, out)
    assert (out / "r5" / "conformance.json").read_text() == '{"totals": {}}'
    other = tmp_path / "other.yaml"
    other.write_text((ROOT / "evidencekit.yaml").read_text().replace("version: 0.1.0", "version: 0.1.1"))
    _build(runner, out, config=other)
    assert not (out / "r5" / "conformance.json").exists()  # the output changed: the report would be stale
