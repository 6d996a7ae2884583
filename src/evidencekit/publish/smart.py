"""SMART Backend Services authorization (client_credentials with a signed JWT assertion).

The client signs a short-lived assertion (RS384 or ES384) with its private key, posts it
to the token endpoint (found in ``[base]/.well-known/smart-configuration`` or given), and
caches the access token until shortly before it expires. Neither the assertion nor the
token is ever logged or put into an error message.

Reference: HL7 SMART App Launch 2.x, "SMART Backend Services"
(https://hl7.org/fhir/smart-app-launch/backend-services.html).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["SmartAuth", "SmartError"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_EXPIRY_MARGIN = 30.0  # seconds: renew before the server would reject the token


class SmartError(Exception):
    """Authorization failed (the message never contains a token or an assertion)."""


@dataclass
class SmartAuth:
    """Gets and caches access tokens for one client."""

    client_id: str
    key_file: Path
    scope: str = "system/*.rs system/*.cu"
    token_url: str | None = None
    kid: str | None = None
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def algorithm(self) -> tuple[str, object]:
        try:
            key = load_pem_private_key(self.key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SmartError(f"cannot read the private key {self.key_file}: {type(exc).__name__}") from None
        if isinstance(key, rsa.RSAPrivateKey):
            return "RS384", key
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
            return "ES384", key
        raise SmartError("the private key must be RSA (RS384) or EC P-384 (ES384)")

    def assertion(self, token_url: str) -> str:
        algorithm, key = self.algorithm()
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": token_url, "iat": now,
                  "exp": now + 300, "jti": str(uuid.uuid4())}
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)  # type: ignore[arg-type]

    def discover(self, client: httpx.Client, base: str) -> str:
        if self.token_url:
            return self.token_url
        try:
            response = client.get(f"{base.rstrip('/')}/.well-known/smart-configuration",
                                  headers={"Accept": "application/json"})
            endpoint = response.json().get("token_endpoint") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            endpoint = None
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise SmartError("no token_endpoint in .well-known/smart-configuration; give --smart-token-url")
        self.token_url = endpoint
        return endpoint

    def token(self, client: httpx.Client, base: str) -> str:
        """A valid access token (cached until shortly before it expires)."""
        with self._lock:
            if self._token and time.time() < self._expires - _EXPIRY_MARGIN:
                return self._token
            url = self.discover(client, base)
            form = {"grant_type": "client_credentials", "scope": self.scope,
                    "client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(url)}
            try:
                response = client.post(url, data=form, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise SmartError(f"token endpoint unreachable: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise SmartError(f"token endpoint refused the client: HTTP {response.status_code}")
            try:
                body = response.json()
                token, lifetime = body["access_token"], float(body.get("expires_in", 300))
            except (ValueError, KeyError, TypeError):
                raise SmartError("token endpoint answered without an access_token") from None
            self._token, self._expires = str(token), time.time() + lifetime
            return self._token
