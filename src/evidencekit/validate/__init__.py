"""Validation of the output: a list of pluggable layers, each yielding diagnostics."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ._base import Layer, OutputSet
from .models import validate_models
from .profiles import validate_profiles
from .references import validate_references

__all__ = ["LAYERS", "OutputSet", "validate_output"]

#: name -> layer, run in this order. Later issues add bindings, invariants and the HL7 validator.
LAYERS: dict[str, Layer] = {
    "models": validate_models,
    "references": validate_references,
    "profiles": validate_profiles,
}


def validate_output(output: OutputSet, layers: list[str] | None = None) -> list[Diagnostic]:
    """Run the named layers (default: all) over an output set."""
    out: list[Diagnostic] = []
    for name in layers or list(LAYERS):
        out.extend(LAYERS[name](output))
    return out
