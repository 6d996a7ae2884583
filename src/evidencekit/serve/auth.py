"""CDS Hooks client authentication: a signed JWT on every request (CDS Hooks 2.0 §Security).

Trust file (``--trust FILE``)::

    {"issuers": {"https://ehr.example.org": {"jwks": {"keys": [...]},
                                             "fhirServers": ["https://fhir.ehr.example.org/r4"]},
                 "https://sandbox.cds-hooks.org": {"jwks": {"keys": [...]},
                                                   "jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
                                                   "tenants": ["t1"]}}}

An issuer has pinned keys (``jwks``), a registered key set URL (``jku``), or both: pinned
keys are used without a fetch; the ``jku`` is fetched only for a ``kid`` no pinned or fetched
key has, off the event loop, at most once per ``REFRESH_SECONDS`` per issuer, and only for a
token that passes every check that needs no key (so a request without a plausible token
never causes a fetch). ``fhirServers`` lists the FHIR base URLs the issuer's requests may
name (see :mod:`evidencekit.serve.egress`).

Only ES384 and RS384; ``typ`` JWT and ``kid`` required; ``aud`` is the exact endpoint URL
under the configured public base (a string, or an array of that one string); ``exp`` and
``iat`` finite numbers (``nbf`` too when given), ``exp`` at most 5 minutes ahead (CDS Hooks
2.0: "no more than five minutes in the future"), ``jti`` required; a ``jti`` seen before is
rejected until its token expires; a ``jku`` other than the one registered for the issuer is
rejected without being fetched. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from .replay import MemoryReplayCache, ReplayCache, ReplayCacheError

__all__ = ["AuthError", "TrustStore", "load_trust"]

ALGORITHMS = ("ES384", "RS384")
LEEWAY = 60
MAX_LIFETIME = 300  # CDS Hooks 2.0: exp "SHALL be no more than five minutes in the future"
REFRESH_SECONDS = 10.0  # at most one jku fetch per issuer in this time


class AuthError(Exception):
    """Why a token was refused (for the service's own log; the client only sees 401)."""


class TrustFileError(Exception):
    pass


class _NeedsKey(Exception):
    """The token passed every check that needs no key; its kid is unknown and a fetch is allowed."""

    def __init__(self, issuer: "Issuer") -> None:
        self.issuer = issuer


@dataclass
class Issuer:
    iss: str
    pinned: dict[str, Any] = field(default_factory=dict)  # kid -> PyJWK, from the trust file
    fetched: dict[str, Any] = field(default_factory=dict)  # kid -> PyJWK, from the jku
    jku: str | None = None
    tenants: set[str] | None = None
    fhir_servers: set[str] | None = None  # allowed FHIR base URLs (no trailing slash)
    fetched_at: float = float("-inf")

    def key(self, kid: str) -> Any:
        return self.pinned.get(kid) or self.fetched.get(kid)


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


def load_trust(path: Path, replay: ReplayCache | None = None) -> "TrustStore":
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
        if not isinstance(conf, dict) or not ("jwks" in conf or "jku" in conf):
            raise TrustFileError(f"{where}: give 'jwks' (pinned keys), 'jku' (the issuer's key set URL) or both")
        unknown = set(conf) - {"jwks", "jku", "tenants", "fhirServers"}
        if unknown:
            raise TrustFileError(f"{where}: unknown field(s) {sorted(unknown)}")
        issuer = Issuer(iss)
        if "jwks" in conf:
            issuer.pinned = _keys(conf["jwks"], where)
        if "jku" in conf:
            if not isinstance(conf["jku"], str) or not conf["jku"].startswith("https://"):
                raise TrustFileError(f"{where}: 'jku' must be an https URL")
            issuer.jku = conf["jku"]
        if "tenants" in conf:
            if not isinstance(conf["tenants"], list) or not all(isinstance(t, str) for t in conf["tenants"]):
                raise TrustFileError(f"{where}: 'tenants' must be a list of strings")
            issuer.tenants = set(conf["tenants"])
        if "fhirServers" in conf:
            servers = conf["fhirServers"]
            if not isinstance(servers, list) or not all(
                    isinstance(u, str) and u.startswith(("https://", "http://")) and len(u) <= 2000 for u in servers):
                raise TrustFileError(f"{where}: 'fhirServers' must be a list of http(s) base URLs")
            issuer.fhir_servers = {u.rstrip("/") for u in servers}
        out[iss] = issuer
    return TrustStore(out, replay=replay)


def _number(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim: an int or a finite float (never a bool, a string, NaN or infinity)."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not math.isfinite(value)):
        raise AuthError(f"{name} must be a finite number")
    if abs(value) > 1e11:  # beyond year 5000: no clock is there
        raise AuthError(f"{name} is out of range")
    return float(value)


def _check_claims(claims: dict[str, Any], audience: str, now: float) -> None:
    """Every claim check that needs no key (run before any key is looked up or fetched)."""
    for name in ("iss", "aud", "exp", "iat", "jti"):
        if name not in claims:
            raise AuthError(f"{name} is required")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and len(aud) == 1 and aud[0] == audience)):
        raise AuthError("aud must be this endpoint's URL (a string or a one-element array)")
    exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    assert exp is not None and iat is not None
    if exp <= now - LEEWAY:
        raise AuthError("token expired")
    if exp > now + MAX_LIFETIME + LEEWAY:
        raise AuthError(f"exp is more than {MAX_LIFETIME} s ahead")
    if iat > now + LEEWAY:
        raise AuthError("iat is in the future")
    if iat > exp or (nbf is not None and nbf > now + LEEWAY):
        raise AuthError("iat after exp, or not yet valid (nbf)")
    if not isinstance(claims["jti"], str) or not claims["jti"] or len(claims["jti"]) > 256:
        raise AuthError("jti must be a non-empty string")


class TrustStore:
    """Verifies tokens; remembers ``jti`` values until their tokens expire."""

    def __init__(self, issuers: dict[str, Issuer], fetch: Any = None, replay: ReplayCache | None = None) -> None:
        self.issuers = issuers
        self.replay: ReplayCache = replay or MemoryReplayCache()
        self._lock = threading.Lock()
        self._fetch = fetch or _fetch_jwks

    def _refresh(self, issuer: Issuer) -> None:
        """Fetch the issuer's registered key set (blocking: the async path runs it in a thread)."""
        try:
            issuer.fetched = _keys(self._fetch(issuer.jku), f"jku {issuer.jku}")
        except Exception as exc:  # noqa: BLE001 - any failure of the fetch is a refused token
            raise AuthError(f"jku fetch failed: {type(exc).__name__}") from exc

    def _verify(self, token: str, audience: str, refreshed: bool = False) -> dict[str, Any]:
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
        now = time.time()
        _check_claims(unverified, audience, now)
        if issuer.tenants is not None and unverified.get("tenant") not in issuer.tenants:
            raise AuthError("tenant is not allowed")
        if self._replayed(issuer.iss, unverified["jti"]):
            raise AuthError("jti replayed")
        key = issuer.key(kid)
        if key is None:
            with self._lock:  # one fetch per issuer per REFRESH_SECONDS, reserved before it starts
                allowed = not refreshed and issuer.jku is not None and now - issuer.fetched_at >= REFRESH_SECONDS
                if allowed:
                    issuer.fetched_at = now
            if allowed:
                raise _NeedsKey(issuer)
            raise AuthError(f"unknown kid {kid!r} for issuer {issuer.iss}")
        if key.algorithm_name != alg:
            raise AuthError("key and token algorithms differ")
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[alg], audience=audience, issuer=issuer.iss,
                                leeway=LEEWAY, options={"require": ["iss", "aud", "exp", "iat", "jti"],
                                                        "verify_iat": True})
        except jwt.PyJWTError as exc:
            raise AuthError(f"rejected: {type(exc).__name__}") from exc
        try:
            first = self.replay.first_use(issuer.iss, claims["jti"], float(claims["exp"]) + LEEWAY)
        except ReplayCacheError as exc:
            raise AuthError(str(exc)) from exc
        if not first:
            raise AuthError("jti replayed")
        return claims

    def _replayed(self, iss: str, jti: str) -> bool:
        try:
            return self.replay.seen(iss, jti)
        except ReplayCacheError as exc:
            raise AuthError(str(exc)) from exc

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The verified claims, or AuthError (a needed key fetch runs in this thread)."""
        try:
            return self._verify(token, audience)
        except _NeedsKey as need:
            self._refresh(need.issuer)
            return self._verify(token, audience, refreshed=True)

    async def verify_async(self, token: str, audience: str) -> dict[str, Any]:
        """As :meth:`verify`, with the key fetch off the event loop (other requests go on); with a
        replay cache over the network, the whole verification runs in a thread."""
        if not isinstance(self.replay, MemoryReplayCache):
            return await asyncio.to_thread(self.verify, token, audience)
        try:
            return self._verify(token, audience)
        except _NeedsKey as need:
            await asyncio.to_thread(self._refresh, need.issuer)
            return self._verify(token, audience, refreshed=True)


def _fetch_jwks(url: str) -> Any:
    import httpx

    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()
