"""Wait until the server searches by the SearchParameters just written.

A server indexes a resource by the search parameters it knows when the resource is written;
HAPI, for one, takes a new SearchParameter into use only when its registry next refreshes.
So push writes its SearchParameters first and asks, for each, ``GET Base?code=…&_count=1``
until the server answers 200 and echoes the parameter in its ``self`` link (an unknown
parameter is a 400, or is dropped from the link by a lenient server).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote, unquote

from ...searchset import self_link
from .http import _Http
from .model import Json, ServerRejected

__all__ = ["await_search_parameters"]


def _probe_path(parameter: Json, base: str) -> str:
    """A search by the parameter that matches nothing: a value of its type that no resource holds."""
    value = "evidencekit-probe"
    targets = parameter.get("target") or []
    if parameter.get("type") == "reference" and targets:
        value = f"{targets[0]}/{value}"
    elif parameter.get("type") == "uri":
        value = "urn:evidencekit:probe"
    return f"{base}?{quote(str(parameter['code']))}={quote(value)}&_count=1&_elements=id"


def _active(http: _Http, parameter: Json, base: str) -> bool:
    response = http.request("GET", _probe_path(parameter, base))
    if response.status_code != 200:
        return False
    link = self_link(http.json(response, f"GET {base}?{parameter['code']}")) or ""
    return f"{parameter['code']}=" in unquote(link)


def await_search_parameters(http: _Http, parameters: list[Json], timeout: float,
                            advance: Callable[[int], None], poll: float = 1.0) -> float:
    """Seconds until every (parameter, base) is searchable; :class:`ServerRejected` after ``timeout``."""
    started = time.monotonic()
    waiting = [(p, str(b)) for p in parameters for b in p.get("base", [])]
    while True:
        active = [(p, b) for p, b in waiting if _active(http, p, b)]
        advance(len(active))
        waiting = [pair for pair in waiting if pair not in active]
        if not waiting:
            break
        if time.monotonic() - started > timeout:
            names = ", ".join(f"{b}?{p['code']}" for p, b in waiting)
            raise ServerRejected(f"the server does not search by {names} {timeout:.0f} s after the SearchParameters "
                                 "were written, so the data would not be indexed by them; rerun push when the "
                                 "server has taken them into use (or push with --no-search-parameters and "
                                 "reindex later)")
        time.sleep(poll)
    return time.monotonic() - started
