"""Read built output (a directory or a bundle) as the resources to push."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from .model import Json, PushError

__all__ = ["load_resources", "load_search_parameters"]


def _read(path: Path) -> Json:
    """One FHIR JSON file (decimals as written); :class:`PushError` for anything else."""
    try:
        data = json.loads(path.read_bytes(), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise PushError(f"{path}: not readable FHIR JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise PushError(f"{path}: not a FHIR resource")
    return data


def load_resources(output: Path) -> list[Json]:
    """The resources of ``output`` (``output/``, ``output/r5`` or a transaction/collection bundle).

    Raises :class:`PushError` for a file that is not JSON or holds no resources.
    """
    if output.is_dir() and (output / "r5").is_dir():
        output = output / "r5"
    files = [output] if output.is_file() else sorted((output / "resources").glob("*.json"))
    if not files:
        raise PushError(f"no resources found in {output} (run `evidencekit build` first)")
    loaded = [_read(path) for path in files]
    if output.is_file():
        entries = loaded[0].get("entry", []) if loaded[0]["resourceType"] == "Bundle" else [{"resource": loaded[0]}]
        loaded = [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return loaded


def load_search_parameters(output: Path) -> list[Json]:
    """The SearchParameters a built output ships (``definitions/SearchParameter-*.json``), which push
    sends before the data; none for a bundle file (it holds the knowledge only)."""
    if output.is_dir() and (output / "r5").is_dir():
        output = output / "r5"
    if not output.is_dir():
        return []
    loaded = []
    for path in sorted((output / "definitions").glob("SearchParameter-*.json")):
        data = _read(path)
        if data["resourceType"] != "SearchParameter" or not isinstance(data.get("code"), str) \
                or not isinstance(data.get("base"), list):
            raise PushError(f"{path}: not a SearchParameter with a code and a base")
        loaded.append(data)
    return loaded
