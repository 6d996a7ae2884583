"""ValueSet membership for the rules: the knowledge's own ValueSets, widened by expansions.

A compiled ValueSet lists what the evidence names (ingredients, diagnoses). EHRs order products
(RxNorm SCD/SBD, local formulary codes), so a site supplies *expansions*: ValueSets with the same
canonical ``url`` whose ``expansion.contains`` lists every code that counts, read from a file
(``serve --expansions``, a Bundle or one ValueSet, as ``$expand`` returns it) or fetched once at
start-up from a terminology server (``serve --terminology-server``: ``ValueSet/$expand?url=``).
A code is in a ValueSet when its compose includes it (a concept, an ``is-a`` filter on its root, an
included ValueSet) or an expansion of that ValueSet, or of a ValueSet it includes, lists it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

Json = dict[str, Any]

__all__ = ["ExpansionError", "ValueSets", "expand_from_server", "read_expansions", "MAX_EXPANSION_CODES"]

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
#: codes one expansion may list, and bytes an expansion file or response may hold
MAX_EXPANSION_CODES = 200_000
MAX_EXPANSION_BYTES = 64 * 1024 * 1024
_MAX_DEPTH = 16  # nesting of included ValueSets and of expansion.contains


class ExpansionError(Exception):
    """An expansion file or terminology server answer that cannot be used."""


def _entries(items: Any, depth: int = 0) -> Iterator[Json]:
    if depth > _MAX_DEPTH:
        raise ExpansionError(f"expansion.contains is nested more than {_MAX_DEPTH} levels")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            yield item
            yield from _entries(item.get("contains"), depth + 1)


def expansion_codes(value_set: Json, where: str) -> frozenset[tuple[str, str]]:
    """The (system, code) pairs an expanded ValueSet lists (abstract and inactive entries left out)."""
    expansion = value_set.get("expansion")
    if not isinstance(expansion, dict):
        raise ExpansionError(f"{where}: ValueSet {value_set.get('url')!r} has no expansion")
    entries = []
    for entry in _entries(expansion.get("contains")):
        entries.append(entry)
        if len(entries) > MAX_EXPANSION_CODES:
            raise ExpansionError(f"{where}: more than {MAX_EXPANSION_CODES:,} codes in the expansion of "
                                 f"{value_set.get('url')!r}")
    total = expansion.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total > len(entries):
        # a paged expansion: using part of it would silently miss codes
        raise ExpansionError(f"{where}: the expansion of {value_set.get('url')!r} is partial "
                             f"({len(entries)} of {total} codes); give the whole expansion")
    return frozenset((e["system"], e["code"]) for e in entries
                     if isinstance(e.get("system"), str) and isinstance(e.get("code"), str)
                     and e.get("abstract") is not True and e.get("inactive") is not True)


def _value_sets_in(data: Any, where: str) -> list[Json]:
    if isinstance(data, dict) and data.get("resourceType") == "ValueSet":
        return [data]
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        found = [e.get("resource") for e in data.get("entry") or [] if isinstance(e, dict)]
        return [r for r in found if isinstance(r, dict) and r.get("resourceType") == "ValueSet"]
    raise ExpansionError(f"{where}: expected a ValueSet or a Bundle of ValueSets")


def _by_url(value_sets: Iterable[Json], where: str) -> dict[str, frozenset[tuple[str, str]]]:
    out: dict[str, frozenset[tuple[str, str]]] = {}
    for vs in value_sets:
        url = vs.get("url")
        if not isinstance(url, str):
            raise ExpansionError(f"{where}: a ValueSet without a url")
        out[url] = out.get(url, frozenset()) | expansion_codes(vs, where)
    return out


def read_expansions(path: Path) -> dict[str, frozenset[tuple[str, str]]]:
    """Expansions by ValueSet url from a JSON file (one expanded ValueSet, or a Bundle of them)."""
    try:
        if path.stat().st_size > MAX_EXPANSION_BYTES:
            raise ExpansionError(f"{path}: larger than {MAX_EXPANSION_BYTES // (1024 * 1024)} MiB")
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ExpansionError(f"{path}: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise ExpansionError(f"{path}: not JSON ({exc})") from exc
    return _by_url(_value_sets_in(data, str(path)), str(path))


def _declined(body: bytes) -> str | None:
    """The first issue of an OperationOutcome answer, or None if the body is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("resourceType") != "OperationOutcome":
        return None
    issues = data.get("issue")
    first = issues[0] if isinstance(issues, list) and issues and isinstance(issues[0], dict) else {}
    details = first.get("details") if isinstance(first.get("details"), dict) else {}
    text = first.get("diagnostics") or details.get("text") or "no diagnostics"
    return "".join(ch if ch.isprintable() else " " for ch in str(text)[:300])


def expand_from_server(base: str, value_sets: Iterable[Json], *, timeout: float = 30.0,
                       transport: Any = None) -> tuple[dict[str, frozenset[tuple[str, str]]], list[str]]:
    """Ask a terminology server for its expansion of each ValueSet (``$expand?url=&valueSetVersion=``).

    Returns the expansions and, for each ValueSet the server declined with an OperationOutcome (it
    lacks the code system of an ``is-a`` filter, say; HAPI answers 500 for that), a warning: that
    ValueSet is matched by its compose alone. A server that cannot be reached or answers anything
    else than a whole expansion or an OperationOutcome stops the start: matching silently without
    it would miss the site's codes."""
    import httpx

    out: dict[str, frozenset[tuple[str, str]]] = {}
    declined: list[str] = []
    base = base.rstrip("/")
    with httpx.Client(timeout=timeout, transport=transport, headers={"Accept": "application/fhir+json"},
                      follow_redirects=False) as client:
        for vs in value_sets:
            params = {"url": vs["url"]}
            if isinstance(vs.get("version"), str):
                params["valueSetVersion"] = vs["version"]
            where = f"{base}/ValueSet/$expand?url={vs['url']}"
            try:
                with client.stream("GET", f"{base}/ValueSet/$expand", params=params) as response:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_EXPANSION_BYTES:
                            raise ExpansionError(f"{where}: answer larger than "
                                                 f"{MAX_EXPANSION_BYTES // (1024 * 1024)} MiB")
            except httpx.HTTPError as exc:
                raise ExpansionError(f"{where}: {type(exc).__name__}: {exc}") from exc
            why = _declined(body) if response.status_code >= 400 else None
            if why is not None:
                declined.append(f"{vs['url']}: HTTP {response.status_code}: {why}")
                continue
            if response.status_code != 200:
                raise ExpansionError(f"{where}: HTTP {response.status_code}")
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ExpansionError(f"{where}: not JSON") from exc
            found = _value_sets_in(data, where)
            if len(found) != 1:
                raise ExpansionError(f"{where}: expected one expanded ValueSet")
            out[vs["url"]] = expansion_codes(found[0], where)
    return out, declined


@dataclass
class ValueSets:
    """Membership in the knowledge's ValueSets (by canonical url), with the site's expansions."""

    by_url: dict[str, Json]
    expansions: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    #: ValueSets a terminology server declined to expand, and why (matched by their compose)
    declined: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._codes: dict[str, frozenset[tuple[str, str]]] = {}
        self._roots: dict[str, list[tuple[str, str]]] = {}
        for url in self.by_url:
            self._resolve(url, ())

    def _resolve(self, url: str, seen: tuple[str, ...]) -> None:
        if url in self._codes:
            return
        if url in seen or len(seen) > _MAX_DEPTH:
            raise ValueError(f"ValueSet {url} includes itself or nests too deep ({' -> '.join(seen + (url,))})")
        vs = self.by_url.get(url)
        if vs is None:
            raise ValueError(f"ValueSet {url} is included but not in this output")
        codes: set[tuple[str, str]] = set(self.expansions.get(url, ()))
        roots: list[tuple[str, str]] = []
        for include in vs.get("compose", {}).get("include", []):
            system = include.get("system")
            for c in include.get("concept", []):
                codes.add((system, c.get("code")))
            for f in include.get("filter", []):
                if f.get("op") == "is-a":
                    roots.append((system, str(f.get("value"))))
            for inner in include.get("valueSet", []):
                self._resolve(inner, seen + (url,))
                codes |= self._codes[inner]
                roots += self._roots[inner]
        self._codes[url], self._roots[url] = frozenset(codes), roots

    def urls(self) -> list[str]:
        return list(self.by_url)

    def contains(self, url: str, coding: Any) -> bool:
        """Whether a Coding (a dict with system and code) is in the ValueSet ``url``."""
        if not isinstance(coding, dict):
            return False
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(code, str) or url not in self._codes:
            return False
        if (system, code) in self._codes[url]:
            return True
        # is-a: ICD-10-CM codes extend their parent's code; other systems need a terminology
        # server (an expansion), so offline only the root code itself matches.
        return any(system == root_system and (code == root or (system == ICD10CM and code.startswith(root)))
                   for root_system, root in self._roots[url])

    def member_of(self, inputs: list[Any], url: Any) -> list[bool]:
        """FHIRPath ``memberOf(url)`` on a Coding or CodeableConcept (empty input gives empty)."""
        if not inputs:
            return []
        if len(inputs) > 1 or not isinstance(url, str):
            raise ValueError("memberOf() takes one Coding or CodeableConcept and a ValueSet url")
        item = inputs[0]
        if not isinstance(item, dict):
            return [False]
        codings = item.get("coding") if isinstance(item.get("coding"), list) else [item]
        return [any(self.contains(url, c) for c in codings)]
