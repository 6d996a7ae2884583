"""The output being validated, and how a diagnostic finds its location."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from ..diagnostics import Diagnostic, Severity

__all__ = ["Layer", "OutputSet", "ResourceIndex", "canonical_of", "key_of", "reference_strings"]

Json = dict[str, Any]

_ARTIFACT_URL = "http://hl7.org/fhir/StructureDefinition/artifact-url"


def key_of(resource: Json) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def canonical_of(resource: Json) -> str | None:
    """The resource's canonical URL: ``url``, or the artifact-url extension of a resource without one."""
    if isinstance(resource.get("url"), str):
        return str(resource["url"])
    for ext in resource.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") == _ARTIFACT_URL:
            return ext.get("valueUri")
    return None


def canonical_base(canonical: str) -> str | None:
    """``http://x/fhir/Evidence/a`` -> ``http://x/fhir`` (None for a URL too short to have one)."""
    return canonical.rsplit("/", 2)[0] if canonical.count("/") >= 3 else None


@dataclass
class ResourceIndex:
    """What references and profiles need to know of resources that are not validated themselves:
    'Type/id' -> resource, how often each key and canonical occurs, and the canonical bases. Kept
    up to date as resources come and go, so ``build --watch`` does not re-index 50,000 resources
    for each change."""

    by_key: dict[str, Json] = field(default_factory=dict)
    keys: Counter[str] = field(default_factory=Counter)
    canonicals: Counter[str] = field(default_factory=Counter)
    bases: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, resources: Iterable[Json]) -> "ResourceIndex":
        index = cls()
        index.add(resources)
        return index

    def add(self, resources: Iterable[Json]) -> None:
        for resource in resources:
            key = key_of(resource)
            self.by_key[key] = resource
            self.keys[key] += 1
            canonical = canonical_of(resource)
            if canonical:
                self.canonicals[canonical] += 1
                base = canonical_base(canonical)
                if base is not None:
                    self.bases[base] += 1

    def remove(self, resources: Iterable[Json]) -> None:
        """Forget resources added before (each exactly once)."""
        for resource in resources:
            key = key_of(resource)
            self.keys[key] -= 1
            if self.keys[key] <= 0:
                del self.keys[key]
                self.by_key.pop(key, None)
            canonical = canonical_of(resource)
            if canonical:
                self.canonicals[canonical] -= 1
                if self.canonicals[canonical] <= 0:
                    del self.canonicals[canonical]
                base = canonical_base(canonical)
                if base is not None:
                    self.bases[base] -= 1
                    if self.bases[base] <= 0:
                        del self.bases[base]


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
    context: ResourceIndex = field(default_factory=ResourceIndex, repr=False)

    def diag(self, key: str, code: str, message: str, fhir_path: str = "", *,
             severity: Severity = Severity.ERROR, hint: str = "") -> Diagnostic:
        file, line, column = self.where.get(key, (self.bundle_files.get(key, key), 0, 0))
        return Diagnostic(file, line, column, code, severity, message, fhir_path, hint)


Layer = Callable[[OutputSet], Iterator[Diagnostic]]


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
