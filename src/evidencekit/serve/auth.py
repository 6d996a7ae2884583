"""CDS Hooks client authentication: a signed JWT on every request (CDS Hooks 2.0 §Security).

Trust file (``--trust FILE``)::

    {"issuers": {"https://ehr.example.org": {"jwks": {"keys": [...]}},
                 "https://sandbox.cds-hooks.org": {"jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
                                                   "tenants": ["t1"]}}}

Only ES384 and RS384; ``typ`` JWT and ``kid`` required; ``aud`` is the exact endpoint URL
under the configured public base; ``exp``, ``iat`` and ``jti`` required; a ``jti`` seen
before is rejected until its token expires; a ``jku`` other than the one registered for
the issuer is rejected without being fetched. Tokens are never logged.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

__all__ = ["AuthError", "TrustStore", "load_trust"]

ALGORITHMS = ("ES384", "RS384")
LEEWAY = 60


class AuthError(Exception):
    """Why a token was refused (for the service's own log; the client only sees 401)."""


class TrustFileError(Exception):
    pass


@dataclass
class Issuer:
    iss: str
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> PyJWK
    jku: str | None = None
    tenants: set[str] | None = None
    fetched_at: float = 0.0


def _keys(jwks: Any, where: str) -> dict[str, Any]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TrustFileError(f"{where}: 'jwks' must be a JWK Set ({{\"keys\": [...]}})")
    out = {}
    for i, jwk in enumerate(jwks["keys"]):
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            raise TrustFileError(f"{where}: key {i} has no 'kid'")
        if "d" in jwk:
            raise TrustFileError(f"{where}: key {jwk['kid']} is a private key; register public keys only")
        try:
            # an RSA key without "alg" would default to RS256; CDS Hooks uses RS384
            algorithm = "RS384" if jwk.get("kty") == "RSA" and "alg" not in jwk else None
            out[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=algorithm)
        except jwt.PyJWKError as exc:
            raise TrustFileError(f"{where}: key {jwk['kid']}: {exc}") from exc
    return out


def load_trust(path: Path) -> "TrustStore":
    """Read a trust file; raises TrustFileError with a short reason."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise TrustFileError(f"{path}: {exc}") from exc
    issuers = data.get("issuers") if isinstance(data, dict) else None
    if not isinstance(issuers, dict) or not issuers:
        raise TrustFileError(f"{path}: expected {{\"issuers\": {{\"<iss>\": {{\"jwks\": ...}} or {{\"jku\": ...}}}}}}")
    out = {}
    for iss, conf in issuers.items():
        where = f"{path}: issuer {iss}"
        if not isinstance(conf, dict) or ("jwks" in conf) == ("jku" in conf):
            raise TrustFileError(f"{where}: give exactly one of 'jwks' or 'jku'")
        issuer = Issuer(iss)
        if "jwks" in conf:
            issuer.keys = _keys(conf["jwks"], where)
        else:
            if not isinstance(conf["jku"], str) or not conf["jku"].startswith("https://"):
                raise TrustFileError(f"{where}: 'jku' must be an https URL")
            issuer.jku = conf["jku"]
        if "tenants" in conf:
            if not isinstance(conf["tenants"], list) or not all(isinstance(t, str) for t in conf["tenants"]):
                raise TrustFileError(f"{where}: 'tenants' must be a list of strings")
            issuer.tenants = set(conf["tenants"])
        out[iss] = issuer
    return TrustStore(out)


class TrustStore:
    """Verifies tokens; remembers ``jti`` values until their tokens expire."""

    def __init__(self, issuers: dict[str, Issuer], fetch: Any = None) -> None:
        self.issuers = issuers
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._fetch = fetch or _fetch_jwks

    def _key(self, issuer: Issuer, kid: str) -> Any:
        key = issuer.keys.get(kid)
        if key is None and issuer.jku is not None and time.time() - issuer.fetched_at > 10:
            # unknown kid: one refresh of the registered set (key rotation), rate-limited
            issuer.fetched_at = time.time()
            issuer.keys = _keys(self._fetch(issuer.jku), f"jku {issuer.jku}")
            key = issuer.keys.get(kid)
        if key is None:
            raise AuthError(f"unknown kid {kid!r} for issuer {issuer.iss}")
        return key

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The verified claims, or AuthError."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {type(exc).__name__}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} is not allowed")
        if header.get("typ") != "JWT" or not isinstance(kid, str) or not kid:
            raise AuthError("header needs typ JWT and a kid")
        issuer = self.issuers.get(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if issuer is None:
            raise AuthError("issuer is not trusted")
        if "jku" in header and header["jku"] != issuer.jku:
            raise AuthError("jku is not the one registered for this issuer (not fetched)")
        key = self._key(issuer, kid)
        if key.algorithm_name != alg:
            raise AuthError("key and token algorithms differ")
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[alg], audience=audience, issuer=issuer.iss,
                                leeway=LEEWAY, options={"require": ["iss", "aud", "exp", "iat", "jti"],
                                                        "verify_iat": True})
        except jwt.PyJWTError as exc:
            raise AuthError(f"rejected: {type(exc).__name__}") from exc
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise AuthError("jti must be a non-empty string")
        if not isinstance(claims["iat"], (int, float)) or claims["iat"] > time.time() + LEEWAY:
            raise AuthError("iat is in the future")
        if issuer.tenants is not None and claims.get("tenant") not in issuer.tenants:
            raise AuthError("tenant is not allowed")
        now = time.time()
        with self._lock:
            if len(self._seen) > 10000:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            seen = (issuer.iss, claims["jti"])
            if self._seen.get(seen, 0.0) > now:
                raise AuthError("jti replayed")
            self._seen[seen] = float(claims["exp"]) + LEEWAY
        return claims


def _fetch_jwks(url: str) -> Any:
    import httpx

    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()
