"""Validation of the output: a list of pluggable layers, each yielding diagnostics."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from dataclasses import dataclass

from ..diagnostics import Diagnostic
from ._base import Layer, OutputSet, ResourceIndex
from .models import validate_bundles, validate_models, validate_resources
from .profiles import validate_profiles
from .references import validate_references
from .spec import (
    skipped_invariants,
    validate_bindings,
    validate_cardinality,
    validate_invariants,
    validate_primitives,
    validate_structure,
    validate_target_types,
)

__all__ = ["LAYERS", "OutputSet", "ResourceIndex", "finish_validation", "skipped_invariants", "start_validation",
           "validate_output"]

#: name -> layer, run in this order.
LAYERS: dict[str, Layer] = {
    "models": validate_models,
    "structure": validate_structure,
    "primitives": validate_primitives,
    "cardinality": validate_cardinality,
    "bindings": validate_bindings,
    "invariants": validate_invariants,
    "target-types": validate_target_types,
    "references": validate_references,
    "profiles": validate_profiles,
}
#: The per-resource part of layers (output, start, stop): split between processes for big outputs.
PER_RESOURCE = {
    "models": validate_resources,
    "structure": validate_structure,
    "primitives": validate_primitives,
    "target-types": validate_target_types,
    "cardinality": validate_cardinality,
    "bindings": validate_bindings,
    "invariants": validate_invariants,
}

#: Below this many resources a worker process costs more than it saves.
PARALLEL_THRESHOLD = 2000


@dataclass
class PendingValidation:
    output: OutputSet
    layers: list[str]
    split: int  # resources[split:] are model-validated by the worker
    worker: multiprocessing.process.BaseProcess | None = None
    reader: object | None = None


def _worker(output: OutputSet, split: int, conn: object, layers: list[str]) -> None:
    diagnostics = [d for name in layers if name in PER_RESOURCE for d in PER_RESOURCE[name](output, split)]
    conn.send_bytes(pickle.dumps(diagnostics))  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


def start_validation(output: OutputSet, layers: list[str] | None = None) -> PendingValidation:
    """Begin validating; with many resources, half of the model validation runs in a forked worker.

    Call it before starting threads (fork copies only the calling thread).
    """
    names = layers or list(LAYERS)
    pending = PendingValidation(output, names, len(output.resources))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if (any(n in PER_RESOURCE for n in names) and cores > 1 and len(output.resources) >= PARALLEL_THRESHOLD
            and "fork" in multiprocessing.get_all_start_methods()):
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        pending.split = len(output.resources) // 2
        pending.worker = context.Process(target=_worker, args=(output, pending.split, writer, names),
                                         daemon=True)
        pending.worker.start()
        writer.close()
        pending.reader = reader
    return pending


def finish_validation(pending: PendingValidation) -> list[Diagnostic]:
    """Run the remaining layers here, then collect the worker's results (or redo its share)."""
    output = pending.output
    out: list[Diagnostic] = []
    for name in pending.layers:
        if name in PER_RESOURCE:
            out.extend(PER_RESOURCE[name](output, 0, pending.split))
        if name == "models":
            out.extend(validate_bundles(output))
        elif name not in PER_RESOURCE:
            out.extend(LAYERS[name](output))
    out.extend(_collect(pending))
    return out


def _collect(pending: PendingValidation) -> list[Diagnostic]:
    if pending.worker is None:
        return []
    try:
        data = pending.reader.recv_bytes()  # type: ignore[attr-defined]
        diagnostics: list[Diagnostic] = pickle.loads(data)
    except (EOFError, OSError, pickle.UnpicklingError):  # the worker died: redo its share here
        diagnostics = [d for name in pending.layers if name in PER_RESOURCE
                       for d in PER_RESOURCE[name](pending.output, pending.split)]
    finally:
        pending.reader.close()  # type: ignore[attr-defined]
        pending.worker.join()
    return diagnostics


def validate_output(output: OutputSet, layers: list[str] | None = None) -> list[Diagnostic]:
    """Run the named layers (default: all) over an output set."""
    return finish_validation(start_validation(output, layers))
