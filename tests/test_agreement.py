"""`evidencekit validate` agrees with the HL7 validator on >= 600 mutants (recall guarded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agreement import measure, recall
from conftest import ROOT

BASELINE = json.loads((ROOT / "tests" / "fixtures" / "agreement-baseline.json").read_text())


@pytest.fixture(scope="module")
def result(seed_build: Path, oracle: Any) -> dict[str, Any]:
    return measure(seed_build, oracle)


def test_enough_mutants_in_every_category(result: dict[str, Any]) -> None:
    assert result["total"]["mutants"] >= BASELINE["min_mutants"]
    assert all(row["mutants"] >= 8 for row in result["categories"].values())


def test_no_false_positives_on_valid_resources(result: dict[str, Any], seed_build: Path) -> None:
    assert result["valid_resources"] == len(list((seed_build / "resources").glob("*.json")))
    assert result["false_positives"] == []


def test_recall_does_not_drop(result: dict[str, Any]) -> None:
    rows = {**result["categories"], "all": result["total"]}
    for category, minimum in BASELINE["recall"].items():
        got = recall(rows[category])
        assert got is not None and got >= minimum, (category, got, minimum)


def test_every_disagreement_is_explained(result: dict[str, Any]) -> None:
    for item in result["disagreements"]:
        assert item["ours"], f"the HL7 validator rejects what we accept: {item}"
        assert item["category"] in BASELINE["explained_ours_only"], item
    # the explained cases are exactly these shapes
    for item in result["disagreements"]:
        if item["category"] == "empty-array":
            assert item["mutant"] == "empty meta.profile", item
        # (an "invariant" case, Composition.subject and IG-fixed codings, was ours only while the oracle had
        # profile stand-ins; the real IG profiles reject those mutants too, so it is no longer explained)
