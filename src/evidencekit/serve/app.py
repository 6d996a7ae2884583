"""The CDS Hooks 2.0 service (FastAPI): discovery, one service per compiled PlanDefinition,
feedback. Build it with :func:`create_app`; ``evidencekit serve`` runs it under uvicorn."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from .auth import AuthError, TrustStore
from .cards import card_for
from .egress import GuardedTransports, fhir_server_refusal
from .fetch import FetchError, gather
from .knowledge import Knowledge, Service
from .models import CONTEXT_FIELDS, HTTPS_URL, CardsResponse, CdsRequest, Discovery, FeedbackRequest, OperationOutcome

__all__ = ["Settings", "create_app"]

log = logging.getLogger("evidencekit.serve")
access = logging.getLogger("evidencekit.serve.access")


@dataclass
class Settings:
    public_url: str  # the externally visible base URL; JWT "aud" is checked against it
    trust: TrustStore | None  # None only with --insecure-no-auth
    fhir_base: str | None = None  # where the knowledge is published (card links)
    source_url: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_body: int = 5 * 1024 * 1024
    allow_http_fhir: bool = False  # only for a FHIR server on loopback in tests (http and loopback allowed)
    fhir_servers: list[str] = field(default_factory=list)  # --allow-fhir-server: callable whatever the issuer
    fetch_timeout: float = 10.0
    max_pages: int = 50
    transport: Any = None  # an httpx transport for the EHR's FHIR server (tests inject faults here)
    site: Path | None = None  # --site: the evidence report site, served read-only at /site/


_FHIR_SERVER = re.compile(HTTPS_URL)


def _fhir_server_ok(url: str, allow_http: bool) -> bool:
    """An absolute https URL of plain ASCII (http only when explicitly allowed for a test server)."""
    if allow_http and url.startswith("http://"):
        url = "https://" + url[len("http://"):]
    return len(url) <= 2000 and _FHIR_SERVER.match(url) is not None


#: the site's pages need nothing but themselves: no script, no other origin
_SITE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _mount_site(app: FastAPI, site: Path) -> None:
    """The evidence report at /site/ (GET and HEAD only; no symlink is followed out of it)."""
    from starlette.staticfiles import StaticFiles

    app.mount("/site", StaticFiles(directory=site, html=True, follow_symlink=False), name="site")

    @app.middleware("http")
    async def site_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        if request.url.path == "/site" or request.url.path.startswith("/site/"):
            response.headers.update(_SITE_HEADERS)
        return response


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _problem(status: int, message: str) -> Response:
    return _json({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid" if status < 500 else "exception", "diagnostics": message[:300]}]},
        status)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


_ERRORS = {400: {"model": OperationOutcome, "description": "malformed request (short reason)"},
           401: {"description": "missing or invalid JWT (no body)"},
           404: {"model": OperationOutcome, "description": "unknown service id"},
           413: {"model": OperationOutcome, "description": "request body too large"}}


def create_app(knowledge: Knowledge, settings: Settings) -> FastAPI:
    """The ASGI app for ``knowledge`` (see :func:`evidencekit.serve.knowledge.load_knowledge`)."""
    app = FastAPI(title="evidencekit CDS Hooks service", version="2.0.1", openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="CDS Hooks 2.0 services generated from compiled FHIR R5 PlanDefinitions.")
    base = settings.public_url.rstrip("/")
    feedback_log: deque[dict[str, Any]] = deque(maxlen=10000)
    app.state.feedback = feedback_log
    transports = GuardedTransports()
    app.router.on_shutdown.append(transports.aclose)
    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        """Body size limit, then the JWT, before anything reads the request."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body):
            return _problem(413, f"request body over {settings.max_body} bytes")
        path = request.url.path
        request.state.claims = None
        if request.method != "OPTIONS" and (path == "/cds-services" or path.startswith("/cds-services/")):
            # "aud" is the URL as the client invoked it: the raw (still percent-encoded) path
            claims = await _authenticated(request, request.scope.get("raw_path", path.encode()).decode("latin-1"))
            if claims is None:
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            request.state.claims = claims
        if request.method == "POST":
            body = bytearray()
            try:
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > settings.max_body:
                        return _problem(413, f"request body over {settings.max_body} bytes")
            except ClientDisconnect:
                log.info("client disconnected during the upload of %s", path[:200])
                return Response(status_code=400)  # nobody reads it
            if path.startswith("/cds-services/"):  # the POST endpoints (elsewhere routing answers 404/405)
                try:
                    orjson.loads(bytes(body))  # strict JSON (RFC 8259): no NaN or Infinity literals
                except orjson.JSONDecodeError:
                    return _problem(400, "the body is not valid JSON (RFC 8259; NaN and Infinity are not JSON)")
            request._body = bytes(body)  # read once, bounded; FastAPI reuses it
        return await call_next(request)

    async def _authenticated(request: Request, path: str) -> dict[str, Any] | None:
        """The verified claims, {} without authentication (--insecure-no-auth), or None: refused."""
        if settings.trust is None:
            return {}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = await settings.trust.verify_async(token.strip(), base + path)
        except AuthError as exc:
            log.warning("refused token for %s: %s", path[:200], exc)
            return None
        log.info("authenticated iss=%s jti=%s", claims.get("iss"), claims.get("jti"))
        return claims

    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Response:
        """(Outside the guard, so refusals are logged too.) One line per request: method, path, status, time (never a header, a body or a query)."""
        start = time.perf_counter()
        response = await call_next(request)
        access.info("%s %s %d %.1f ms", request.method, request.url.path[:200], response.status_code,
                    (time.perf_counter() - start) * 1000)
        return response

    # added last, so outermost: a preflight is answered before authentication
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["Authorization", "Content-Type"])

    if settings.site is not None:
        _mount_site(app, settings.site)

    @app.exception_handler(_Refused)
    async def refused(_request: Request, exc: _Refused) -> Response:
        return _problem(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        # e.g. a body FastAPI cannot parse, a wrong method: the same short OperationOutcome
        response = _problem(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        return _problem(400, f"{where}: {first.get('msg', 'invalid request')}")

    def service_for(service_id: str, hook: str | None = None) -> Service:
        if service_id not in knowledge.services and service_id not in knowledge.aliases:
            raise _Refused(404, f"no CDS service '{service_id[:100]}'")
        service = knowledge.find(service_id, hook)
        if service is None or (hook is not None and service.hook != hook):
            raise _Refused(400, f"service '{service_id[:100]}' does not handle hook '{(hook or '')[:50]}'"
                                f" (it handles {', '.join(knowledge.hooks_of(service_id))})")
        return service

    @app.get("/cds-services", response_model=Discovery, responses={401: _ERRORS[401]})
    async def discovery() -> Response:
        """Discovery: every service, one id per (recommendation, hook)."""
        services = []
        for service in knowledge.services.values():
            services.append({"hook": service.hook, "id": service.id,
                             "title": service.plan.get("title", service.id),
                             "description": service.plan.get("description", service.plan.get("title", "")),
                             "prefetch": service.prefetch(),
                             "usageRequirements": "Needs the patient, their Conditions and their medication "
                                                  "history (prefetch, or fhirServer with fhirAuthorization)."})
        return _json({"services": services})

    @app.post("/cds-services/{service_id}", response_model=CardsResponse,
              responses={**_ERRORS, 412: {"model": OperationOutcome,
                                          "description": "required data could not be obtained"}})
    async def call(service_id: str, body: CdsRequest, request: Request) -> Response:
        """Call a service: cards for this patient, or ``{"cards": []}``."""
        service = service_for(service_id, body.hook)
        for name, (required, kind) in CONTEXT_FIELDS[body.hook].items():
            value = body.context.get(name)
            if value is None:
                if required:
                    raise _Refused(400, f"context.{name} is required for {body.hook}")
            elif not isinstance(value, kind) or (kind is str and not value):
                raise _Refused(400, f"context.{name} must be a {'string' if kind is str else kind.__name__}")
        if not all(isinstance(item, str) for item in body.context.get("selections") or []):
            raise _Refused(400, "context.selections must be a list of strings")
        if body.fhirAuthorization is not None and not body.fhirServer:
            raise _Refused(400, "fhirServer is required with fhirAuthorization")
        transport = settings.transport
        if body.fhirServer is not None:
            if not _fhir_server_ok(body.fhirServer, settings.allow_http_fhir):
                raise _Refused(400, "fhirServer must be an https URL")
            issuer = settings.trust.issuers.get((request.state.claims or {}).get("iss", "")) \
                if settings.trust is not None else None
            refusal, allow_private = fhir_server_refusal(body.fhirServer, issuer.fhir_servers if issuer else None,
                                                         settings.fhir_servers, settings.allow_http_fhir)
            if refusal is not None:
                raise _Refused(400, refusal)
            transport = transport or transports.lend(allow_private)
        try:
            data = await gather(service, body, settings.fetch_timeout, settings.max_pages, transport)
        except FetchError as exc:
            log.debug("%s %s: %d %s", service.id, body.hookInstance, exc.status, exc.message)
            return _problem(exc.status, exc.message)
        decision = service.rule.evaluate(data.patient, data.records, body.hook, data.selections)
        if not decision.applies:
            # the hook instance, never the patient: why this call got no card
            log.debug("%s %s: no card: not met: %s", service.id, body.hookInstance, decision.failed)
            return _json({"cards": []})
        log.debug("%s %s: card: every condition met", service.id, body.hookInstance)
        return _json({"cards": [card_for(service, decision, settings.fhir_base, settings.source_url,
                                         body.context.get("patientId"))]})

    @app.post("/cds-services/{service_id}/feedback", status_code=204, responses={**_ERRORS,
              204: {"description": "feedback recorded (no body)"}})
    async def feedback(service_id: str, body: FeedbackRequest) -> Response:
        """Feedback on cards (our contract: 204, 400, 401, 404; repeated feedback is accepted)."""
        service_for(service_id)
        for i, item in enumerate(body.feedback):
            if item.outcome == "accepted" and not item.acceptedSuggestions:
                raise _Refused(400, f"feedback[{i}]: accepted needs acceptedSuggestions")
            reason = item.overrideReason
            if reason is not None and reason.reason is None and reason.userComment is None:
                raise _Refused(400, f"feedback[{i}].overrideReason needs reason or userComment")
        for item in body.feedback:
            feedback_log.append({"service": service_id, "card": item.card, "outcome": item.outcome,
                                 "reason": item.overrideReason.reason.code if item.overrideReason
                                 and item.overrideReason.reason else None, "at": item.outcomeTimestamp,
                                 "id": str(uuid.uuid4())})
        log.info("feedback for %s: %d item(s)", service_id, len(body.feedback))
        return Response(status_code=204)

    def openapi() -> dict[str, Any]:
        """FastAPI's document plus the JWT scheme every CDS endpoint requires."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            document.setdefault("components", {})["securitySchemes"] = {"cdsHooksJwt": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "CDS Hooks 2.0 client JWT: ES384 or RS384, aud = the exact endpoint URL, "
                               "exp, iat and jti required, a jti is accepted once"}}
            for path in document["paths"].values():
                for operation in path.values():
                    operation["security"] = [{"cdsHooksJwt": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
