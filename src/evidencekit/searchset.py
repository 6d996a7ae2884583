"""Paging through FHIR search results, shared by ``push`` and ``serve``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["link_url", "next_link", "on_base", "self_link"]


def link_url(bundle: Mapping[str, Any], relation: str) -> str | None:
    """The URL of a Bundle's link with this relation (``next``, ``self``), or None."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == relation and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of a Bundle's ``next`` link, or None on the last page."""
    return link_url(bundle, "next")


def self_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of a Bundle's ``self`` link: the search as the server understood it."""
    return link_url(bundle, "self")


def on_base(url: str, base: str) -> bool:
    """Whether ``url`` is on the server ``base`` (so a token sent with it stays with that server)."""
    base = base.rstrip("/")
    return url.startswith((base + "/", base + "?"))
