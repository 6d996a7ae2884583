"""Load built output into a FHIR R5 server: diff, plan, send in transactions, report.

Steps, each visible in :func:`push`:

1. **probe** ``GET [base]/metadata`` — unreachable is :class:`ServerUnreachable` (exit 4),
   a server that is not FHIR 5.0.x is refused;
2. **diff** one ``batch`` of searches per chunk, two per resource type:
   ``GET Type?_id=a,b,…`` and, where the server's CapabilityStatement declares the ``url``
   search parameter for the type, ``GET Type?url=<canonical>,…`` (``next`` links are
   followed on the server's base) — unchanged resources (ignoring ``meta.versionId``,
   ``meta.lastUpdated``, ``meta.source`` and narrative) are skipped, and a canonical already
   held by *another* resource is a clash reported before anything is written;
3. **plan** the rest in reference order: strongly connected groups never split, every
   transaction only references resources that are on the server or in the same
   transaction; transactions without dependencies between them form a *wave* and are
   sent concurrently (``concurrency``);
4. **send** ``PUT Type/id`` (or conditional create on ``url|version``) transactions, with
   retries on 429/502/503/504 and timeouts: exponential backoff with jitter, honouring
   ``Retry-After``.

Tokens are sent but never logged or included in errors.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..searchset import next_link, on_base
from ..validate._base import reference_strings
from .fhirjson import dumps_bytes

__all__ = ["PushError", "PushOptions", "PushResult", "ServerRejected", "ServerUnreachable", "load_resources",
           "plan_chunks", "push"]

Json = dict[str, Any]
RETRY_STATUS = {429, 502, 503, 504}
_IGNORED_META = ("versionId", "lastUpdated", "source")


class PushError(Exception):
    """A push that cannot proceed (the message is safe to print: it never holds a token)."""


class ServerUnreachable(PushError):
    """The server could not be reached, or kept failing after all retries."""


class ServerRejected(PushError):
    """The server answered with an error that retrying will not fix."""


@dataclass(frozen=True)
class PushOptions:
    server: str
    chunk_size: int = 100
    concurrency: int = 2
    dry_run: bool = False
    conditional: bool = False
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    bearer_token: str | None = field(default=None, repr=False)
    smart: Any = field(default=None, repr=False)  # a SmartAuth, for SMART Backend Services
    verify: bool | str = True
    state: Path | None = None  # resumable progress file (see PushState)


@dataclass
class Outcome:
    key: str
    action: str  # create | update | unchanged | failed
    status: str = ""
    issues: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    dry_run: bool = False

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    def summary(self) -> Json:
        sent = self.count("create") + self.count("update")
        return {"created": self.count("create"), "updated": self.count("update"),
                "unchanged": self.count("unchanged"), "failed": len(self.failed), "dry_run": self.dry_run,
                "seconds": round(self.seconds, 3), "requests": self.requests,
                "resources_per_second": round(sent / self.seconds, 1) if self.seconds and sent else 0.0,
                "failures": [{"resource": o.key, "status": o.status, "issues": o.issues} for o in self.failed]}


def load_resources(output: Path) -> list[Json]:
    """The resources of ``output`` (``output/``, ``output/r5`` or a transaction/collection bundle).

    Raises :class:`PushError` for a file that is not JSON or holds no resources.
    """
    if output.is_dir() and (output / "r5").is_dir():
        output = output / "r5"
    files = [output] if output.is_file() else sorted((output / "resources").glob("*.json"))
    if not files:
        raise PushError(f"no resources found in {output} (run `evidencekit build` first)")
    loaded = []
    for path in files:
        try:
            data = json.loads(path.read_bytes(), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise PushError(f"{path}: not readable FHIR JSON ({type(exc).__name__})") from None
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise PushError(f"{path}: not a FHIR resource")
        loaded.append(data)
    if output.is_file():
        entries = loaded[0].get("entry", []) if loaded[0]["resourceType"] == "Bundle" else [{"resource": loaded[0]}]
        loaded = [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return loaded


# -- planning ------------------------------------------------------------------------------

def _key(resource: Json) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _references(resource: Json) -> set[str]:
    """Relative references (``Type/id``) a resource makes to other resources."""
    return {ref for ref in reference_strings(resource) if ref.count("/") == 1 and not ref.startswith("#")}


def _components(keys: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components in dependency order (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in keys:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.append(item)
                    if item == node:
                        break
                out.append(sorted(component))
    return out  # Tarjan emits a component after everything it depends on


def plan_chunks(resources: list[Json], size: int) -> list[list[Json]]:
    """Transactions of at most ``size`` resources (larger only to keep a cycle together),
    in an order where each only references earlier ones, itself, or resources not sent."""
    by_key = {_key(r): r for r in resources}
    edges = {k: {ref for ref in _references(r) if ref in by_key and ref != k} for k, r in by_key.items()}
    chunks: list[list[Json]] = []
    current: list[Json] = []
    for component in _components(sorted(by_key), edges):
        if current and len(current) + len(component) > size:
            chunks.append(current)
            current = []
        current.extend(by_key[k] for k in component)
    if current:
        chunks.append(current)
    return chunks


def _waves(chunks: list[list[Json]]) -> list[list[int]]:
    """Group chunk indexes so a chunk only depends on chunks of earlier waves."""
    where = {_key(r): i for i, chunk in enumerate(chunks) for r in chunk}
    level: list[int] = []
    for i, chunk in enumerate(chunks):
        deps = {where[ref] for r in chunk for ref in _references(r) if ref in where and where[ref] != i}
        level.append(1 + max((level[d] for d in deps), default=-1))
    waves: dict[int, list[int]] = {}
    for i, lvl in enumerate(level):
        waves.setdefault(lvl, []).append(i)
    return [waves[k] for k in sorted(waves)]


# -- comparison ----------------------------------------------------------------------------

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


# -- HTTP ------------------------------------------------------------------------------------

class _Http:
    def __init__(self, options: PushOptions, client: httpx.Client | None) -> None:
        self.options = options
        self.base = options.server.rstrip("/")
        headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
        if options.bearer_token:
            headers["Authorization"] = f"Bearer {options.bearer_token}"
        self.client = client or httpx.Client(timeout=options.timeout, verify=options.verify)
        self.headers = headers
        self.requests = 0
        self.lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        if self.options.smart is None:
            return self.headers
        from .smart import SmartError

        try:
            token = self.options.smart.token(self.client, self.base)
        except SmartError as exc:
            raise ServerRejected(f"SMART authorization failed: {exc}") from None
        return {**self.headers, "Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: Json | None = None) -> httpx.Response:
        url = f"{self.base}/{path}" if path and not path.startswith("?") else self.base + path
        content = None if body is None else dumps_bytes(body, pretty=False)  # decimals as authored
        for attempt in range(self.options.retries + 1):
            with self.lock:
                self.requests += 1
            try:
                response = self.client.request(method, url, content=content, headers=self._headers())
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == self.options.retries:
                    raise ServerUnreachable(f"{method} {url}: {type(exc).__name__} after "
                                            f"{attempt + 1} attempt(s)") from None
                time.sleep(self._delay(attempt, None))
                continue
            except httpx.HTTPError as exc:  # TLS failures, invalid URLs: retrying will not help
                raise ServerUnreachable(f"{method} {url}: {type(exc).__name__}: {_safe(str(exc))}") from None
            if response.status_code in RETRY_STATUS and attempt < self.options.retries:
                time.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code in RETRY_STATUS:
                raise ServerUnreachable(f"{method} {url}: HTTP {response.status_code} after "
                                        f"{attempt + 1} attempt(s)")
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.options.max_backoff)
            except ValueError:
                when = email.utils.parsedate_to_datetime(retry_after)
                if when is not None:
                    return max(0.0, min(when.timestamp() - time.time(), self.options.max_backoff))
        base = min(self.options.backoff * (2 ** attempt), self.options.max_backoff)
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not security

    def json(self, response: httpx.Response, what: str) -> Json:
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ServerRejected(f"{what}: HTTP {response.status_code}, body is not JSON "
                                 f"({len(response.content)} bytes)") from None
        if not isinstance(data, dict):
            raise ServerRejected(f"{what}: HTTP {response.status_code}, body is not a FHIR resource")
        return data


def _safe(text: str) -> str:
    return text.replace("Bearer", "Bearer[redacted]") if "Bearer" in text else text


def _issues(outcome: Json | None) -> list[str]:
    if not isinstance(outcome, dict):
        return []
    out = []
    for issue in outcome.get("issue", []) or []:
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code", "")
        out.append(f"{issue.get('severity', '?')}: {text}" + (f" [{where}]" if where else ""))
    return out


# -- resumable state --------------------------------------------------------------------------

class PushState:
    """What an interrupted push already committed, so the next run continues from there.

    A JSON file ``{"server": base, "written": {"Type/id": sha256 of the content}}``, rewritten
    atomically after every committed transaction and removed when a push completes.
    Resources it lists with the same content are neither read nor sent again; a state
    file for another server is ignored.
    """

    def __init__(self, path: Path | None, server: str) -> None:
        self.path, self.server = path, server.rstrip("/")
        self.written: dict[str, str] = {}
        self.lock = threading.Lock()
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if isinstance(data, dict) and data.get("server") == self.server and isinstance(data.get("written"), dict):
                self.written = {str(k): str(v) for k, v in data["written"].items()}

    @staticmethod
    def digest(resource: Json) -> str:
        import hashlib

        return hashlib.sha256(dumps_bytes(_normalized(resource), pretty=False)).hexdigest()

    def done(self, resource: Json) -> bool:
        return self.written.get(_key(resource)) == self.digest(resource)

    def record(self, resources: list[Json]) -> None:
        if self.path is None:
            return
        import os
        import tempfile

        with self.lock:
            self.written.update({_key(r): self.digest(r) for r in resources})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".push-state-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"server": self.server, "written": self.written}, out, sort_keys=True)
            os.replace(temporary, self.path)

    def finish(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()


# -- the push --------------------------------------------------------------------------------

def push(resources: list[Json], options: PushOptions, *, client: httpx.Client | None = None,
         progress: Callable[[int], None] | None = None) -> PushResult:
    """Diff, plan and send ``resources``; see the module docstring."""
    started = time.perf_counter()
    http = _Http(options, client)
    result = PushResult(dry_run=options.dry_run)
    url_searchable = _probe(http)
    state = PushState(options.state, options.server)
    resumed = [r for r in resources if state.done(r)]
    result.outcomes.extend(Outcome(_key(r), "unchanged", "resumed") for r in resumed)
    if progress and resumed:
        progress(len(resumed))
    resumed_keys = {_key(r) for r in resumed}
    resources = [r for r in resources if _key(r) not in resumed_keys]
    aliases: dict[str, str] = {}  # our key -> server id of a conditionally created resource
    existing, clashes = _diff(http, resources, options, aliases, url_searchable) if resources else ({}, [])
    if clashes:
        raise ServerRejected("canonical URL already used by another resource: " + "; ".join(clashes))
    to_send: list[Json] = []
    actions: dict[str, str] = {}
    for resource in resources:
        key = _key(resource)
        current = existing.get(key)
        if current is not None and same_content(resource, current):
            result.outcomes.append(Outcome(key, "unchanged"))
            if progress:
                progress(1)
        else:
            actions[key] = "update" if current is not None else "create"
            to_send.append(resource)
    if options.dry_run:
        result.outcomes.extend(Outcome(_key(r), actions[_key(r)], "dry-run") for r in to_send)
    else:
        chunks = plan_chunks(to_send, max(1, options.chunk_size))
        for wave in _waves(chunks):
            with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
                for i, outcomes in zip(wave, pool.map(lambda i: _send(http, chunks[i], actions, options, aliases),
                                                      wave)):
                    result.outcomes.extend(outcomes)
                    if not any(o.action == "failed" for o in outcomes):
                        state.record(chunks[i])
                    if progress:
                        progress(len(outcomes))
        if not result.failed:
            state.finish()
    result.requests = http.requests
    result.seconds = time.perf_counter() - started
    return result


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


def _diff(http: _Http, resources: list[Json], options: PushOptions, aliases: dict[str, str],
          url_searchable: set[str]) -> tuple[dict[str, Json], list[str]]:
    existing: dict[str, Json] = {}
    clashes: list[str] = []
    for batch in _batches(resources, max(1, options.chunk_size)):
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


def _send(http: _Http, chunk: list[Json], actions: dict[str, str], options: PushOptions,
          aliases: dict[str, str]) -> list[Outcome]:
    entries = []
    for r in chunk:
        if _key(r) in aliases:
            r = {**r, "id": aliases[_key(r)]}
            entries.append({"fullUrl": f"{http.base}/{_key(r)}", "resource": r,
                            "request": {"method": "PUT", "url": _key(r)}})
            continue
        if options.conditional and isinstance(r.get("url"), str) and actions[_key(r)] == "create":
            request = {"method": "POST", "url": r["resourceType"],
                       "ifNoneExist": f"url={r['url']}" + (f"&version={r['version']}" if r.get("version") else "")}
        else:
            request = {"method": "PUT", "url": _key(r)}
        entries.append({"fullUrl": f"{http.base}/{_key(r)}", "resource": r, "request": request})
    response = http.request("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    reply = http.json(response, "transaction")
    if response.status_code >= 400:
        issues = _issues(reply)
        return [Outcome(_key(r), "failed", str(response.status_code),
                        [i for i in issues if _entry_index(i) in (None, n)] or issues)
                for n, r in enumerate(chunk)]
    out = []
    answers = reply.get("entry", [])
    for n, r in enumerate(chunk):  # outcomes carry our keys, whatever id the server uses
        status = str((answers[n] if n < len(answers) else {}).get("response", {}).get("status", ""))
        if status.startswith(("200", "201")):
            out.append(Outcome(_key(r), actions[_key(r)], status))
        else:
            out.append(Outcome(_key(r), "failed", status or "no response entry"))
    return out


def _entry_index(issue: str) -> int | None:
    marker = "Bundle.entry["
    if marker not in issue:
        return None
    try:
        return int(issue.split(marker, 1)[1].split("]", 1)[0])
    except ValueError:
        return None
