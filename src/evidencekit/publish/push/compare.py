"""Whether a server's copy holds the same content as ours."""

from __future__ import annotations

from typing import Any

from .model import Json

__all__ = ["same_content"]

_IGNORED_META = ("versionId", "lastUpdated", "source")


def _without_narrative(value: Any) -> Any:
    """Drop every Narrative (``text`` objects with a ``div``): servers re-serialize XHTML."""
    if isinstance(value, dict):
        return {k: _without_narrative(v) for k, v in value.items()
                if not (k == "text" and isinstance(v, dict) and "div" in v)}
    if isinstance(value, list):
        return [_without_narrative(v) for v in value]
    return value


def _normalized(resource: Json) -> Json:
    clean = _without_narrative(resource)
    meta = {k: v for k, v in (clean.get("meta") or {}).items() if k not in _IGNORED_META}
    if meta:
        clean["meta"] = meta
    else:
        clean.pop("meta", None)
    return clean


def same_content(ours: Json, theirs: Json) -> bool:
    """Equal apart from server-managed meta and the narrative (decimals compared by value)."""
    return _normalized(ours) == _normalized(theirs)
