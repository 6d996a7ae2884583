"""``evidencekit serve``: a CDS Hooks 2.0 service run from compiled PlanDefinitions."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import click

from .app import Settings, create_app
from .auth import TrustFileError, load_trust
from .knowledge import KnowledgeError, load_knowledge
from .replay import ReplayCacheError
from .replay import replay_cache as make_replay_cache

__all__ = ["Settings", "create_app", "load_knowledge", "serve"]

EXIT_OK, EXIT_USAGE = 0, 2


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def knowledge_dir(output: Path) -> Path:
    """``output`` or its ``r5`` folder, whichever holds the build."""
    return output / "r5" if (output / "r5").is_dir() else output


def serve(output: Path, *, host: str, port: int, public_url: str | None, trust_file: Path | None,
          insecure_no_auth: bool, fhir_base: str | None, source_url: str | None, cors_origins: list[str],
          max_body: int, ssl_certfile: str | None, ssl_keyfile: str | None, allow_http_fhir: bool,
          fhir_servers: list[str] | None = None, replay_cache: str = "memory", log_level: str = "info",
          expansions: list[Path] | None = None, terminology_server: str | None = None,
          site: Path | None = None) -> int:
    """Check the settings, load the knowledge and run uvicorn until interrupted."""
    import uvicorn

    def refuse(message: str) -> int:
        click.echo(f"evidencekit serve: {message}", err=True)
        return EXIT_USAGE

    if (trust_file is None) == (not insecure_no_auth):
        return refuse("give --trust FILE, or --insecure-no-auth for local testing (not both)")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        return refuse("--ssl-certfile and --ssl-keyfile go together")
    tls = bool(ssl_certfile)
    if not tls and not _loopback(host):
        return refuse(f"refusing plain HTTP on {host}: CDS Hooks requires TLS; give --ssl-certfile/--ssl-keyfile "
                      "(or bind to 127.0.0.1 behind a TLS proxy)")
    if insecure_no_auth and not _loopback(host):
        return refuse("--insecure-no-auth is only allowed on a loopback address")
    for name, url in (("--source-url", source_url), ("--public-url", public_url),
                      ("--terminology-server", terminology_server)):
        if url is not None and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return refuse(f"{name} must be an https URL")
    try:
        knowledge = load_knowledge(knowledge_dir(output), expansions=expansions or (),
                                   terminology_server=terminology_server)
        trust = load_trust(trust_file, make_replay_cache(replay_cache)) if trust_file is not None else None
    except (KnowledgeError, TrustFileError, ReplayCacheError) as exc:
        return refuse(str(exc))
    if site is not None and not (site / "index.html").is_file():
        return refuse(f"--site {site}: no index.html there (run `evidencekit report` first)")
    if not knowledge.services:
        return refuse(f"no eca-rule PlanDefinition in {knowledge_dir(output)}: add a recommendation and build")
    if insecure_no_auth:
        click.secho("WARNING: --insecure-no-auth: every request is accepted without a JWT. "
                    "Never use this with real patient data.", fg="red", bold=True, err=True)
    scheme = "https" if tls else "http"
    settings = Settings(public_url=public_url or f"{scheme}://{host}:{port}", trust=trust, fhir_base=fhir_base,
                        source_url=source_url, cors_origins=cors_origins, max_body=max_body,
                        allow_http_fhir=allow_http_fhir, fhir_servers=list(fhir_servers or []), site=site)
    for url in settings.fhir_servers:
        if not url.startswith(("https://", "http://")):
            return refuse(f"--allow-fhir-server {url[:100]}: give an http(s) base URL")
    logging.basicConfig(level=getattr(logging, log_level.upper()),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry full URLs
    app = create_app(knowledge, settings)
    if knowledge.value_sets is not None and (expansions or terminology_server):
        expanded = knowledge.value_sets.expansions
        click.echo(f"expansions: {len(expanded)} ValueSet(s), {sum(len(c) for c in expanded.values()):,} code(s)",
                   err=True)
        for why in knowledge.value_sets.declined:
            click.secho(f"WARNING: not expanded, matched by its compose only: {why}", fg="yellow", err=True)
    if site is not None:
        click.echo(f"evidence report: {settings.public_url}/site/ (read-only)", err=True)
    click.echo(f"CDS Hooks discovery: {settings.public_url}/cds-services "
               f"({len(knowledge.services)} service(s): {', '.join(knowledge.services)})", err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                log_level=log_level, access_log=False, server_header=False)  # our access log never logs queries
    return EXIT_OK
