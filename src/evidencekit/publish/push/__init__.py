"""Load built output into a FHIR R5 server: diff, plan, send in transactions, report.

Steps, each visible in :func:`push`:

0. **search parameters first**: the output's SearchParameters go through steps 2-5 on their own,
   then push waits until the server searches by them (``activate``), so the data that follows
   is indexed by them;
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
``send``, ``activate``, over ``http`` (retries, tokens) and ``model`` (options, outcomes, errors).

Tokens are sent but never logged or included in errors.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from ...progress import QUIET, Reporter
from .activate import await_search_parameters
from .compare import same_content
from .diff import _diff, _present, _probe, _search_value
from .http import _Http
from .load import load_resources, load_search_parameters
from .model import Json, Outcome, PushError, PushOptions, PushResult, ServerRejected, ServerUnreachable
from .plan import _key, _references, _waves, plan_chunks
from .send import _send
from .state import PushState

__all__ = ["PushError", "PushOptions", "PushResult", "PushState", "ServerRejected", "ServerUnreachable", "load_resources",
           "load_search_parameters", "plan_chunks", "push", "same_content"]
_PRIVATE_FOR_TESTS = (_references, _search_value)  # re-exported: the tests call them


def push(resources: list[Json], options: PushOptions, *, client: httpx.Client | None = None,
         progress: Reporter = QUIET, search_parameters: list[Json] | None = None) -> PushResult:
    """Diff, plan and send ``resources``; see the module docstring. ``progress`` hears the phases
    "read the server" (probe, resume check, searches), "diff" and "send".

    ``search_parameters`` (the output's ``definitions/SearchParameter-*.json``) are pushed first, the
    same way, and then awaited ("activate") until the server searches by them: a server indexes
    the data only by the parameters it knows when the data is written."""
    started = time.perf_counter()
    http = _Http(options, client)
    result = PushResult(dry_run=options.dry_run)
    state = PushState(options.state, options.server)
    with progress.phase("read the server", None, "resources"):
        url_searchable = _probe(http)
    if search_parameters:
        _push_set(http, state, search_parameters, options, result, progress, url_searchable)
        if not options.dry_run and not result.failed:
            pairs = sum(len(p.get("base", [])) for p in search_parameters)
            with progress.phase("activate search parameters", pairs, "parameters") as advance:
                result.activation_seconds = await_search_parameters(http, search_parameters,
                                                                    options.activation_timeout, advance)
    if not result.failed:
        _push_set(http, state, resources, options, result, progress, url_searchable)
    if not options.dry_run and not result.failed:
        state.finish()
    result.requests = http.requests
    result.seconds = time.perf_counter() - started
    return result


def _push_set(http: _Http, state: PushState, resources: list[Json], options: PushOptions, result: PushResult,
              progress: Reporter, url_searchable: set[str]) -> None:
    """Resume, diff, plan and send one set of resources; outcomes are added to ``result``."""
    with progress.phase("read the server", len(resources), "resources") as advance:
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
        return
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
