"""`evidencekit build --watch` (issue 12, point 5): a change rebuilds only what it touches, the
output at rest equals a full build byte for byte, errors leave the last good output in place, and
the real watch loop (watchfiles) runs as a process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEFINITIONS
from evidencekit.config import Config
from evidencekit.diagnostics import Diagnostic, Severity
from evidencekit.pipeline import build
from evidencekit.validate import ResourceIndex
from evidencekit.watch import Workspace

SEED = "galimberti-2018-ivig-cutaneous-dm.yaml"
TEXT = "text: 83% of patients experienced cutaneous DM improvement."


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    ws = Workspace(tmp_path / "definitions", tmp_path / "out", Config())
    assert ws.full_build().ok
    return ws


def _edit(path: Path, find: str, replace: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(find) == 1, find
    path.write_text(text.replace(find, replace), encoding="utf-8")


def _fresh(workspace: Workspace, tmp_path: Path) -> dict[str, bytes]:
    result = build(workspace.definitions, tmp_path / "fresh", config=Config())
    assert result.ok
    return _files(tmp_path / "fresh" / "r5")


def _index_is_current(workspace: Workspace) -> bool:
    """The workspace's index of the output is what indexing everything compiled gives."""
    return workspace.index == ResourceIndex.of(c.resource for cs in workspace.compiled.values() for c in cs)


def test_a_change_rebuilds_the_study_and_the_question_citing_it(workspace: Workspace, tmp_path: Path) -> None:
    seed = workspace.definitions / SEED
    evidence = workspace.target / "resources" / "Evidence-galimberti-2018-improvement-overall.json"
    untouched = workspace.target / "resources" / "Citation-aggarwal-2022-citation.json"
    before, mtime = evidence.read_bytes(), untouched.stat().st_mtime_ns
    _edit(seed, TEXT, "text: Eighty-three per cent of patients experienced cutaneous DM improvement.")
    update = workspace.update({seed})
    assert update.ok and not update.full
    assert update.rebuilt == ["galimberti-2018", "ivig-refractory-cdm-question"]
    assert evidence.read_bytes() != before and b"Eighty-three per cent" in evidence.read_bytes()
    assert untouched.stat().st_mtime_ns == mtime  # another study's files are not rewritten
    assert workspace.stale  # the bundles still hold the old text
    assert b"Eighty-three" not in (workspace.target / "bundle.json").read_bytes()
    workspace.refresh()
    assert not workspace.stale
    assert _files(workspace.target) == _fresh(workspace, tmp_path)


def test_errors_keep_the_last_good_output_until_fixed(workspace: Workspace, tmp_path: Path) -> None:
    seed = workspace.definitions / SEED
    proderm = workspace.definitions / "aggarwal-2022-proderm.yaml"
    before = _files(workspace.target)
    _edit(seed, "    value: 83\n    scale: percent\n", "    value: 83\n")  # EK212
    update = workspace.update({seed})
    assert not update.ok and [d.code for d in update.diagnostics if d.severity.value == "error"] == ["EK212"]
    assert _files(workspace.target) == before
    # another file changes while the seed is still broken: still nothing written, still reported
    _edit(proderm, "\ntitle: ", "\ntitle: Edited - ")
    update = workspace.update({proderm})
    assert not update.ok and "EK212" in {d.code for d in update.diagnostics}
    assert _files(workspace.target) == before
    _edit(seed, "    value: 83\n", "    value: 83\n    scale: percent\n")
    update = workspace.update({seed})
    assert update.ok and {"galimberti-2018", "aggarwal-2022"} <= set(update.rebuilt)  # the pending one too
    assert _index_is_current(workspace)
    workspace.refresh()
    assert _files(workspace.target) == _fresh(workspace, tmp_path)


def test_removed_study_source_text_and_terminology_changes(workspace: Workspace, tmp_path: Path) -> None:
    bounfour = workspace.definitions / "bounfour-2014-ivig-dm-skin.yaml"
    kept = bounfour.read_text(encoding="utf-8")
    bounfour.unlink()
    update = workspace.update({bounfour})
    assert not update.ok and "EK230" in {d.code for d in update.diagnostics}  # the question cites it
    bounfour.write_text(kept, encoding="utf-8")
    assert workspace.update({bounfour}).ok and _index_is_current(workspace)
    # a source text is rechecked for the definitions that quote it
    source = workspace.definitions / "sources" / "galimberti-2018-news-summary.txt"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("Overall, 83% of patients", "Overall, most patients"), encoding="utf-8")
    update = workspace.update({source})
    assert not update.ok and "EK209" in {d.code for d in update.diagnostics}
    source.write_text(text, encoding="utf-8")
    assert workspace.update({source}).ok
    # a new terminology file rebuilds everything
    terms = workspace.definitions / "terminology.yaml"
    terms.write_text("kind: terminology\nreviewed:\n  - {concept: \"atc:J06BA02\", by: A. Reviewer, "
                     "date: \"2026-12-03\"}\n", encoding="utf-8")
    update = workspace.update({terms})
    assert update.full and update.ok
    assert not any(d.code == "EK302" and "atc:J06BA02" in d.message for d in update.diagnostics)
    assert _files(workspace.target) == _fresh(workspace, tmp_path)


def test_the_watch_loop_as_a_process(tmp_path: Path) -> None:
    """The real loop: watchfiles sees the edit, the study is rebuilt, the whole-corpus files follow
    once the definitions are quiet, and SIGINT leaves a complete output."""
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    exe = Path(sys.executable).parent / "evidencekit"
    log = tmp_path / "watch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "build", str(tmp_path / "definitions"), "-o", str(tmp_path / "out"),
                                 "--watch"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(text: str, count: int = 1) -> None:
        deadline = time.monotonic() + 120
        while log.read_text(encoding="utf-8").count(text) < count:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)

    try:
        wait_for("watching")
        _edit(tmp_path / "definitions" / SEED, TEXT, "text: Eighty-three per cent of patients improved.")
        wait_for("rebuilt galimberti-2018, ivig-refractory-cdm-question")
        wait_for("output complete")
        assert b"Eighty-three per cent" in (tmp_path / "out" / "r5" / "bundle.json").read_bytes()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in log.read_text(encoding="utf-8")
    fresh = build(tmp_path / "definitions", tmp_path / "fresh", config=Config())
    assert fresh.ok and _files(tmp_path / "out" / "r5") == _files(tmp_path / "fresh" / "r5")


def test_an_update_that_fails_validation_leaves_the_index_and_output_as_they_were(
        workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index of the rest of the output loses the rebuilt resources while they are validated and
    must get them back when the update writes nothing (here: a validation error injected)."""
    seed = workspace.definitions / SEED
    before, index = _files(workspace.target), ResourceIndex.of(
        c.resource for cs in workspace.compiled.values() for c in cs)
    real = Workspace._validate

    def failing(self: Workspace, fresh: list, context: ResourceIndex) -> list[Diagnostic]:
        assert not any(c.key in context.by_key for c in fresh)  # validated against the rest only
        return [*real(self, fresh, context), Diagnostic(fresh[0].file, 1, 1, "EK402", Severity.ERROR, "injected")]

    monkeypatch.setattr(Workspace, "_validate", failing)
    _edit(seed, TEXT, TEXT.replace("83% of patients", "Eighty-three per cent of patients"))
    update = workspace.update({seed})
    assert not update.ok and "EK402" in {d.code for d in update.diagnostics}
    assert workspace.index == index and _files(workspace.target) == before
    monkeypatch.setattr(Workspace, "_validate", real)
    update = workspace.update({seed})  # retried: the pending study is rebuilt
    assert update.ok and "galimberti-2018" in update.rebuilt and _index_is_current(workspace)
    workspace.refresh()
    assert _files(workspace.target) == _fresh(workspace, tmp_path)
