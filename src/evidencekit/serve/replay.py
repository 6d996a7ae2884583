"""The token replay cache: a ``jti`` is accepted once per issuer until its token expires.

In memory by default (one process). Behind a load balancer every replica must see the same
cache, or a token replayed to another replica is accepted: ``--replay-cache redis://host:port/db``
keeps it in Redis, where ``SET key 1 NX EXAT <expiry>`` records a ``jti`` and tells whether it
was new in one atomic step (two replicas racing with the same token: exactly one wins).
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["MemoryReplayCache", "RedisReplayCache", "ReplayCache", "ReplayCacheError", "replay_cache"]


class ReplayCacheError(Exception):
    """The replay cache cannot be used (bad URL, server unreachable): tokens are refused."""


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until ``expires_at``; True when it had not been seen before."""
        ...

    def seen(self, issuer: str, jti: str) -> bool:
        """Whether (issuer, jti) is recorded and not expired (a cheap check before any key work)."""
        ...


class MemoryReplayCache:
    """One process's cache (the default)."""

    def __init__(self, limit: int = 10000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def seen(self, issuer: str, jti: str) -> bool:
        with self._lock:
            return self._seen.get((issuer, jti), 0.0) > time.time()

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) > self._limit:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            if self._seen.get((issuer, jti), 0.0) > now:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True


class RedisReplayCache:
    """A cache shared by every replica, in Redis (keys ``evidencekit:jti:<sha256 of iss and jti>``)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    @staticmethod
    def _key(issuer: str, jti: str) -> str:
        # hashed: neither the issuer nor the jti is stored, and any length or byte is a fixed-size key
        return "evidencekit:jti:" + hashlib.sha256(f"{issuer}\x00{jti}".encode()).hexdigest()

    def seen(self, issuer: str, jti: str) -> bool:
        try:
            return bool(self._client.exists(self._key(issuer, jti)))
        except Exception as exc:  # noqa: BLE001 - redis raises many kinds; all mean "cannot tell"
            raise ReplayCacheError(f"replay cache unavailable: {type(exc).__name__}") from exc

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        try:
            return bool(self._client.set(self._key(issuer, jti), b"1", nx=True, exat=max(int(expires_at) + 1, 1)))
        except Exception as exc:  # noqa: BLE001
            raise ReplayCacheError(f"replay cache unavailable: {type(exc).__name__}") from exc

    def ping(self) -> None:
        try:
            self._client.ping()
        except Exception as exc:  # noqa: BLE001
            raise ReplayCacheError(f"cannot reach the replay cache: {type(exc).__name__}: {exc}") from exc


def replay_cache(url: str | None) -> MemoryReplayCache | RedisReplayCache:
    """The cache a ``--replay-cache`` value names: None -> in memory; ``redis://`` or ``rediss://``."""
    if url is None or url == "memory":
        return MemoryReplayCache()
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise ReplayCacheError(f"--replay-cache: expected memory, redis://… or rediss://…, got {scheme or url!r}")
    cache = RedisReplayCache(url)
    cache.ping()
    return cache
