"""HTTP to the FHIR server: headers and tokens, retries with backoff, Retry-After, JSON bodies."""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from decimal import Decimal

import httpx

from ..fhirjson import dumps_bytes
from .model import Json, PushOptions, ServerRejected, ServerUnreachable

RETRY_STATUS = {429, 502, 503, 504}


def retry_after_seconds(value: str, now: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (RFC 9110 §10.2.3: ``delay-seconds`` = 1*DIGIT, or an
    HTTP-date), never negative; None for anything else (``-5``, ``nan``, ``1e9``...): back off as usual."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(min(int(text[:12]), 10**9))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        return max(0.0, when.timestamp() - now)
    except (OverflowError, OSError, ValueError):
        return None


class _Http:
    def __init__(self, options: PushOptions, client: httpx.Client | None) -> None:
        self.options = options
        self.base = options.server.rstrip("/")
        headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
        if options.bearer_token:
            headers["Authorization"] = f"Bearer {options.bearer_token}"
        self.client = client or httpx.Client(timeout=options.timeout, verify=options.verify)
        self.headers = headers
        self.requests = 0
        self.lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        if self.options.smart is None:
            return self.headers
        from ..smart import SmartError

        try:
            token = self.options.smart.token(self.client, self.base)
        except SmartError as exc:
            raise ServerRejected(f"SMART authorization failed: {exc}") from None
        return {**self.headers, "Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, body: Json | None = None) -> httpx.Response:
        url = f"{self.base}/{path}" if path and not path.startswith("?") else self.base + path
        content = None if body is None else dumps_bytes(body, pretty=False)  # decimals as authored
        for attempt in range(self.options.retries + 1):
            with self.lock:
                self.requests += 1
            try:
                response = self.client.request(method, url, content=content, headers=self._headers())
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == self.options.retries:
                    raise ServerUnreachable(f"{method} {url}: {type(exc).__name__} after "
                                            f"{attempt + 1} attempt(s)") from None
                time.sleep(self._delay(attempt, None))
                continue
            except httpx.HTTPError as exc:  # TLS failures, invalid URLs: retrying will not help
                raise ServerUnreachable(f"{method} {url}: {type(exc).__name__}: {_safe(str(exc))}") from None
            if response.status_code in RETRY_STATUS and attempt < self.options.retries:
                time.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code in RETRY_STATUS:
                raise ServerUnreachable(f"{method} {url}: HTTP {response.status_code} after "
                                        f"{attempt + 1} attempt(s)")
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        wait = retry_after_seconds(retry_after, time.time()) if retry_after else None
        if wait is not None:
            return min(wait, self.options.max_backoff)
        base = min(self.options.backoff * (2 ** attempt), self.options.max_backoff)
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not security

    def json(self, response: httpx.Response, what: str) -> Json:
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ServerRejected(f"{what}: HTTP {response.status_code}, body is not JSON "
                                 f"({len(response.content)} bytes)") from None
        if not isinstance(data, dict):
            raise ServerRejected(f"{what}: HTTP {response.status_code}, body is not a FHIR resource")
        return data


def _safe(text: str) -> str:
    return text.replace("Bearer", "Bearer[redacted]") if "Bearer" in text else text


def _issues(outcome: Json | None) -> list[str]:
    if not isinstance(outcome, dict):
        return []
    out = []
    for issue in outcome.get("issue", []) or []:
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code", "")
        out.append(f"{issue.get('severity', '?')}: {text}" + (f" [{where}]" if where else ""))
    return out
