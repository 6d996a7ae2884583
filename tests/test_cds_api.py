"""The service against its own OpenAPI 3.1 document (schemathesis), hostile bodies, and
`evidencekit serve` as a real process (TLS, refusals)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import cds_client as ehr

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from conftest import ROOT
from evidencekit.serve import Settings, create_app, load_knowledge
from evidencekit.serve.auth import load_trust

BASE = "http://testserver"
SERVICE = next(iter(load_knowledge(ROOT / "output" / "r5").aliases))  # answers every hook
SIGNER = ehr.Signer()
_TRUST = Path(os.environ.get("TMPDIR", "/tmp")) / f"evidencekit-cds-api-trust-{os.getpid()}.json"
# generated requests name arbitrary fhirServer hosts: the service's outbound calls go to a
# transport that answers 503 instead of the network (so such calls end in 412)
_NO_NETWORK = httpx.MockTransport(lambda request: httpx.Response(503))
APP = create_app(load_knowledge(ROOT / "output" / "r5"),
                 Settings(public_url=BASE, trust=load_trust(SIGNER.trust_file(_TRUST)), max_body=256 * 1024,
                          transport=_NO_NETWORK))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
# valid and invalid requests (negative mode breaks the documented shapes on purpose)
SCHEMA.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                                with_security_parameters=False)  # each case gets a real JWT below
# 412 is the documented answer to a valid call whose data cannot be obtained (no prefetch, no fhirServer)
# a generated body over --max-body is rejected before it is parsed: 413 is a rejection too
SCHEMA.config.checks.negative_data_rejection.expected_statuses = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
SCHEMA.config.checks.positive_data_acceptance.expected_statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]


def test_openapi_document_is_ours_and_3_1() -> None:
    document = TestClient(APP).get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/cds-services", "/cds-services/{service_id}",
                                      "/cds-services/{service_id}/feedback"}
    call = document["paths"]["/cds-services/{service_id}"]["post"]
    assert {"200", "400", "401", "404", "412", "413"} <= set(call["responses"])
    assert call["security"] == [{"cdsHooksJwt": []}]
    assert document["components"]["securitySchemes"]["cdsHooksJwt"]["bearerFormat"] == "JWT"


@SCHEMA.parametrize()
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_schemathesis_no_server_errors_no_schema_violations(case: Any) -> None:
    """Generated requests, each with a valid JWT for its exact URL: never a 5xx, and every
    response matches the document (status code documented, body conforms)."""
    _call_and_validate(case)


def _call_and_validate(case: Any) -> None:
    url = httpx.URL(BASE + case.formatted_path)  # the URL as sent, percent-encoded
    token = SIGNER.token(f"{BASE}{url.raw_path.decode('ascii').split('?')[0]}")
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
    assert response.status_code != 401, case.formatted_path  # the token is valid: auth is not what is tested
    case.validate_response(response)


@SCHEMA.parametrize()
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_schemathesis_against_the_real_service_id(case: Any) -> None:
    """The same with the seed service's id, so generated bodies reach the service logic."""
    if "service_id" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "service_id": SERVICE}
    _call_and_validate(case)


def _post(client: TestClient, path: str, content: bytes, content_type: str = "application/json") -> Any:
    return client.post(path, content=content, headers={**SIGNER.auth(BASE + path), "Content-Type": content_type})


def _valid() -> dict[str, Any]:
    return ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))


@pytest.mark.parametrize("name,content,status", [
    ("malformed JSON", b'{"hook": "patient-view", ', 400),
    ("not an object", b"[1, 2, 3]", 400),
    ("nested too deep", b"[" * 5000 + b"]" * 5000, 400),
    ("unknown hook", json.dumps({**_valid(), "hook": "encounter-discharge"}).encode(), 400),
    ("context of the wrong type", json.dumps({**_valid(), "context": ["patientId"]}).encode(), 400),
    ("patientId not a string", json.dumps({**_valid(), "context": {"userId": "Practitioner/1", "patientId": 7}}).encode(),
     400),
    ("prefetch of garbage", json.dumps({**_valid(), "prefetch": {"patient": "Patient/1", "conditions": 5}}).encode(),
     400),
    ("bundle entry without resource", json.dumps({**_valid(), "prefetch": {
        **ehr.prefetch_for(ehr.qualifying()), "conditions": {"resourceType": "Bundle", "entry": [{"x": 1}]}}}).encode(),
     400),
    ("resource with garbage fields", json.dumps({**_valid(), "prefetch": {
        **ehr.prefetch_for(ehr.qualifying()),
        "conditions": ehr.bundle([{"resourceType": "Condition", "id": "c", "code": "M33.13", "clinicalStatus": 3,
                                   "verificationStatus": [1], "subject": None}])}}).encode(), 200),
    ("invalid UTF-8", b'{"hook": "\xff\xfe"}', 400),
    ("huge body", b'{"pad": "' + b"x" * (300 * 1024) + b'"}', 413),
])
def test_bad_input_is_4xx_with_a_short_message(name: str, content: bytes, status: int) -> None:
    client = TestClient(APP, raise_server_exceptions=True)
    response = _post(client, f"/cds-services/{SERVICE}", content)
    assert response.status_code == status, (name, response.text[:300])
    if status != 200:
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert len(outcome["issue"][0]["diagnostics"]) <= 300
    else:
        assert response.json() == {"cards": []}  # garbage codes match nothing


def test_lying_content_length_is_refused() -> None:
    client = TestClient(APP)
    path = f"/cds-services/{SERVICE}"
    response = client.post(path, content=b"{}", headers={**SIGNER.auth(BASE + path), "Content-Length": "999999999",
                                                         "Content-Type": "application/json"})
    assert response.status_code in (400, 413)


# -- the real process ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _serve(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "evidencekit"
    with log.open("ab") as out:
        return subprocess.Popen([str(exe), "serve", str(ROOT / "output"), *args], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait(url: str, verify: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            httpx.get(url, verify=verify, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(log.read_text())


def test_serve_over_tls_with_auth(tmp_path: Path) -> None:
    """`evidencekit serve` with a certificate: https works with a JWT, plain http does not."""
    cert, key = _self_signed(tmp_path)
    port = _free_port()
    trust = SIGNER.trust_file(tmp_path / "trust.json")
    log = tmp_path / "serve.log"
    proc = _serve(["--port", str(port), "--trust", str(trust), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
                  log)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{port}"
        _wait(f"{base}/openapi.json", context, proc, log)
        url = f"{base}/cds-services"
        assert httpx.get(url, verify=context).status_code == 401
        services = httpx.get(url, verify=context, headers=SIGNER.auth(url)).json()["services"]
        call_url = f"{url}/{services[0]['id']}"
        response = httpx.post(call_url, json=_valid(), verify=context, headers=SIGNER.auth(call_url))
        assert response.status_code == 200 and len(response.json()["cards"]) == 1
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    assert "Bearer" not in log.read_text() and "eyJ" not in log.read_text()


@pytest.mark.parametrize("args,message", [
    (["--host", "0.0.0.0", "--insecure-no-auth"], "requires TLS"),
    ([], "give --trust FILE"),
    (["--insecure-no-auth", "--trust", "TRUST"], "not both"),
    (["--trust", "BADTRUST"], "give 'jwks' (pinned keys), 'jku'"),
    (["--trust", "PRIVTRUST"], "private key"),
])
def test_serve_refuses_unsafe_settings(runner: Any, tmp_path: Path, args: list[str], message: str) -> None:
    from evidencekit.cli import main

    trust = SIGNER.trust_file(tmp_path / "trust.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"issuers": {"https://x": {}}}))
    private = tmp_path / "private.json"
    jwk = json.loads(__import__("jwt").get_algorithm_by_name("ES384").to_jwk(SIGNER.ec))
    private.write_text(json.dumps({"issuers": {"https://x": {"jwks": {"keys": [{**jwk, "kid": "k"}]}}}}))
    args = [{"TRUST": str(trust), "BADTRUST": str(bad), "PRIVTRUST": str(private)}.get(a, a) for a in args]
    result = runner.invoke(main, ["serve", str(ROOT / "output"), *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_insecure_no_auth_warns_loudly(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = _serve(["--port", str(port), "--insecure-no-auth"], log)
    try:
        _wait(f"http://127.0.0.1:{port}/openapi.json", True, proc, log)
        assert httpx.get(f"http://127.0.0.1:{port}/cds-services").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    assert "WARNING: --insecure-no-auth" in log.read_text()


GARBAGE = [None, 12, -1.5, True, "", "x" * 500, [], [1, "a", None], {}, {"coding": "M33.13"},
           {"coding": [None, 1, {"code": ["M33.13"]}, {"system": 5, "code": "M33.13"}]}, "<script>alert(1)</script>"]


def test_hostile_record_fields_never_crash_the_service() -> None:
    """Every field of every record of a qualifying patient replaced by garbage of every JSON type:
    always 200 (a card or none), never a 5xx."""
    client = TestClient(APP, raise_server_exceptions=True)
    path = f"/cds-services/{SERVICE}"
    data = ehr.qualifying()
    seen = set()
    for rtype, records in data.items():
        for index, record in enumerate(records):
            for field in list(record):
                if field in ("resourceType",):
                    continue
                for junk in GARBAGE:
                    mutated = json.loads(json.dumps(data))
                    mutated[rtype][index][field] = junk
                    body = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(mutated))
                    response = _post(client, path, json.dumps(body).encode())
                    assert response.status_code in (200, 400), (rtype, field, junk, response.text[:200])
                    seen.add(response.status_code)
                    if response.status_code == 200 and response.json()["cards"]:
                        assert "<script>" not in response.json()["cards"][0]["detail"]
    assert seen == {200, 400}  # both outcomes occur: junk ids are refused, junk content is ignored
