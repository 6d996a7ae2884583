"""Model validation split across a forked worker gives the same verdict as serial validation."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

import evidencekit.validate as validate
from evidencekit.validate import OutputSet, finish_validation, start_validation
from evidencekit.validate.models import validate_models


def _broken_output(seed_build: Path) -> OutputSet:
    resources = [json.loads(p.read_text()) for p in sorted((seed_build / "resources").glob("*.json"))]
    resources = copy.deepcopy(resources)
    resources[0]["status"] = 17                 # first half
    resources[-1]["date"] = "2026-13-45"        # second half
    resources[-2]["text"] = {"status": "generated"}
    return OutputSet(resources)


def _serial(output: OutputSet) -> list[tuple[str, str, str]]:
    return sorted((d.code, d.fhir_path, d.message) for d in validate_models(output))


def test_parallel_equals_serial(seed_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _broken_output(seed_build)
    monkeypatch.setattr(validate, "PARALLEL_THRESHOLD", 4)
    pending = start_validation(output, ["models"])
    assert pending.worker is not None and 0 < pending.split < len(output.resources)
    parallel = sorted((d.code, d.fhir_path, d.message) for d in finish_validation(pending))
    assert parallel == _serial(output)
    assert len({p for _, p, _ in parallel}) >= 3


def _dying_worker(output: OutputSet, split: int, conn: object, layers: list[str]) -> None:
    os._exit(3)


def test_dead_worker_is_redone_not_reported_valid(seed_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = _broken_output(seed_build)
    monkeypatch.setattr(validate, "PARALLEL_THRESHOLD", 4)
    monkeypatch.setattr(validate, "_worker", _dying_worker)
    parallel = sorted((d.code, d.fhir_path, d.message) for d in validate.validate_output(output, ["models"]))
    assert parallel == _serial(output)
