"""push against faults a real server cannot be made to produce (httpx.MockTransport),
and the transaction planner."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import httpx
import pytest
from click.testing import CliRunner

import evidencekit.publish.push as push_module
from evidencekit.publish.fhirjson import dumps_bytes
from evidencekit.cli import main
from conftest import OUTPUT_RESOURCES
from evidencekit.publish.push import (PushOptions, ServerRejected, ServerUnreachable, _references, load_resources,
                                      plan_chunks, push)

CAPABILITY = {"resourceType": "CapabilityStatement", "fhirVersion": "5.0.0", "status": "active",
              "rest": [{"mode": "server", "resource": [
                  {"type": t, "searchParam": [{"name": "url", "type": "uri"}]}
                  for t in ("Citation", "CodeSystem", "Composition", "Evidence", "EvidenceVariable", "PlanDefinition",
                            "ValueSet")]}]}


class FakeServer:
    """Answers like a FHIR server; `faults` are served first, one per request. Searches
    (``_id`` and ``url``, comma-separated) return at most ``page_size`` hits a page, with a
    ``next`` link to the rest."""

    BASE = "http://fhir.test/fhir"

    def __init__(self, faults: list[Callable[[httpx.Request], httpx.Response]] | None = None,
                 page_size: int = 1000) -> None:
        self.faults = list(faults or [])
        self.requests: list[httpx.Request] = []
        self.stored: dict[str, Any] = {}
        self.page_size = page_size
        self.pages: dict[str, list[Any]] = {}
        self.paged = 0

    def _search(self, url: str) -> dict[str, Any]:
        rtype, query = url.split("?", 1)
        params = dict(part.split("=", 1) for part in query.split("&"))
        assert int(params["_count"]) > 0
        wanted = {unquote(v) for v in params.get("_id", params.get("url", "")).split(",")}
        field = "id" if "_id" in params else "url"
        hits = [r for key, r in sorted(self.stored.items()) if key.startswith(rtype + "/") and r.get(field) in wanted]
        return self._page([{"resource": r, "search": {"mode": "match"}} for r in hits])

    def _page(self, entries: list[Any]) -> dict[str, Any]:
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries[:self.page_size]}
        if len(entries) > self.page_size:
            self.paged += 1
            token = f"page{self.paged}"
            self.pages[token] = entries[self.page_size:]
            bundle["link"] = [{"relation": "next", "url": f"{self.BASE}?_getpages={token}"}]
        return bundle

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            return self.faults.pop(0)(request)
        if request.url.path.endswith("/metadata"):
            return httpx.Response(200, json=CAPABILITY)
        if request.method == "GET" and "_getpages" in request.url.params:
            return httpx.Response(200, json=self._page(self.pages.pop(request.url.params["_getpages"])))
        bundle = json.loads(request.content)
        entries = []
        for entry in bundle["entry"]:
            if bundle["type"] == "batch":
                entries.append({"resource": self._search(entry["request"]["url"]), "response": {"status": "200 OK"}})
            else:
                resource = entry["resource"]
                self.stored[f"{resource['resourceType']}/{resource['id']}"] = resource
                entries.append({"response": {"status": "201 Created"}})
        return httpx.Response(200, json={"resourceType": "Bundle", "type": f"{bundle['type']}-response",
                                         "entry": entries})


@pytest.fixture
def resources(seed_build: Path) -> list[dict[str, Any]]:
    return load_resources(seed_build)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(push_module.time, "sleep", recorded.append)
    return recorded


def _client(server: FakeServer) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(server))


def test_retry_after_is_honoured(resources: list, sleeps: list[float]) -> None:
    server = FakeServer([lambda r: httpx.Response(429, headers={"Retry-After": "7"}),
                         lambda r: httpx.Response(503)])
    result = push(resources, PushOptions(server="http://fhir.test/fhir"), client=_client(server))
    assert result.count("create") == OUTPUT_RESOURCES
    assert sleeps[0] == 7.0 and 0.5 <= sleeps[1] <= 1.0  # second attempt of the same request: 0.5-1 s
    # metadata twice (429, then 200), the 503 answer, then per chunk one diff batch and one transaction
    assert len(server.requests) == 2 + 1 + 2 * len(plan_chunks(resources, 100))


def test_backoff_grows_and_gives_up(resources: list, sleeps: list[float]) -> None:
    server = FakeServer([lambda r: httpx.Response(502)] * 10)
    with pytest.raises(ServerUnreachable, match="HTTP 502 after 4 attempt"):
        push(resources, PushOptions(server="http://fhir.test/fhir", retries=3, backoff=1.0), client=_client(server))
    assert len(sleeps) == 3
    assert sleeps[0] <= 1.0 < sleeps[2] <= 4.0  # jittered exponential: 0.5-1, 1-2, 2-4


def test_timeouts_are_retried(resources: list, sleeps: list[float]) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    server = FakeServer([timeout, timeout])
    assert push(resources, PushOptions(server="http://fhir.test/fhir"), client=_client(server)).count("create") == OUTPUT_RESOURCES
    with pytest.raises(ServerUnreachable, match="ReadTimeout"):
        push(resources, PushOptions(server="http://fhir.test/fhir", retries=1),
             client=_client(FakeServer([timeout] * 5)))


def test_truncated_response_is_a_rejection(resources: list) -> None:
    server = FakeServer([lambda r: httpx.Response(200, json=CAPABILITY),
                         lambda r: httpx.Response(200, content=b'{"resourceType": "Bundle", "ent')])
    with pytest.raises(ServerRejected, match="not JSON"):
        push(resources, PushOptions(server="http://fhir.test/fhir"), client=_client(server))


def test_tls_failure_is_unreachable(resources: list) -> None:
    def tls(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request)

    with pytest.raises(ServerUnreachable, match="ConnectError"):
        push(resources, PushOptions(server="https://fhir.test/fhir", retries=0), client=_client(FakeServer([tls])))


def test_not_an_r5_server(resources: list) -> None:
    server = FakeServer([lambda r: httpx.Response(200, json={**CAPABILITY, "fhirVersion": "4.0.1"})])
    with pytest.raises(ServerRejected, match="not a FHIR R5 server"):
        push(resources, PushOptions(server="http://fhir.test/fhir"), client=_client(server))


def test_bearer_token_is_sent_but_never_printed(seed_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer()
    push(load_resources(seed_build), PushOptions(server="http://fhir.test/fhir", bearer_token="s3cr3t-token"),
         client=_client(server))
    assert all(r.headers["Authorization"] == "Bearer s3cr3t-token" for r in server.requests)
    assert "s3cr3t-token" not in repr(PushOptions(server="x", bearer_token="s3cr3t-token"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    monkeypatch.setenv("EK_TEST_TOKEN", "s3cr3t-token")
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", f"https://127.0.0.1:{port}/fhir",
                                       "--bearer-token-env", "EK_TEST_TOKEN", "--retries", "0"])
    assert result.exit_code == 4, result.output
    assert "s3cr3t-token" not in result.output and "unreachable" in result.output


def test_missing_token_variable_is_a_usage_error(seed_build: Path) -> None:
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", "http://127.0.0.1:9/fhir",
                                       "--bearer-token-env", "EK_DOES_NOT_EXIST"])
    assert result.exit_code == 2


def test_invalid_output_is_not_pushed(seed_build: Path, tmp_path: Path) -> None:
    resource = json.loads((seed_build / "resources" / "Evidence-galimberti-2018-time-to-ivig.json").read_text())
    resource["status"] = "bogus"
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"fullUrl": "http://x/Evidence/a", "resource": resource}]}))
    result = CliRunner().invoke(main, ["push", str(bundle), "--server", "http://127.0.0.1:9/fhir"])
    assert result.exit_code == 1 and "nothing was sent" in result.output


def test_plan_keeps_cycles_together_and_orders_references(resources: list) -> None:
    import copy

    # the output has no reference cycle since certainty is rated per Evidence: make one (the seed's
    # Citation pointing back at its report, which cites it)
    resources = copy.deepcopy(resources)
    citation = next(r for r in resources if r["id"] == "galimberti-2018-citation")
    citation.setdefault("relatedArtifact", []).append(
        {"type": "documentation", "resourceReference": {"reference": "Composition/galimberti-2018"}})
    for size in (1, 3, 7, 100):
        chunks = plan_chunks(resources, size)
        assert sorted(r["id"] for c in chunks for r in c) == sorted(r["id"] for r in resources)
        placed: set[str] = set()
        for chunk in chunks:
            keys = {f"{r['resourceType']}/{r['id']}" for r in chunk}
            for r in chunk:
                for ref in _references(r):
                    assert ref in placed or ref in keys, (size, r["id"], ref)
            placed |= keys
    # the report and the citation reference each other: one transaction
    for chunk in plan_chunks(resources, 1):
        ids = {r["id"] for r in chunk}
        assert ("galimberti-2018" in ids) == ("galimberti-2018-citation" in ids)
    assert max(len(c) for c in plan_chunks(resources, 1)) >= 2


def test_concurrency_sends_independent_chunks(resources: list) -> None:
    server = FakeServer()
    result = push(resources, PushOptions(server="http://fhir.test/fhir", chunk_size=4, concurrency=4),
                  client=_client(server))
    assert result.count("create") == OUTPUT_RESOURCES and len(server.stored) == OUTPUT_RESOURCES


def _interrupted_push(resources: list, state: Path) -> tuple[FakeServer, PushOptions]:
    """A push with a state file that the server stops (503) after two committed transactions."""
    server = FakeServer()
    transactions = {"count": 0}

    def failing_after_two(request: httpx.Request) -> httpx.Response:
        if request.content and b'"type":"transaction"' in request.content:
            transactions["count"] += 1
            if transactions["count"] > 2:
                return httpx.Response(503)
        return server(request)

    options = PushOptions(server="http://fhir.test/fhir", chunk_size=5, concurrency=1, retries=0, state=state)
    with pytest.raises(ServerUnreachable):
        push(resources, options, client=httpx.Client(transport=httpx.MockTransport(failing_after_two)))
    return server, options


def test_state_file_resumes_where_the_push_stopped(resources: list, sleeps: list[float], tmp_path: Path) -> None:
    state = tmp_path / "push-state.json"
    server, options = _interrupted_push(resources, state)
    recorded = json.loads(state.read_text())
    written = len(server.stored)  # two chunks (their size follows the reference closure)
    assert recorded["server"] == "http://fhir.test/fhir" and len(recorded["written"]) == written
    assert 2 <= written < OUTPUT_RESOURCES
    resumed = push(resources, options, client=_client(server))
    assert sum(1 for o in resumed.outcomes if o.status == "resumed") == written
    assert resumed.count("create") == OUTPUT_RESOURCES - written and len(server.stored) == OUTPUT_RESOURCES
    assert not state.exists()  # a completed push leaves nothing to resume


def test_state_file_of_another_server_is_ignored(resources: list, tmp_path: Path) -> None:
    state = tmp_path / "push-state.json"
    state.write_text(json.dumps({"server": "http://other/fhir",
                                 "written": {"Citation/galimberti-2018-citation": "x"}}))
    result = push(resources, PushOptions(server="http://fhir.test/fhir", state=state), client=_client(FakeServer()))
    assert result.count("create") == OUTPUT_RESOURCES


def test_unreadable_output_is_not_pushed(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"resourceType": "Bundle", "entry": [')
    result = CliRunner().invoke(main, ["push", str(path), "--server", "http://127.0.0.1:9/fhir"])
    assert result.exit_code == 1 and "not readable FHIR JSON" in result.output and "Traceback" not in result.output


def test_diff_searches_by_type_and_follows_next_links(resources: list) -> None:
    server = FakeServer(page_size=3)
    first = push(resources, PushOptions(server=FakeServer.BASE), client=_client(server))
    assert first.count("create") == OUTPUT_RESOURCES
    server.requests.clear()
    again = push(resources, PushOptions(server=FakeServer.BASE), client=_client(server))
    assert again.count("unchanged") == OUTPUT_RESOURCES and again.count("create") == again.count("update") == 0
    batches = [json.loads(r.content) for r in server.requests if r.method == "POST"]
    assert all(b["type"] == "batch" for b in batches)  # nothing written
    urls = [e["request"]["url"] for b in batches for e in b["entry"]]
    types = {r["resourceType"] for r in resources}
    # two searches per type at most (the seed fits one chunk), not one read per resource
    assert len(urls) <= 2 * len(types) < OUTPUT_RESOURCES
    # `url` only where the CapabilityStatement declares it: R5 has no url search on ArtifactAssessment
    assert "ArtifactAssessment?_id=" in " ".join(urls) and not any(u.startswith("ArtifactAssessment?url=")
                                                                    for u in urls)
    assert any(r.method == "GET" and "_getpages" in r.url.params for r in server.requests)


def test_a_canonical_held_by_another_id_is_a_clash_found_by_the_url_search(resources: list) -> None:
    server = FakeServer()
    evidence = next(r for r in resources if r["resourceType"] == "Evidence")
    server.stored["Evidence/someone-else"] = json.loads(dumps_bytes({**evidence, "id": "someone-else"}))
    with pytest.raises(ServerRejected, match="is held by Evidence/someone-else"):
        push(resources, PushOptions(server=FakeServer.BASE), client=_client(server))
    assert not any(json.loads(r.content).get("type") == "transaction" for r in server.requests if r.method == "POST")


def test_a_next_link_off_the_server_is_refused(resources: list) -> None:
    server = FakeServer(page_size=1)
    push(resources, PushOptions(server=FakeServer.BASE), client=_client(server))
    server.BASE = "http://elsewhere.test/fhir"  # the server now pages to another host
    with pytest.raises(ServerRejected, match="next link leaves its base"):
        push(resources, PushOptions(server="http://fhir.test/fhir"), client=_client(server))
    assert not any(r.url.host == "elsewhere.test" for r in server.requests)


def test_search_values_are_escaped() -> None:
    assert push_module._search_value("http://x.org/a,b|c$d\\e") == "http://x.org/a%5C%2Cb%5C%7Cc%5C%24d%5C%5Ce"


def test_a_next_link_is_on_the_base_only_at_a_path_or_query_boundary() -> None:
    from evidencekit.searchset import on_base

    assert on_base("http://fhir.test/fhir?_getpages=1", "http://fhir.test/fhir/")
    assert on_base("http://fhir.test/fhir/Evidence?_id=a", "http://fhir.test/fhir")
    assert not on_base("http://fhir.test/fhirevil/Evidence", "http://fhir.test/fhir")
    assert not on_base("http://fhir.test.evil/fhir?x", "http://fhir.test/fhir")


@pytest.mark.parametrize("value, expected", [
    ("5", 5.0), ("0", 0.0), (" 7 ", 7.0), ("-5", None), ("nan", None), ("NaN", None), ("1e9", None), ("5.5", None),
    ("inf", None), ("", None), ("soon", None), ("99999999999999999999", 1e9),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP-date in the past: no wait
])
def test_retry_after_is_parsed_as_rfc_9110_says(value: str, expected: float | None) -> None:
    from evidencekit.publish.push.http import retry_after_seconds

    assert retry_after_seconds(value, now=2_000_000_000.0) == expected


@pytest.mark.parametrize("value", ["-5", "nan", "1e400", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_hostile_retry_after_never_crashes_and_waits_bounded(resources: list, sleeps: list[float], value: str) -> None:
    """Reproducer (issue 15, 8): `Retry-After: -5` or `nan` crashed push (exit 2)."""
    server = FakeServer([lambda r: httpx.Response(503, headers={"Retry-After": value})])
    options = PushOptions(server="http://fhir.test/fhir", retries=2, backoff=0.01, max_backoff=3.0)
    result = push(resources, options, client=_client(server))
    assert not result.failed and result.count("create") == OUTPUT_RESOURCES
    assert sleeps and all(0 <= s <= 3.0 for s in sleeps)


def test_a_state_file_is_trusted_only_for_what_the_server_still_holds(resources: list, sleeps: list[float],
                                                                      tmp_path: Path) -> None:
    """Reproducer (issue 15, 9): after the server restarted empty, a rerun with the old state file
    exited 0 with resources missing. Now the state is checked against the server first."""
    state = tmp_path / "push-state.json"
    first, options = _interrupted_push(resources, state)
    assert first.stored and state.exists()
    restarted = FakeServer()  # same URL, empty
    result = push(resources, options, client=_client(restarted))
    assert not result.failed and sum(1 for o in result.outcomes if o.status == "resumed") == 0
    assert len(restarted.stored) == OUTPUT_RESOURCES  # nothing is missing


class SlowSearchParameters(FakeServer):
    """Takes its SearchParameters into use only after ``refusals`` searches by them (400 until then), or
    never (a lenient server that ignores an unknown parameter: 200, but no parameter in its self link)."""

    def __init__(self, refusals: int, lenient: bool = False) -> None:
        super().__init__()
        self.refusals, self.lenient, self.probes = refusals, lenient, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        codes = {p["code"] for k, p in self.stored.items() if k.startswith("SearchParameter/")}
        used = [c for c in codes if c in request.url.params]
        if request.method == "GET" and used and "_id" not in request.url.params:
            self.requests.append(request)
            self.probes += 1
            if self.lenient:
                return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset",
                                                 "link": [{"relation": "self", "url": f"{request.url.path}?_count=1"}]})
            if self.probes <= self.refusals:
                return httpx.Response(400, json={"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "processing", "diagnostics": "Unknown search parameter"}]})
            return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset",
                                             "link": [{"relation": "self", "url": str(request.url)}]})
        if request.method == "POST":  # no data may arrive before the parameters are in use
            bundle = json.loads(request.content)
            if bundle["type"] == "transaction" and any(e["resource"]["resourceType"] != "SearchParameter"
                                                       for e in bundle["entry"]):
                assert self.lenient or self.probes > self.refusals, "data sent before the search parameters were active"
        return super().__call__(request)


def test_search_parameters_are_sent_and_awaited_before_the_data(resources: list, seed_build: Path,
                                                                sleeps: list[float]) -> None:
    from evidencekit.publish.push import load_search_parameters

    parameters = load_search_parameters(seed_build)
    server = SlowSearchParameters(refusals=4)
    result = push(resources, PushOptions(server=FakeServer.BASE), client=_client(server),
                  search_parameters=parameters)
    assert not result.failed and result.count("create") == OUTPUT_RESOURCES + len(parameters)
    assert server.probes == 4 + len(parameters) and result.activation_seconds is not None
    assert sleeps  # it waited between rounds of probes
    first_data = next(i for i, r in enumerate(server.requests) if r.method == "POST"
                      and json.loads(r.content)["type"] == "transaction"
                      and any(e["resource"]["resourceType"] == "Evidence" for e in json.loads(r.content)["entry"]))
    assert all(r.method != "POST" or json.loads(r.content)["type"] != "transaction"
               or all(e["resource"]["resourceType"] == "SearchParameter" for e in json.loads(r.content)["entry"])
               for r in server.requests[:first_data])


@pytest.mark.parametrize("lenient", [False, True], ids=["refuses", "ignores"])
def test_search_parameters_never_in_use_stop_the_push(resources: list, seed_build: Path, sleeps: list[float],
                                                      lenient: bool) -> None:
    from evidencekit.publish.push import load_search_parameters

    server = SlowSearchParameters(refusals=10**6, lenient=lenient)
    with pytest.raises(ServerRejected, match="does not search by .*Evidence\\?variable"):
        push(resources, PushOptions(server=FakeServer.BASE, activation_timeout=0.001), client=_client(server),
             search_parameters=load_search_parameters(seed_build))
    assert not any(k.startswith("Evidence/") for k in server.stored)  # no data written
