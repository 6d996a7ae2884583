"""Paging through FHIR search results, shared by ``push`` and ``serve``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["next_link", "on_base"]


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of a Bundle's ``next`` link, or None on the last page."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def on_base(url: str, base: str) -> bool:
    """Whether ``url`` is on the server ``base`` (so a token sent with it stays with that server)."""
    base = base.rstrip("/")
    return url.startswith((base + "/", base + "?"))
