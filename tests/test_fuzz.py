"""Property-based fuzzing of load -> check -> compile -> validate -> write (issue 15).

Hypothesis mutates the seed definition (a value anywhere replaced by a hostile one, a field
removed, a list emptied) and builds it through the CLI. The property: exit 0 (built) or 1
(a located input error), never 2 (an internal error) or a traceback; on exit 1 the previous
output is untouched. Bounded: ``FUZZ_EXAMPLES`` examples (CI finishes it in well under 3
minutes). The crashers found by hostile testing are replayed first
(``tests/fixtures/fuzz-crashers.json``): each must stay a clean exit 1.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DEFINITIONS, ROOT
from evidencekit.cli import main

SEED = "galimberti-2018-ivig-cutaneous-dm.yaml"
BASE = yaml.safe_load((DEFINITIONS / SEED).read_text(encoding="utf-8"))
CRASHERS = json.loads((ROOT / "tests" / "fixtures" / "fuzz-crashers.json").read_text(encoding="utf-8"))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, path + (i,))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _apply(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = json.loads(json.dumps(data))  # a deep copy
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "empty":
        parent[last] = [] if isinstance(parent[last], list) else {}
    else:
        parent[last] = value
    return data


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
HOSTILE = st.one_of(
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.sampled_from([0, -1, 1, 10 ** 9, 10 ** 12, 2 ** 63, 0.5, 1e308]),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "83.000000000000000000000000000001", "<script>", "NaN",
                     "2018-02-30", "sct:396230008", "not estimable", "<0.001", "99999999999999999999"]),
    st.none(), st.booleans(),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.sampled_from(["id", "value", "kind", "x"]), st.integers(), max_size=2),
)


def _build(tmp: Path, data: Any) -> None:
    directory = tmp / "definitions"
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(DEFINITIONS / "sources", directory / "sources")
    (directory / SEED).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    (out / "r5").mkdir(parents=True)
    (out / "r5" / "previous.json").write_text("{}")
    result = CliRunner().invoke(main, ["build", str(directory), "-o", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1), result.output[-2000:]
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output[-2000:]
    if result.exit_code == 1:
        assert [p.name for p in (out / "r5").iterdir()] == ["previous.json"]  # untouched
        first = result.output.splitlines()[0]
        assert " error EK" in first or "EK" in result.output, result.output[:500]
    else:
        assert (out / "r5" / "bundle.json").is_file()


@pytest.mark.parametrize("crasher", CRASHERS, ids=[c["name"] for c in CRASHERS])
def test_past_crashers_stay_clean(crasher: dict[str, Any], tmp_path: Path) -> None:
    value = crasher.get("value")
    if crasher.get("float") == "nan":
        value = math.nan
    data = _apply(BASE, tuple(crasher["path"]), crasher.get("action", "set"), value)
    _build(tmp_path, data)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(index=st.integers(min_value=0, max_value=len(PATHS) - 1),
       action=st.sampled_from(["set", "set", "set", "delete", "empty"]), value=HOSTILE)
def test_no_mutant_makes_an_internal_error(tmp_path: Path, index: int, action: str, value: Any) -> None:
    _build(tmp_path, _apply(BASE, PATHS[index], action, value))
