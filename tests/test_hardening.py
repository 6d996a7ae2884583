"""Hardening from hostile testing of the definitions (issue 15): each reproducer gets a located
diagnostic and exit 1, with no traceback and the previous output untouched."""

from __future__ import annotations

import json

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS
from evidencekit.cli import main

SEED = "galimberti-2018-ivig-cutaneous-dm.yaml"

REPRODUCERS = [
    # (name, find, replace, code, text on the located line)
    ("population size 0", "  n:\n    value: 42\n", "  n:\n    value: 0\n", "EK103", "value: 0"),
    ("a value with 30 decimals", "    value: 83\n", "    value: 83.000000000000000000000000000001\n", "EK104",
     "83.000000000000000000000000000001"),
    ("a NUL byte in a source path", "    path: sources/galimberti-2018-news-summary.txt\n",
     '    path: "sources/galimberti\\0.txt"\n', "EK012", "path:"),
    ("a raw control character (libyaml's reader failed: an internal error in every command)",
     "title: IVIG for", "title: IVIG\x07 for", "EK012", "title: IVIG"),
    ("a proportion with no value", "    statistic: proportion\n    value: 83\n", "    statistic: proportion\n",
     "EK104", "- id: improvement-overall"),
    ("a population of 1,000,000,000", "  n:\n    value: 42\n", "  n:\n    value: 1000000000\n", "EK103",
     "value: 1000000000"),
]


def _seed_only(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS / "sources", directory / "sources")
    (directory / SEED).write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize("case", REPRODUCERS, ids=[c[0] for c in REPRODUCERS])
def test_reproducer_is_a_located_error(case: tuple[str, str, str, str, str], tmp_path: Path) -> None:
    _, find, replace, code, on_line = case
    text = (DEFINITIONS / SEED).read_text(encoding="utf-8")
    assert text.count(find) >= 1, find
    directory = _seed_only(tmp_path, text.replace(find, replace, 1))
    out = tmp_path / "out"
    (out / "r5").mkdir(parents=True)
    (out / "r5" / "previous.json").write_text("{}")  # a previous build: must stay as it is
    result = CliRunner().invoke(main, ["build", str(directory), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    first = result.output.splitlines()[0]
    assert f" {code} " in first, first
    line = int(first.split(":")[1])
    assert on_line in (directory / SEED).read_text(encoding="utf-8").splitlines()[line - 1], first
    assert [p.name for p in (out / "r5").iterdir()] == ["previous.json"]
    assert "\x00" not in result.output  # control characters are shown escaped


@pytest.mark.parametrize(("command", "where"), [("check", "definition"), ("build", "definition"),
                                               ("build", "settings")])  # check reads no settings file
def test_a_control_character_is_located_in_every_command(command: str, where: str, tmp_path: Path) -> None:
    """The character in a definition (EK012, exit 1) or in evidencekit.yaml (EK502, exit 2 as every invalid
    settings file): line and column, never an internal error."""
    text = (DEFINITIONS / SEED).read_text(encoding="utf-8")
    directory = _seed_only(tmp_path, text if where == "settings" else text.replace("date:", "\x1bdate:", 1))
    if where == "settings":
        (directory / "evidencekit.yaml").write_text("version: 0.1.0\npublisher: evi\x00dencekit\n")
    args = [command, str(directory)] + (["-o", str(tmp_path / "out")] if command == "build" else [])
    result = subprocess.run([str(Path(sys.executable).with_name("evidencekit")), *args], capture_output=True, text=True)
    assert result.returncode == (1 if where == "definition" else 2), result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    code, file, line = ("EK012", SEED, text.splitlines().index(next(ln for ln in text.splitlines()
                        if ln.startswith("date:"))) + 1) if where == "definition" else ("EK502", "evidencekit.yaml", 2)
    assert f"{file}:{line}:" in result.stdout + result.stderr and code in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_nesting_a_million_levels_deep_is_refused_before_parsing(shape: str, tmp_path: Path) -> None:
    """libyaml's composer recursed per level and crashed the process (exit 139) at a million levels in a
    2 MB file; the depth is now measured from the token stream first. Run in a child process, so a crash
    would be seen as one."""
    directory = tmp_path / "definitions"
    directory.mkdir()
    if shape == "flow":
        body = "id: deep\nvalue: " + "[" * 1_000_000 + "]" * 1_000_000 + "\n"
    else:
        body = "id: deep\n" + "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n"
    (directory / "deep.yaml").write_text(body, encoding="utf-8")
    exe = Path(sys.executable).parent / "evidencekit"
    result = subprocess.run([str(exe), "check", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr[-500:])
    assert "EK002 nesting deeper than 64 levels" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_largest_allowed_population_is_checked_in_bounded_time(tmp_path: Path) -> None:
    """GRIM for a mean with an unknown denominator looped over every N up to the population size
    (a build with N = 1,000,000,000 never finished). At the largest N allowed it is bounded by the
    mean's precision; the child process must finish (a hang fails by the timeout, not by a time measurement)."""
    text = (DEFINITIONS / SEED).read_text(encoding="utf-8").replace("  n:\n    value: 42\n",
                                                                     "  n:\n    value: 10000000\n", 1)
    directory = _seed_only(tmp_path, text)
    exe = Path(sys.executable).parent / "evidencekit"
    result = subprocess.run([str(exe), "check", "--show-info", str(directory)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode in (0, 1), result.stderr[-500:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "every N from" in result.stdout  # the unknown-denominator mean: the untestable Ns are summarised
    # a mean with 10 decimals (the most a number may have): the search for its unknown N stops at 10,000
    # (it went on to N = 10,000,000, about 200 s), and the message stays short
    precise = text.replace("    value: 1.82\n", "    value: 1.8200000001\n", 1)
    assert precise != text
    directory = _seed_only(tmp_path / "precise", precise)
    result = subprocess.run([str(exe), "check", "--show-info", "--format", "json", str(directory)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr[-500:]
    message = next(d["message"] for d in json.loads(result.stdout) if "cycles-to-improvement" in d["message"]
                   and d["code"] == "EK208" and "not searched" in d["message"])
    assert "N from 10001 to 10000000 not searched" in message and len(message) < 600
