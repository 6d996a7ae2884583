"""SMART Backend Services: a local token server that verifies the signed assertion."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from evidencekit.cli import main
from conftest import OUTPUT_RESOURCES


class SmartFhirServer:
    """Token endpoint + a minimal FHIR endpoint on 127.0.0.1 (a fake: push's FHIR side is
    proven against HAPI elsewhere; this one proves the authorization flow)."""

    def __init__(self, public_keys: dict[str, Any]) -> None:
        self.public_keys = public_keys  # client_id -> public key
        self.token_calls = 0
        self.seen_jti: set[str] = set()
        self.issued: set[str] = set()
        self.unauthorized = 0
        self.stored = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/fhir/.well-known/smart-configuration":
                    return self._send(200, {"token_endpoint": f"{owner.url}/token"})
                if not owner.authorized(self.headers.get("Authorization")):
                    return self._send(401, {})
                if self.path == "/fhir/metadata":
                    return self._send(200, {"resourceType": "CapabilityStatement", "fhirVersion": "5.0.0"})
                return self._send(404, {})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    return self._send(*owner.token(parse_qs(body.decode())))
                if not owner.authorized(self.headers.get("Authorization")):
                    return self._send(401, {})
                bundle = json.loads(body)
                entries = []
                for entry in bundle["entry"]:
                    if bundle["type"] == "batch":
                        search = "?" in entry["request"]["url"]
                        entries.append({"response": {"status": "200 OK"},
                                        "resource": {"resourceType": "Bundle", "type": "searchset", "entry": []}}
                                       if search else {"response": {"status": "404 Not Found"}})
                    else:
                        owner.stored += 1
                        entries.append({"response": {"status": "201 Created"}})
                return self._send(200, {"resourceType": "Bundle", "type": "batch-response", "entry": entries})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def authorized(self, header: str | None) -> bool:
        ok = bool(header) and header.startswith("Bearer ") and header[7:] in self.issued  # type: ignore[union-attr]
        self.unauthorized += not ok
        return ok

    def token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.token_calls += 1
        if form.get("grant_type") != ["client_credentials"] or form.get("client_assertion_type") != [
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]:
            return 400, {"error": "invalid_request"}
        assertion = form["client_assertion"][0]
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        key = self.public_keys.get(issuer)
        if key is None:
            return 401, {"error": "invalid_client"}
        try:
            claims = jwt.decode(assertion, key, algorithms=["RS384", "ES384"], audience=f"{self.url}/token",
                                issuer=issuer, options={"require": ["exp", "iat", "jti", "sub"]})
        except jwt.PyJWTError:
            return 401, {"error": "invalid_client"}
        if claims["sub"] != issuer or claims["jti"] in self.seen_jti or claims["exp"] - claims["iat"] > 300:
            return 401, {"error": "invalid_client"}
        self.seen_jti.add(claims["jti"])
        token = f"access-{len(self.issued)}"
        self.issued.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 300,
                     "scope": form.get("scope", [""])[0]}

    def close(self) -> None:
        self.httpd.shutdown()


def _key_files(tmp_path: Path) -> dict[str, tuple[Path, Any]]:
    keys = {"rsa-client": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-client": ec.generate_private_key(ec.SECP384R1()),
            "p256-client": ec.generate_private_key(ec.SECP256R1())}
    out = {}
    for name, key in keys.items():
        path = tmp_path / f"{name}.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        out[name] = (path, key.public_key())
    return out


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Any]]:
    return _key_files(tmp_path)


@pytest.fixture
def server(keys: dict[str, tuple[Path, Any]]) -> Iterator[SmartFhirServer]:
    running = SmartFhirServer({"rsa-client": keys["rsa-client"][1], "ec-client": keys["ec-client"][1]})
    yield running
    running.close()


@pytest.mark.parametrize("client", ["rsa-client", "ec-client"])
def test_push_with_smart_backend_services(client: str, keys: dict, server: SmartFhirServer,
                                          seed_build: Path) -> None:
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", f"{server.url}/fhir",
                                       "--smart-client-id", client, "--smart-key", str(keys[client][0]),
                                       "--chunk-size", "5", "--format", "json", "--no-search-parameters"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == OUTPUT_RESOURCES and server.stored == OUTPUT_RESOURCES
    assert server.token_calls == 1  # discovered once, cached for every later request
    assert server.unauthorized == 0
    assert "access-0" not in result.output and "eyJ" not in result.output  # no token, no assertion


def test_unknown_client_is_refused_without_leaking(keys: dict, server: SmartFhirServer, seed_build: Path) -> None:
    server.public_keys.pop("rsa-client")
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", f"{server.url}/fhir",
                                       "--smart-client-id", "rsa-client", "--smart-key", str(keys["rsa-client"][0])])
    assert result.exit_code == 3
    assert "SMART authorization failed" in result.output and "HTTP 401" in result.output
    assert "eyJ" not in result.output


def test_p256_key_is_a_usage_error(keys: dict, server: SmartFhirServer, seed_build: Path) -> None:
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", f"{server.url}/fhir",
                                       "--smart-client-id", "p256-client", "--smart-key",
                                       str(keys["p256-client"][0])])
    assert result.exit_code == 2 and "P-384" in result.output
