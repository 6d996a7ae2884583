"""Layer 1: every resource and bundle against the fhir.resources R5 models."""

from __future__ import annotations

from typing import Any, Iterator

from fhir.resources import get_fhir_model_class
from pydantic import ValidationError

from ..diagnostics import Diagnostic
from ._base import Json, OutputSet, key_of

__all__ = ["validate_bundles", "validate_models", "validate_resources"]


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


def validate_resources(output: OutputSet, start: int = 0, stop: int | None = None) -> Iterator[Diagnostic]:
    """Model-validate ``output.resources[start:stop]`` (the costly part; may run in a worker)."""
    for resource in output.resources[start:stop]:
        rtype = resource.get("resourceType")
        try:
            model = _model(resource)
        except (KeyError, ValueError):
            yield output.diag(key_of(resource), "EK401", f"unknown resourceType '{rtype}'", str(rtype))
            continue
        try:
            model.model_validate(resource)  # the model itself is not kept: memory stays flat
        except ValidationError as exc:
            for err in exc.errors():
                yield output.diag(key_of(resource), "EK401", f"{key_of(resource)}: {err['msg']}",
                                  _fhir_path(str(rtype), tuple(err["loc"])))


def validate_bundles(output: OutputSet) -> Iterator[Diagnostic]:
    """Bundle structure; entries whose resource is validated on its own are checked without it."""
    listed = {id(r) for r in output.resources}
    for name, bundle in output.bundles.items():
        # Entries whose resource was validated above are checked without it, so each
        # resource is validated once; the Bundle's own structure is still checked.
        shell = dict(bundle)
        entries = [{k: v for k, v in e.items() if k != "resource"}
                   if isinstance(e, dict) and id(e.get("resource")) in listed else e
                   for e in bundle.get("entry", []) or []]
        if entries:
            shell["entry"] = entries
        try:
            get_fhir_model_class("Bundle").model_validate(shell)
        except ValidationError as exc:
            for err in exc.errors():
                yield output.diag(name, "EK401", f"bundle {name}: {err['msg']}",
                                  _fhir_path("Bundle", tuple(err["loc"])))


def validate_models(output: OutputSet) -> Iterator[Diagnostic]:
    """Parse each resource into its R5 model; report every pydantic error with its FHIR path."""
    yield from validate_resources(output)
    yield from validate_bundles(output)
