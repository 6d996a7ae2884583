"""Read what the server holds: the probe, and one batch of searches per chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from ...searchset import next_link, on_base
from .http import _Http, _issues
from .model import Json, PushOptions, ServerRejected
from .plan import _key


def _probe(http: _Http) -> set[str]:
    """Check the server is FHIR 5.0.x; return the resource types it can search by ``url``."""
    response = http.request("GET", "metadata")
    if response.status_code != 200:
        raise ServerRejected(f"GET metadata: HTTP {response.status_code}")
    capability = http.json(response, "GET metadata")
    version = str(capability.get("fhirVersion", ""))
    if capability.get("resourceType") != "CapabilityStatement" or not version.startswith("5.0"):
        raise ServerRejected(f"the server is not a FHIR R5 server (fhirVersion {version or 'missing'})")
    searchable: set[str] = set()
    for rest in capability.get("rest") or []:
        for declared in (rest.get("resource") or []) if isinstance(rest, dict) else []:
            if isinstance(declared, dict) and any(isinstance(p, dict) and p.get("name") == "url"
                                                  for p in declared.get("searchParam") or []):
                searchable.add(str(declared.get("type")))
    return searchable


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_MAX_PAGES = 100  # of one search; a chunk's search never needs more unless the server pages oddly


def _search_value(value: str) -> str:
    """One value of a token/uri search parameter: FHIR-escaped (``\\ , $ |``), then percent-encoded."""
    for char in "\\,$|":
        value = value.replace(char, "\\" + char)
    return quote(value, safe=":/")


def _hits(http: _Http, answer: Json, what: str) -> list[Json]:
    """The resources a batch entry's searchset holds, following ``next`` links on the server's base."""
    status = str((answer.get("response") or {}).get("status", ""))
    bundle = answer.get("resource")
    if not status.startswith("2") or not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ServerRejected(f"{what}: {status or 'no response'}: {'; '.join(_issues(bundle)) or 'no searchset'}")
    hits: list[Json] = []
    for _page in range(_MAX_PAGES):
        hits += [e["resource"] for e in bundle.get("entry") or [] if isinstance(e, dict)
                 and isinstance(e.get("resource"), dict) and (e.get("search") or {}).get("mode", "match") == "match"]
        following = next_link(bundle)
        if following is None:
            return hits
        if not on_base(following, http.base):
            raise ServerRejected(f"{what}: the server's next link leaves its base URL")
        response = http.request("GET", following[len(http.base):].lstrip("/"))
        bundle = http.json(response, what)
        if response.status_code >= 400 or bundle.get("resourceType") != "Bundle":
            raise ServerRejected(f"{what}: next page: HTTP {response.status_code}: {'; '.join(_issues(bundle))}")
    raise ServerRejected(f"{what}: more than {_MAX_PAGES} pages")


def _present(http: _Http, resources: list[Json], options: PushOptions) -> set[str]:
    """Which of ``resources`` the server holds (by id; a cheap ``_elements=id`` search per chunk).

    A state file says what a previous push committed; a server that restarted empty, or was
    reset, no longer holds it, so the state is trusted only for what is still there.
    """
    held: set[str] = set()
    for batch in _batches(resources, max(1, options.chunk_size)):
        by_type: dict[str, list[str]] = {}
        for r in batch:
            by_type.setdefault(r["resourceType"], []).append(r["id"])
        types = sorted(by_type)
        entries = [{"request": {"method": "GET", "url": f"{t}?_id={','.join(_search_value(i) for i in by_type[t])}"
                                                       f"&_elements=id&_count={len(by_type[t])}"}} for t in types]
        response = http.request("POST", "", {"resourceType": "Bundle", "type": "batch", "entry": entries})
        reply = http.json(response, "batch read (state check)")
        answers = reply.get("entry") or []
        if response.status_code >= 400 or reply.get("resourceType") != "Bundle" or len(answers) != len(entries):
            raise ServerRejected(f"batch read (state check): HTTP {response.status_code}: "
                                 f"{'; '.join(_issues(reply))}")
        for rtype, answer in zip(types, answers):
            for hit in _hits(http, answer if isinstance(answer, dict) else {}, f"state check {rtype}?_id"):
                if hit.get("resourceType") == rtype:
                    held.add(f"{rtype}/{hit.get('id')}")
    return held


def _diff(http: _Http, resources: list[Json], options: PushOptions, aliases: dict[str, str],
          url_searchable: set[str], advance: Callable[[int], None] | None = None) -> tuple[dict[str, Json], list[str]]:
    existing: dict[str, Json] = {}
    clashes: list[str] = []
    for batch in _batches(resources, max(1, options.chunk_size)):
        if advance is not None:
            advance(len(batch))
        by_type: dict[str, list[Json]] = {}
        for r in batch:
            by_type.setdefault(r["resourceType"], []).append(r)
        searches: list[tuple[str, str]] = []  # (resource type, "_id" or "url"), in entry order
        entries = []
        for rtype, group in by_type.items():
            searches.append((rtype, "_id"))
            entries.append({"request": {"method": "GET", "url": f"{rtype}?_id="
                                        f"{','.join(_search_value(r['id']) for r in group)}&_count={len(group)}"}})
            urls = sorted({r["url"] for r in group if isinstance(r.get("url"), str)})
            if urls and rtype in url_searchable:
                searches.append((rtype, "url"))
                entries.append({"request": {"method": "GET", "url": f"{rtype}?url="
                                            f"{','.join(_search_value(u) for u in urls)}&_count={len(urls)}"}})
        response = http.request("POST", "", {"resourceType": "Bundle", "type": "batch", "entry": entries})
        reply = http.json(response, "batch read")
        answers = reply.get("entry") or []
        if response.status_code >= 400 or reply.get("resourceType") != "Bundle" or len(answers) != len(entries):
            raise ServerRejected(f"batch read: HTTP {response.status_code}: {'; '.join(_issues(reply))}")
        by_id: dict[str, Json] = {}
        by_url: dict[tuple[str, str], list[Json]] = {}
        for (rtype, param), answer in zip(searches, answers):
            for hit in _hits(http, answer if isinstance(answer, dict) else {}, f"batch read {rtype}?{param}"):
                if hit.get("resourceType") != rtype:
                    continue
                if param == "_id":
                    by_id[f"{rtype}/{hit.get('id')}"] = hit
                elif isinstance(hit.get("url"), str):
                    by_url.setdefault((rtype, hit["url"]), []).append(hit)
        for r in batch:
            if _key(r) in by_id:
                existing[_key(r)] = by_id[_key(r)]
            for other in by_url.get((r["resourceType"], r.get("url")), []) if isinstance(r.get("url"), str) else []:
                if other.get("id") != r["id"] and other.get("version", r.get("version")) == r.get("version"):
                    if options.conditional and _key(r) not in existing:
                        # created earlier by a conditional create under a server-assigned id:
                        # compare with it, and update it in place if it differs
                        existing[_key(r)] = {**other, "id": r["id"]}
                        aliases[_key(r)] = str(other.get("id"))
                    else:
                        clashes.append(f"{r['url']} is held by {r['resourceType']}/{other.get('id')}, "
                                       f"not {_key(r)}")
    return existing, clashes
