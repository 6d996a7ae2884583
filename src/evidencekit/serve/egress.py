"""Which FHIR servers the service may call for a request's data, and a connection guard.

A request's ``fhirServer`` is a URL chosen by whoever sends the request: fetched blindly it
lets a client make the service call its own network (SSRF: cloud metadata at
169.254.169.254, admin ports on loopback, the private network). So:

* an issuer's trust entry may list its FHIR base URLs (``fhirServers``); a request from that
  issuer may name only those, and a listed server may be on a private address;
* any other ``fhirServer`` must be public: a host that is an IP address in any spelling the
  resolver accepts (``127.1``, ``2130706433``, ``0x7f000001``, ``[::1]``) or ``localhost`` is
  judged before any request (400), and every connection the service opens goes through
  :class:`GuardedBackend`, which resolves the name itself, refuses non-public addresses and
  connects to the address it checked (no second lookup for a DNS rebinding to change).

Redirects are never followed (see :mod:`evidencekit.serve.fetch`), and ``next`` links must
stay on ``fhirServer``'s base, so these are the only hosts contacted.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit
from typing import Iterable

import anyio
import httpcore
import httpx

__all__ = ["EgressRefused", "GuardedBackend", "GuardedTransports", "fhir_server_refusal", "guarded_transport",
           "is_public"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(httpx.TransportError):
    """A connection to a non-public address that was not allowed."""


def is_public(address: Address) -> bool:
    """A globally routable unicast address (not loopback, link-local, private, shared or reserved)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> Address | None:
    """The address a host names when it is an IP literal in any form the C resolver accepts."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:  # inet_aton accepts the legacy IPv4 spellings: 127.1, 2130706433, 0x7f000001, 0177.0.0.1
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def fhir_server_refusal(url: str, issuer_servers: set[str] | None, allowed: Iterable[str],
                        allow_loopback: bool) -> tuple[str | None, bool]:
    """(why the service must not call ``url``, or None; whether a private address is allowed).

    ``issuer_servers`` is the calling issuer's ``fhirServers`` list (None: the issuer has none),
    ``allowed`` the service-wide ``--allow-fhir-server`` list, ``allow_loopback`` the test switch
    ``--allow-http-fhir-server`` (a local test server on loopback).
    """
    base = url.rstrip("/")
    if issuer_servers is not None:
        if base not in issuer_servers:
            return "fhirServer is not one of the FHIR servers registered for this issuer", False
        return None, True
    if base in {u.rstrip("/") for u in allowed}:
        return None, True
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return "fhirServer is not a valid URL", False
    address = literal_address(host)
    if allow_loopback and (host == "localhost" or (address is not None and address.is_loopback)):
        return None, True
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not is_public(address)):
        return "fhirServer is not a public address (register it for the issuer in the trust file)", False
    return None, False


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host once, refuses non-public addresses (unless allowed) and connects to
    the address it checked."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[object] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve the FHIR server's host ({type(exc).__name__})") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
        if not addresses:
            raise httpcore.ConnectError("the FHIR server's host has no address")
        if not self.allow_private and not all(is_public(a) for a in addresses):
            raise EgressRefused("the FHIR server's host resolves to a non-public address")
        return await self._backend.connect_tcp(str(addresses[0]), port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)  # type: ignore[arg-type]

    async def connect_unix_socket(self, *args: object, **kwargs: object) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not used for FHIR servers")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS client context of the process (certificates verified; httpx's defaults).

    Building one loads the whole CA bundle (~45 ms of CPU here): made per call, it cost every CDS
    call that names ``fhirServer`` ten times the call itself. A client context is safe to share.
    """
    return httpx.create_ssl_context()


def guarded_transport(allow_private: bool) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through :class:`GuardedBackend` (TLS verified)."""
    transport = httpx.AsyncHTTPTransport(verify=tls_context())
    # httpx builds its httpcore pool without a way to pass a network backend: give it one like
    # its own (same TLS context), with the guard
    transport._pool = httpcore.AsyncConnectionPool(ssl_context=tls_context(),
                                                   network_backend=GuardedBackend(allow_private))
    return transport


class _Borrowed(httpx.AsyncBaseTransport):
    """A shared transport lent to one request's client: closing the client leaves it open."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class GuardedTransports:
    """The service's two guarded transports, made on first use and kept for its life.

    One for the servers that may be private (registered for an issuer or allowed by the
    operator) and one for public servers only, so a connection opened under one rule is never
    reused under the other. Keeping them keeps their connection pools: the TLS handshake with an
    EHR's FHIR server is made once, not per call.
    """

    def __init__(self) -> None:
        self._made: dict[bool, httpx.AsyncHTTPTransport] = {}

    def lend(self, allow_private: bool) -> httpx.AsyncBaseTransport:
        """The transport for a request (its client may close it: the pool stays)."""
        if allow_private not in self._made:
            self._made[allow_private] = guarded_transport(allow_private)
        return _Borrowed(self._made[allow_private])

    async def aclose(self) -> None:
        for transport in self._made.values():
            await transport.aclose()
        self._made.clear()
