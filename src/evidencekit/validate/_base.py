"""The output being validated, and how a diagnostic finds its location."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..diagnostics import Diagnostic, Severity

__all__ = ["Layer", "OutputSet", "reference_strings"]

Json = dict[str, Any]


@dataclass
class OutputSet:
    """Resources and bundles to validate; ``where`` maps 'Type/id' to (file, line, col)."""

    resources: list[Json]
    bundles: dict[str, Json] = field(default_factory=dict)
    where: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    bundle_files: dict[str, str] = field(default_factory=dict)
    #: findings of the R5-table walk per resource index, shared by its layers (see spec.py)
    spec_findings: dict[int, list[Any]] = field(default_factory=dict, repr=False)
    #: the rest of the output, not validated here: references and profiles resolve to it
    #: (``build --watch`` validates only what a change rebuilt)
    context: list[Json] = field(default_factory=list, repr=False)

    def diag(self, key: str, code: str, message: str, fhir_path: str = "", *,
             severity: Severity = Severity.ERROR, hint: str = "") -> Diagnostic:
        file, line, column = self.where.get(key, (self.bundle_files.get(key, key), 0, 0))
        return Diagnostic(file, line, column, code, severity, message, fhir_path, hint)


Layer = Callable[[OutputSet], Iterator[Diagnostic]]


def key_of(resource: Json) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def reference_strings(value: Any) -> Iterator[str]:
    """Every ``Reference.reference`` string anywhere below ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                yield ref
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
