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
4. **resume**: with a state file, the resources it records as committed are checked to be
   still on the server (``_id`` searches, ``_elements=id``) before they are skipped;
5. **send** ``PUT Type/id`` (or conditional create on ``url|version``) transactions, with
   retries on 429/502/503/504 and timeouts: exponential backoff with jitter, honouring
   ``Retry-After`` (RFC 9110: seconds or an HTTP-date, bounded, never negative).

One module per step: ``load``, ``diff`` (probe, searches), ``compare``, ``plan``, ``state``,
``send``, over ``http`` (retries, tokens) and ``model`` (options, outcomes, errors).

Tokens are sent but never logged or included in errors.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from ...progress import QUIET, Reporter
from .compare import same_content
from .diff import _diff, _present, _probe, _search_value
from .http import _Http
from .load import load_resources
from .model import Json, Outcome, PushError, PushOptions, PushResult, ServerRejected, ServerUnreachable
from .plan import _key, _references, _waves, plan_chunks
from .send import _send
from .state import PushState

__all__ = ["PushError", "PushOptions", "PushResult", "PushState", "ServerRejected", "ServerUnreachable", "load_resources",
           "plan_chunks", "push", "same_content"]
_PRIVATE_FOR_TESTS = (_references, _search_value)  # re-exported: the tests call them


def push(resources: list[Json], options: PushOptions, *, client: httpx.Client | None = None,
         progress: Reporter = QUIET) -> PushResult:
    """Diff, plan and send ``resources``; see the module docstring. ``progress`` hears the phases
    "read the server" (probe, resume check, searches), "diff" and "send"."""
    started = time.perf_counter()
    http = _Http(options, client)
    result = PushResult(dry_run=options.dry_run)
    with progress.phase("read the server", len(resources), "resources") as advance:
        url_searchable = _probe(http)
        state = PushState(options.state, options.server)
        resumed = [r for r in resources if state.done(r)]
        if resumed:  # trusted only for what the server still holds (it may have restarted empty)
            held = _present(http, resumed, options)
            resumed = [r for r in resumed if _key(r) in held]
            advance(len(resumed))
        result.outcomes.extend(Outcome(_key(r), "unchanged", "resumed") for r in resumed)
        resumed_keys = {_key(r) for r in resumed}
        resources = [r for r in resources if _key(r) not in resumed_keys]
        aliases: dict[str, str] = {}  # our key -> server id of a conditionally created resource
        existing, clashes = _diff(http, resources, options, aliases, url_searchable, advance) if resources \
            else ({}, [])
    if clashes:
        raise ServerRejected("canonical URL already used by another resource: " + "; ".join(clashes))
    to_send: list[Json] = []
    actions: dict[str, str] = {}
    with progress.phase("diff", len(resources), "resources") as advance:
        for resource in resources:
            key = _key(resource)
            current = existing.get(key)
            if current is not None and same_content(resource, current):
                result.outcomes.append(Outcome(key, "unchanged"))
            else:
                actions[key] = "update" if current is not None else "create"
                to_send.append(resource)
            advance(1)
    if options.dry_run:
        result.outcomes.extend(Outcome(_key(r), actions[_key(r)], "dry-run") for r in to_send)
    else:
        chunks = plan_chunks(to_send, max(1, options.chunk_size))
        with progress.phase("send", len(to_send), "resources") as advance:
            for wave in _waves(chunks):
                with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
                    for i, outcomes in zip(wave, pool.map(lambda i: _send(http, chunks[i], actions, options,
                                                                          aliases), wave)):
                        result.outcomes.extend(outcomes)
                        if not any(o.action == "failed" for o in outcomes):
                            state.record(chunks[i])
                        advance(len(outcomes))
        if not result.failed:
            state.finish()
    result.requests = http.requests
    result.seconds = time.perf_counter() - started
    return result
