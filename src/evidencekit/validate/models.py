"""Layer 1: every resource and bundle against the fhir.resources R5 models."""

from __future__ import annotations

from typing import Any, Iterator

from fhir.resources import get_fhir_model_class
from pydantic import ValidationError

from ..diagnostics import Diagnostic
from ._base import Json, OutputSet, key_of

__all__ = ["validate_models"]


def _fhir_path(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and not part.endswith("__ext") and part != "resourceType":
            path += f".{part}"
    return path


def _model(resource: Json) -> Any:
    return get_fhir_model_class(str(resource.get("resourceType")))


def validate_models(output: OutputSet) -> Iterator[Diagnostic]:
    """Parse each resource into its R5 model; report every pydantic error with its FHIR path."""
    validated: dict[int, Any] = {}
    known = {id(r) for r in output.resources}
    for resource in output.resources:
        rtype = resource.get("resourceType")
        try:
            model = _model(resource)
        except (KeyError, ValueError):
            yield output.diag(key_of(resource), "EK401", f"unknown resourceType '{rtype}'", str(rtype))
            continue
        try:
            validated[id(resource)] = model.model_validate(resource)
        except ValidationError as exc:
            for err in exc.errors():
                yield output.diag(key_of(resource), "EK401", f"{key_of(resource)}: {err['msg']}",
                                  _fhir_path(str(rtype), tuple(err["loc"])))
    for name, bundle in output.bundles.items():
        # Entries already validated above are passed as model instances (not re-validated),
        # so this checks the Bundle's own structure at little cost.
        shell = dict(bundle)
        entries = []
        for entry in bundle.get("entry", []):
            entry = dict(entry)
            resource = entry.get("resource")
            if isinstance(resource, dict) and id(resource) in validated:
                entry["resource"] = validated[id(resource)]
            elif isinstance(resource, dict) and id(resource) in known:
                del entry["resource"]  # already reported against the resource itself
            entries.append(entry)
        if entries:
            shell["entry"] = entries
        try:
            get_fhir_model_class("Bundle").model_validate(shell)
        except ValidationError as exc:
            for err in exc.errors():
                yield output.diag(name, "EK401", f"bundle {name}: {err['msg']}",
                                  _fhir_path("Bundle", tuple(err["loc"])))
