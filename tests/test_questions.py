"""Question definitions (`kind: question`): loaded beside the studies, checked against them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS, ROOT
from evidencekit.cli import main

QUESTION = ROOT / "tests" / "fixtures" / "questions" / "ivig-refractory-cdm.yaml"


def _directory(tmp_path: Path, text: str | None = None) -> Path:
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, directory)
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
    # its SNOMED CT concept is corroborated, not verified: reported for questions as for studies
    assert {d["code"] for d in found} == {"EK302"}


EDITS = [
    ("unknown result", "result: cdasi-difference", "result: cdasi-diff", "EK230", "result: cdasi-diff"),
    ("unknown study", "study: bounfour-2014", "study: bounfour-2015", "EK230", "study: bounfour-2015"),
    ("mean difference pooled with proportions", "      method: narrative\n", "      method: meta-analysis\n",
     "EK231", "result: improvement-overall"),
    ("certainty rated down without a reason", "          reason: One trial of 88 analysed patients.\n", "",
     "EK232", "rating: certainty-rating:serious-concern"),
    ("unknown code", "rating: certainty-rating:low", "rating: certainty-rating:lowish", "EK301",
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


def test_outcome_without_result_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    text = QUESTION.read_text() + "  - id: mortality\n    title: Death\n    importance: critical\n"
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
