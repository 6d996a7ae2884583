"""Hostile testing of `serve` (issue 11, point 3), replayed: JWT claims, the key fetch, SSRF
through fhirServer, hostile bodies; and the Sandbox's pinned-key-with-jku tokens (point 1)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest

import cds_client as ehr
from conftest import ROOT
from evidencekit.serve import Settings, create_app, load_knowledge
from evidencekit.serve.auth import load_trust
from evidencekit.serve.egress import EgressRefused, GuardedBackend, fhir_server_refusal

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://testserver"
JKU = "https://ehr.test.example/.well-known/jwks.json"
KNOWLEDGE = load_knowledge(ROOT / "output" / "r5")
SERVICE = next(s for s in KNOWLEDGE.services.values() if s.hook == "patient-view").id
Json = dict[str, Any]


def _trust(tmp_path: Path, issuers: Json) -> Path:
    path = tmp_path / f"trust-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps({"issuers": issuers}))
    return path


def _app(trust: Any, **settings: Any) -> Any:
    return create_app(KNOWLEDGE, Settings(public_url=BASE, trust=trust, fetch_timeout=2.0, **settings))


def _raw_token(signer: ehr.Signer, claims: Json, alg: str = "ES384") -> str:
    """A validly signed token whose claims JSON is written as given (NaN, Infinity, huge ints)."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = {"alg": alg, "typ": "JWT", "kid": signer.kids[alg]}
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(signer.ec.sign(signing.encode(), ec.ECDSA(hashes.SHA384())))
    return signing + "." + b64(r.to_bytes(48, "big") + s.to_bytes(48, "big"))


@pytest.fixture(scope="module")
def signer() -> ehr.Signer:
    return ehr.Signer()


def test_the_raw_token_helper_makes_valid_tokens(signer: ehr.Signer, tmp_path: Path) -> None:
    store = load_trust(signer.trust_file(tmp_path / "trust.json"))
    now = int(time.time())
    aud = BASE + "/cds-services"
    token = _raw_token(signer, {"iss": signer.iss, "aud": aud, "iat": now, "exp": now + 300, "jti": "j1"})
    assert store.verify(token, aud)["jti"] == "j1"  # so the refusals below are about the claims


def test_hostile_claims_are_401_never_500(signer: ehr.Signer, tmp_path: Path) -> None:
    """70 attacks came down to these shapes: each is refused with a bare 401."""
    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json"))))
    aud = BASE + "/cds-services"
    now = int(time.time())

    def claims(**over: Any) -> Json:
        base = {"iss": signer.iss, "aud": aud, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        base.update(over)
        return base

    attacks = {
        "exp 10**400": claims(exp=10 ** 400),
        "exp as a string": claims(exp=str(now + 300)),
        "exp 1e308": claims(exp=1e308),
        "exp Infinity": claims(exp=float("inf")),
        "iat NaN": claims(iat=float("nan")),
        "exp a bool": claims(exp=True),
        "lifetime of an hour": claims(exp=now + 3600),
        "aud right and wrong": claims(aud=[aud, "https://attacker.example/cds-services"]),
        "aud as an object": claims(aud={"aud": aud}),
        "jti a number": claims(jti=7),
        "nbf in the future": claims(nbf=now + 600),
    }
    for name, payload in attacks.items():
        response = client.get("/cds-services", headers={"Authorization": f"Bearer {_raw_token(signer, payload)}"})
        assert (response.status_code, response.content) == (401, b""), name
    ok = client.get("/cds-services", headers={"Authorization": f"Bearer {_raw_token(signer, claims(aud=[aud]))}"})
    assert ok.status_code == 200  # a one-element array naming this endpoint is an audience


def test_sandbox_tokens_with_jku_are_verified_with_the_pinned_key(tmp_path: Path) -> None:
    """The Sandbox puts a jku in every token: an entry that pins the key and names that jku
    verifies them offline (no fetch); before, such an entry was refused at start-up."""
    sandbox = ehr.Signer("https://sandbox.cds-hooks.org", jku="https://sandbox.cds-hooks.org/.well-known/jwks.json")
    fetched: list[str] = []
    store = load_trust(_trust(tmp_path, {sandbox.iss: {"jwks": sandbox.jwks(), "jku": sandbox.jku}}))
    store._fetch = lambda url: fetched.append(url) or sandbox.jwks()
    client = TestClient(_app(store))
    body = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))
    url = f"/cds-services/{SERVICE}"
    assert "jku" in jwt.get_unverified_header(sandbox.token(BASE + url))
    response = client.post(url, json=body, headers=sandbox.auth(BASE + url))
    assert response.status_code == 200 and len(response.json()["cards"]) == 1
    assert fetched == []  # pinned: never fetched
    # a token naming another jku is still refused without a fetch
    other = sandbox.token(BASE + "/cds-services", headers={"jku": "https://attacker.example/jwks.json"})
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert fetched == []


def test_key_fetch_runs_off_the_event_loop_and_only_for_plausible_tokens(signer: ehr.Signer, tmp_path: Path) -> None:
    """A token with an unknown kid for a jku issuer makes one fetch, in a thread: a concurrent
    request is answered while the fetch is pending (ordering, not timing: the fetch is released
    only after the other request has its answer). Implausible tokens never fetch."""
    store = load_trust(_trust(tmp_path, {signer.iss: {"jwks": signer.jwks(), "jku": JKU}}))
    release, events = threading.Event(), []

    def slow_fetch(url: str) -> Json:
        events.append("fetch started")
        release.wait(20)  # a stalled key server
        events.append("fetch returned")
        return signer.jwks()

    store._fetch = slow_fetch
    app = _app(store)
    aud = BASE + "/cds-services"
    now = int(time.time())
    for implausible in (signer.token(BASE + "/elsewhere", headers={"kid": "new-kid"}),  # wrong aud
                        signer.token(aud, headers={"kid": "new-kid"}, exp=now - 600, iat=now - 900),  # expired
                        "eyJhbGciOiJFUzM4NCJ9.e30.c2ln"):  # not even a token
        assert TestClient(app).get("/cds-services", headers={"Authorization": f"Bearer {implausible}"}
                                   ).status_code == 401
    assert events == []

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            unknown = asyncio.create_task(client.get("/cds-services", headers={
                "Authorization": f"Bearer {signer.token(aud, headers={'kid': 'new-kid'})}"}))
            while "fetch started" not in events:
                await asyncio.sleep(0.01)
            other = await asyncio.wait_for(client.get("/cds-services", headers=signer.auth(aud)), 15)
            events.append("other answered")
            release.set()
            return other.status_code, (await unknown).status_code

    other_status, unknown_status = asyncio.run(scenario())
    assert other_status == 200 and unknown_status == 401  # the fetched set has no 'new-kid' either
    assert events == ["fetch started", "other answered", "fetch returned"]
    # rate limit: another unknown kid within REFRESH_SECONDS is refused without a fetch
    again = TestClient(app).get("/cds-services", headers={
        "Authorization": f"Bearer {signer.token(aud, headers={'kid': 'other-kid'})}"})
    assert again.status_code == 401 and events.count("fetch started") == 1


HOSTILE_SERVERS = ["https://127.0.0.1:8443/fhir", "https://localhost/fhir", "https://127.1/fhir",
                   "https://2130706433/fhir", "https://0x7f000001/fhir", "https://169.254.169.254/latest/meta-data",
                   "https://10.1.2.3/fhir", "https://192.168.0.10/fhir", "https://[::1]/fhir",
                   "https://[::ffff:127.0.0.1]/fhir", "https://metadata.localhost/fhir", "https://0177.0.0.1/fhir"]


def _with_server(url: str) -> Json:
    body = ehr.hook_request("patient-view", "p-qualifies")  # no prefetch: everything would be fetched
    body["fhirServer"] = url
    body["fhirAuthorization"] = {"access_token": "tok", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/Patient.read", "subject": "evidencekit-cds"}
    return body


def test_fhir_server_on_a_private_address_is_refused_before_any_request(signer: ehr.Signer, tmp_path: Path) -> None:
    sent: list[str] = []
    recorder = httpx.MockTransport(lambda request: sent.append(str(request.url)) or httpx.Response(503))
    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json")), transport=recorder))
    url = f"/cds-services/{SERVICE}"
    for server in HOSTILE_SERVERS:
        response = client.post(url, json=_with_server(server), headers=signer.auth(BASE + url))
        assert response.status_code == 400, server
        reason = response.json()["issue"][0]["diagnostics"]
        # IPv6 literals do not pass the https URL syntax (ASCII host names) already
        assert "not a public address" in reason or ("[" in server and "https URL" in reason), server
    assert sent == []
    # a public name goes ahead (here to the recording transport: 503 -> 412)
    response = client.post(url, json=_with_server("https://fhir.ehr.example.org/r4"), headers=signer.auth(BASE + url))
    assert response.status_code == 412 and sent and sent[0].startswith("https://fhir.ehr.example.org/r4/")


def test_an_issuer_may_name_only_its_registered_fhir_servers(signer: ehr.Signer, tmp_path: Path) -> None:
    sent: list[str] = []
    recorder = httpx.MockTransport(lambda request: sent.append(str(request.url)) or httpx.Response(503))
    store = load_trust(_trust(tmp_path, {signer.iss: {"jwks": signer.jwks(),
                                                      "fhirServers": ["https://10.1.2.3/fhir/"]}}))
    client = TestClient(_app(store, transport=recorder))
    url = f"/cds-services/{SERVICE}"
    listed = client.post(url, json=_with_server("https://10.1.2.3/fhir"), headers=signer.auth(BASE + url))
    assert listed.status_code == 412 and sent  # registered: private is allowed, and it was called
    sent.clear()
    other = client.post(url, json=_with_server("https://fhir.elsewhere.example/r4"), headers=signer.auth(BASE + url))
    assert other.status_code == 400 and "not one of the FHIR servers registered" in other.text and sent == []


def test_refusal_rules() -> None:
    assert fhir_server_refusal("https://fhir.example.org/r4", None, [], False) == (None, False)
    assert fhir_server_refusal("https://10.0.0.1/r4/", None, ["https://10.0.0.1/r4"], False) == (None, True)
    assert fhir_server_refusal("http://127.0.0.1:8080/fhir", None, [], True) == (None, True)  # the test switch
    assert fhir_server_refusal("https://169.254.169.254/", None, [], True)[0] is not None  # loopback only
    for url in HOSTILE_SERVERS:
        assert fhir_server_refusal(url, None, [], False)[0] is not None, url


def test_guarded_connections_resolve_check_and_connect_to_the_checked_address() -> None:
    """A name that resolves to loopback (here: localhost, via the resolver) is refused at connect
    time; allowed, the connection goes to the address that was checked."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    async def connect(allow_private: bool) -> None:
        stream = await GuardedBackend(allow_private).connect_tcp("localhost", port, timeout=5)
        await stream.aclose()

    with pytest.raises(EgressRefused):
        anyio.run(connect, False)
    anyio.run(connect, True)
    accepted, _ = listener.accept()
    assert accepted.getsockname()[0] == "127.0.0.1"
    accepted.close()
    listener.close()


def test_hostile_bodies_are_400(signer: ehr.Signer, tmp_path: Path) -> None:
    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json"))))
    url = f"/cds-services/{SERVICE}"
    good = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))
    for hook_instance in ("not-a-uuid", "d1577c69-dfbe-44ad-ba6d-3e05e953b2e", "x" * 36):
        body = {**good, "hookInstance": hook_instance}
        assert client.post(url, json=body, headers=signer.auth(BASE + url)).status_code == 400, hook_instance
    text = json.dumps(good)
    for literal in ("NaN", "Infinity", "-Infinity"):
        bad = text.replace('"context": {', f'"score": {literal}, "context": {{', 1)
        assert bad != text
        response = client.post(url, content=bad, headers={**signer.auth(BASE + url), "Content-Type": "application/json"})
        assert response.status_code == 400 and "not valid JSON" in response.text, literal


def test_access_log_and_why_no_card(signer: ehr.Signer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json"))))
    url = f"/cds-services/{SERVICE}"
    child = ehr.qualifying("p-child")
    child["Patient"][0]["birthDate"] = "2019-05-01"
    body = ehr.hook_request("patient-view", "p-child", ehr.prefetch_for(child))
    with caplog.at_level(logging.DEBUG, logger="evidencekit.serve"):
        headers = signer.auth(BASE + url)
        assert client.post(url, json=body, headers=headers).json() == {"cards": []}
        assert client.get("/cds-services").status_code == 401
    lines = [r.getMessage() for r in caplog.records]
    assert f"POST {url} 200" in " ".join(lines) and "GET /cds-services 401" in " ".join(lines)
    why = [m for m in lines if "no card" in m]
    assert len(why) == 1 and why[0].startswith(f"{SERVICE} {body['hookInstance']}: no card: not met: Age 18 years or "
                                               "more (a business rule, not a finding of the evidence: ")
    token = headers["Authorization"].split()[1]
    assert not [m for m in lines if token in m or "eyJ" in m or "p-child" in m]  # no token, no patient id


def test_a_client_that_disconnects_mid_upload_leaves_no_traceback(signer: ehr.Signer, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    app = _app(load_trust(signer.trust_file(tmp_path / "trust.json")))
    url = f"/cds-services/{SERVICE}"
    headers = [(b"authorization", f"Bearer {signer.token(BASE + url)}".encode()),
               (b"content-type", b"application/json")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": url, "raw_path": url.encode(), "query_string": b"", "headers": headers,
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000), "root_path": ""}
    messages = [{"type": "http.request", "body": b'{"hook": "patient-view", ', "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[Json] = []

    async def receive() -> Json:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Json) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def test_record_text_never_becomes_a_link(signer: ehr.Signer, tmp_path: Path) -> None:
    """A URL, a domain or an address in the EHR's record text stays text on the card, even for a
    renderer that linkifies bare URLs and domains (markdown-it's GFM-like preset with linkify-it)."""
    from markdown_it import MarkdownIt

    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json"))))
    data = ehr.qualifying()
    hostile = ("see https://evil.example/phish and www.evil.example, //evil.example/x, evil.com, "
               "mail me@evil.example or ftp://files.evil.example")
    data["Condition"][0]["code"]["coding"][0]["display"] = hostile
    url = f"/cds-services/{SERVICE}"
    body = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(data))
    card = client.post(url, json=body, headers=signer.auth(BASE + url)).json()["cards"][0]
    renderer = MarkdownIt("gfm-like", {"linkify": True})
    assert renderer.render("visit https://evil.example or evil.com").count("<a ") == 2  # the renderer links
    assert "evil" in card["detail"]  # the text is there ...
    html = renderer.render(card["detail"])
    assert "<a " not in html  # ... and no link
    assert "evil.example/phish" in card["detail"].replace("\u200b", "")  # reads the same without the breaks


def test_naming_fhir_server_builds_no_tls_context_per_call(signer: ehr.Signer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The urgent defect: every call that named fhirServer built two TLS contexts (~48 ms of CPU, 10x
    the call). The service's guarded transports, and their one context, are made once."""
    import ssl

    made: list[int] = []
    original = ssl.SSLContext.__new__

    def counting(cls: type, *args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "__new__", counting)
    server = "https://fhir.ehr.example.org/r4"
    client = TestClient(_app(load_trust(signer.trust_file(tmp_path / "trust.json")), fhir_servers=[server]))
    url = f"/cds-services/{SERVICE}"
    body = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))
    body["fhirServer"] = server  # full prefetch: nothing is fetched, but the transport is needed
    counts = []
    for _ in range(5):
        response = client.post(url, json=body, headers=signer.auth(BASE + url))
        assert response.status_code == 200 and len(response.json()["cards"]) == 1
        counts.append(len(made))
    assert counts[0] <= 1 and counts[-1] == counts[0], counts  # at most the process's one context, then none


def test_guarded_transports_are_shared_per_rule_and_outlive_a_request() -> None:
    from evidencekit.serve.egress import GuardedTransports

    async def scenario() -> None:
        transports = GuardedTransports()
        public, again, private = transports.lend(False), transports.lend(False), transports.lend(True)
        assert public._transport is again._transport  # type: ignore[attr-defined]
        assert public._transport is not private._transport  # type: ignore[attr-defined]
        pool = public._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, GuardedBackend) and not pool._network_backend.allow_private
        async with httpx.AsyncClient(transport=public):
            pass  # a request's client closes: the shared transport stays usable
        assert not pool._connections and transports.lend(False)._transport is public._transport  # type: ignore[attr-defined]
        await transports.aclose()
        assert transports.lend(False)._transport is not public._transport  # type: ignore[attr-defined]
        await transports.aclose()

    anyio.run(scenario)
