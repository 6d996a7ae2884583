"""The ``evidencekit`` command line: a thin shell over :mod:`evidencekit.pipeline`.

Exit codes: 0 success (warnings allowed), 1 errors in the input or output,
2 usage or environment error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from . import __version__
from .diagnostics import SHOWN_PER_CODE, Diagnostic, Severity, has_errors, render

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_REJECTED, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
FORMATS = click.Choice(["text", "json", "sarif"])


def _emit(diagnostics: list[Diagnostic], fmt: str, summary: str = "", *, show_info: bool = False,
          show_all: bool = False) -> int:
    if fmt == "text":
        shown = diagnostics if show_info else [d for d in diagnostics if d.severity is not Severity.INFO]
        text = render(shown, "text", shown_per_code=None if show_all else SHOWN_PER_CODE)
        if len(shown) != len(diagnostics):
            text += f" ({len(diagnostics) - len(shown)} info not shown; use --format json or --show-info)"
        click.echo(text)
        if summary:
            click.echo(summary)
    else:
        click.echo(render(diagnostics, fmt))
    if any(d.code.startswith("EK5") and d.severity is Severity.ERROR for d in diagnostics):
        return EXIT_USAGE  # environment: unwritable output, bad settings file
    return EXIT_ERRORS if has_errors(diagnostics) else EXIT_OK


def _guard(command: Callable[..., int]) -> Callable[..., None]:
    """Run a command, turning unexpected exceptions into exit code 2 without a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("EVIDENCEKIT_DEBUG"):
                raise
            click.echo(f"evidencekit: internal error: {type(exc).__name__}: {exc} "
                       "(set EVIDENCEKIT_DEBUG=1 for a traceback, and please report it)", err=True)
            sys.exit(EXIT_USAGE)
        sys.exit(code)

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper


_show_info_option = click.option("--show-info", is_flag=True,
                                 help="Also print info diagnostics (e.g. checks that could not be run).")
_show_all_option = click.option("--all", "show_all", is_flag=True,
                                help=f"Print every diagnostic in full (by default the first {SHOWN_PER_CODE} of "
                                     "each code, then one count line per code).")


def _progress_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--progress", "progress", is_flag=True,
                           help="Show progress and the phase table even when stderr is not a terminal.")(command)
    return click.option("-q", "--quiet", is_flag=True, help="No progress display and no phase table.")(command)


@contextlib.contextmanager
def _reporter(quiet: bool, forced: bool) -> Iterator[Any]:
    """Live progress on stderr when it is a terminal (or ``--progress``); nothing with ``--quiet``."""
    from .progress import QUIET, rich_reporter

    if quiet or not (forced or sys.stderr.isatty()):
        yield QUIET
        return
    from rich.console import Console

    with rich_reporter(Console(stderr=True, force_terminal=forced or None)) as reporter:
        yield reporter


def _print_phases(reporter: Any, title: str) -> None:
    from rich.console import Console

    from .progress import Phases

    if isinstance(reporter, Phases) and reporter.records:
        Console(stderr=True, width=100).print(reporter.table(title))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evidencekit")
def main() -> None:
    """Compile study definitions (YAML) into validated FHIR R5 evidence resources."""


@main.command("check")
@click.argument("definitions", default="definitions", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@_show_info_option
@_show_all_option
@_guard
def check_command(definitions: Path, fmt: str, show_info: bool, show_all: bool) -> int:
    """Load DEFINITIONS and run the consistency checks (nothing is written)."""
    from .pipeline import check

    result = check(definitions)
    questions = f" and {len(result.questions)} question definition(s)" if result.questions else ""
    return _emit(result.diagnostics, fmt, f"checked {len(result.studies)} study definition(s){questions}",
                 show_info=show_info, show_all=show_all)


@main.command("build")
@click.argument("definitions", default="definitions", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", default="output", show_default=True, type=click.Path(path_type=Path),
              help="Output directory; resources are written to OUTPUT/r5.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Settings file (default: evidencekit.yaml in DEFINITIONS or the nearest directory above it).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--no-derived", is_flag=True,
              help="Emit no derived values (counts from percentages, Wilson CIs, summed Ns): only what the "
                   "sources report.")
@_show_info_option
@_show_all_option
@_progress_options
@click.option("--watch", is_flag=True, help="Build, then rebuild on every change to DEFINITIONS (only what a "
                                            "change touches) until interrupted.")
@_guard
def build_command(definitions: Path, output: Path, config_path: Path | None, fmt: str, no_derived: bool,
                  show_info: bool, show_all: bool, quiet: bool, progress: bool, watch: bool) -> int:
    """Check, compile and validate DEFINITIONS, then write OUTPUT/r5 atomically."""
    from .config import find_config, load_config
    from .pipeline import build

    if config_path is not None and not config_path.is_file():
        raise click.BadParameter(f"{config_path} does not exist", param_hint="--config")
    config_path = config_path or find_config(definitions)
    config, problems = load_config(config_path)
    if config is None:
        return _emit(problems, fmt, "nothing written: the settings file is invalid", show_info=show_info)
    if no_derived:
        config = config.model_copy(update={"derived_values": False})
    if watch:
        return _watch(definitions, output, config, config_path, fmt, show_info, show_all)
    with _reporter(quiet, progress) as reporter:
        result = build(definitions, output, config=config, progress=reporter)
    _print_phases(reporter, "build")
    summary = ""
    if result.written_to is not None and result.compiled is not None:
        counts = Counter(r["resourceType"] for r in result.compiled.resources)
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
        questions = f" and {len(result.questions)} question definition(s)" if result.questions else ""
        summary = (f"built {len(result.compiled.resources)} resources ({kinds}) from "
                   f"{len(result.studies)} study definition(s){questions} into {result.written_to}")
    elif has_errors(result.diagnostics):
        summary = "nothing written: fix the errors above (the previous output is untouched)"
    summary += (f"\nsettings: {config_path}" if config_path is not None else
                f"\nwarning: no evidencekit.yaml in {definitions} or above it: used the default settings "
                f"(canonical base {config.canonical_base}); `evidencekit init` writes one")
    return _emit(result.diagnostics, fmt, summary.lstrip("\n"), show_info=show_info, show_all=show_all)


def _watch(definitions: Path, output: Path, config: Any, config_path: Path | None, fmt: str, show_info: bool,
           show_all: bool) -> int:
    """The watch loop: a full build, then an incremental one per batch of changes; the whole-corpus
    files are rewritten once the definitions have been quiet for a while (and on Ctrl-C)."""
    from watchfiles import watch

    from .watch import QUIET_SECONDS, Workspace

    workspace = Workspace(definitions, output, config)
    first = workspace.full_build()
    _emit(first.diagnostics, fmt, f"built {first.written} resources in {first.seconds:.2f} s; watching "
          f"{definitions} (Ctrl-C stops)" if first.ok else "nothing written: fix the errors above; watching",
          show_info=show_info, show_all=show_all)
    paths = [definitions] + ([config_path] if config_path is not None else [])
    try:
        for changes in watch(*paths, rust_timeout=int(QUIET_SECONDS * 1000), yield_on_timeout=True,
                             debounce=50, raise_interrupt=True):
            if not changes:
                if workspace.stale:
                    done = workspace.refresh()
                    click.echo(f"output complete: bundles, NDJSON, package and source map rewritten "
                               f"({done.seconds:.2f} s)")
                continue
            update = workspace.update({Path(p) for _, p in changes})
            what = "everything" if update.full else (", ".join(update.rebuilt[:5]) or "nothing") + \
                (f" and {len(update.rebuilt) - 5} more" if len(update.rebuilt) > 5 else "")
            summary = (f"rebuilt {what}: {update.written} resource file(s) written, {update.removed} removed, "
                       f"{update.seconds:.2f} s" if update.ok else "nothing written: fix the errors above")
            _emit(update.diagnostics, fmt, summary, show_info=show_info, show_all=show_all)
    except KeyboardInterrupt:
        if workspace.stale:
            workspace.refresh()
        click.echo("stopped; the output is complete", err=True)
    return EXIT_OK


@main.command("validate")
@click.argument("output", default="output", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--list-skipped-invariants", is_flag=True,
              help="List the R5 invariants (and value sets) this validator cannot evaluate, and exit.")
@click.option("--layers", default="all", show_default=True, metavar="NAMES",
              help="Comma-separated validation layers to run: models, structure, primitives, cardinality, "
                   "bindings, invariants, target-types, references, profiles.")
@_show_info_option
@_show_all_option
@_guard
def validate_command(output: Path, fmt: str, list_skipped_invariants: bool, layers: str, show_info: bool,
                     show_all: bool) -> int:
    """Validate built FHIR output (a directory such as output/r5, or one JSON file)."""
    if list_skipped_invariants:
        return _list_skipped(output)
    from .pipeline import validate_directory
    from .validate import LAYERS

    selected = None if layers == "all" else [name.strip() for name in layers.split(",") if name.strip()]
    unknown = sorted(set(selected or []) - set(LAYERS))
    if unknown or selected == []:
        raise click.BadParameter(f"unknown layer(s) {', '.join(unknown) or '(none given)'}; "
                                 f"choose from {', '.join(LAYERS)}", param_hint="--layers")
    diagnostics = validate_directory(output, selected)
    return _emit(diagnostics, fmt, f"validated {output}", show_info=show_info, show_all=show_all)


@main.command("push")
@click.argument("output", default="output", type=click.Path(exists=True, path_type=Path))
@click.option("--server", required=True, metavar="URL", help="FHIR R5 base URL, e.g. http://127.0.0.1:8080/fhir")
@click.option("--chunk-size", default=100, show_default=True, type=click.IntRange(1, 5000),
              help="Resources per transaction (a reference cycle is never split).")
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Transactions in flight at once (only between independent transactions).")
@click.option("--dry-run", is_flag=True, help="Show what would be created, updated or skipped; write nothing.")
@click.option("--conditional", is_flag=True, help="Create new canonical resources with If-None-Exist on url|version.")
@click.option("--bearer-token-env", metavar="VAR", help="Send the token held in environment variable VAR.")
@click.option("--smart-client-id", metavar="ID", help="SMART Backend Services: the registered client id.")
@click.option("--smart-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="SMART Backend Services: PEM private key (RSA for RS384, EC P-384 for ES384).")
@click.option("--smart-token-url", metavar="URL",
              help="Token endpoint (default: from [base]/.well-known/smart-configuration).")
@click.option("--smart-scope", default="system/*.rs system/*.cu", show_default=True)
@click.option("--smart-kid", metavar="KID", help="Key id to put in the assertion's header.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 3600), help="Seconds per request.")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20),
              help="Retries on 429/502/503/504 and timeouts (exponential backoff, Retry-After honoured).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CA certificates to verify the server with (TLS is always verified).")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Progress file: an interrupted push rerun with it continues where it stopped.")
@click.option("--no-search-parameters", is_flag=True,
              help="Do not send the output's SearchParameters first (the server then cannot search by them "
                   "until they are added and the data reindexed).")
@click.option("--activation-timeout", default=120.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds to wait for the server to search by the SearchParameters before the data is sent.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_progress_options
@_guard
def push_command(output: Path, server: str, chunk_size: int, concurrency: int, dry_run: bool, conditional: bool,
                 bearer_token_env: str | None, smart_client_id: str | None, smart_key: Path | None,
                 smart_token_url: str | None, smart_scope: str, smart_kid: str | None, timeout: float,
                 retries: int, ca_bundle: Path | None, state_file: Path | None, no_search_parameters: bool,
                 activation_timeout: float, fmt: str, quiet: bool, progress: bool) -> int:
    """Load OUTPUT (output/, output/r5 or a bundle) into a FHIR R5 server, idempotently.

    The output's SearchParameters go first, and the data only once the server searches by them."""
    from .publish.push import (PushError, PushOptions, ServerUnreachable, load_resources, load_search_parameters,
                               push)
    from .validate import LAYERS, OutputSet, validate_output

    if not server.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--server")
    token = None
    if bearer_token_env:
        token = os.environ.get(bearer_token_env)
        if not token:
            raise click.BadParameter(f"environment variable {bearer_token_env} is not set", param_hint="--bearer-token-env")
    smart = None
    if smart_client_id or smart_key:
        if not (smart_client_id and smart_key):
            raise click.BadParameter("give both --smart-client-id and --smart-key", param_hint="--smart-key")
        if token:
            raise click.BadParameter("use either a bearer token or SMART, not both", param_hint="--bearer-token-env")
        from .publish.smart import SmartAuth, SmartError

        smart = SmartAuth(smart_client_id, smart_key, smart_scope, smart_token_url, smart_kid)
        try:
            smart.algorithm()
        except SmartError as exc:
            raise click.BadParameter(str(exc), param_hint="--smart-key") from None
    options = PushOptions(server=server, chunk_size=chunk_size, concurrency=concurrency, dry_run=dry_run,
                          conditional=conditional, timeout=timeout, retries=retries, bearer_token=token,
                          smart=smart, verify=str(ca_bundle) if ca_bundle else True, state=state_file,
                          activation_timeout=activation_timeout)
    with _reporter(quiet or fmt != "text", progress) as reporter:
        try:
            with reporter.phase("load", None, "resources") as advance:
                resources = load_resources(output)
                search_parameters = [] if no_search_parameters else load_search_parameters(output)
                advance(len(resources) + len(search_parameters))
        except PushError as exc:
            click.echo(f"push: {exc}; nothing was sent", err=True)
            return EXIT_ERRORS
        # the R5-table layers give the official validator's verdict (docs/conformance.md) at half the cost
        with reporter.phase("validate", len(resources), "resources") as advance:
            problems = [d for d in validate_output(OutputSet(resources), [n for n in LAYERS if n != "models"])
                        if d.severity is Severity.ERROR]
            advance(len(resources))
        if problems:
            click.echo(render(problems, "text", shown_per_code=SHOWN_PER_CODE), err=True)
            click.echo("push: the output is not valid; nothing was sent", err=True)
            return EXIT_ERRORS
        try:
            result = push(resources, options, progress=reporter, search_parameters=search_parameters)
        except ServerUnreachable as exc:
            click.echo(f"push: server unreachable: {exc}", err=True)
            return EXIT_UNREACHABLE
        except PushError as exc:
            click.echo(f"push: {exc}", err=True)
            return EXIT_REJECTED
    _print_phases(reporter, "push phases")
    summary = result.summary()
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_push_summary(result, summary)
    return EXIT_REJECTED if result.failed else EXIT_OK


def _print_push_summary(result: Any, summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    for failure in result.failed:
        click.echo(f"failed {failure.key} (HTTP {failure.status})")
        for issue in failure.issues:
            click.echo(f"    {issue}")
    table = Table(title="dry run: nothing was written" if result.dry_run else "push")
    for column in ("created", "updated", "unchanged", "failed", "seconds", "resources/s"):
        table.add_column(column, justify="right")
    table.add_row(str(summary["created"]), str(summary["updated"]), str(summary["unchanged"]),
                  str(summary["failed"]), f"{summary['seconds']:.2f}", f"{summary['resources_per_second']:.1f}")
    Console(width=100).print(table)
    if result.activation_seconds is not None:
        click.echo(f"search parameters: the server searched by them {result.activation_seconds:.1f} s after "
                   "they were written")
    if result.dry_run:
        for outcome in result.outcomes:
            if outcome.action != "unchanged":
                click.echo(f"would {outcome.action} {outcome.key}")


def _list_skipped(output: Path) -> int:
    """Evaluate the output once (runtime gaps show up), then list every invariant not evaluated."""
    from .pipeline import validate_directory
    from .validate.spec import spec

    if output.exists():
        validate_directory(output)
    table = spec()
    skipped = table.skipped()
    for item in skipped:
        click.echo(f"{item.key}\t{item.element}\t{item.reason}\t{item.expression}")
    for url in sorted(table.unexpandable):
        click.echo(f"valueset\t{url}\tcannot be expanded offline (filter or external code system)\t")
    click.echo(f"{len(skipped)} invariant(s) and {len(table.unexpandable)} required value set(s) not evaluated")
    return EXIT_OK


@main.command("serve")
@click.argument("output", default="output", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@click.option("--public-url", metavar="URL",
              help="Base URL clients call (JWT 'aud' is checked against it); default http(s)://HOST:PORT.")
@click.option("--trust", "trust_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON trust file: issuers with their JWK Set or registered jku.")
@click.option("--insecure-no-auth", is_flag=True, help="Accept requests without a JWT (local testing only).")
@click.option("--fhir-base", metavar="URL", help="FHIR server holding the pushed knowledge (card links).")
@click.option("--source-url", metavar="URL", help="https page about the evidence collection (card source.url).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Browser origin allowed by CORS (repeatable), e.g. https://sandbox.cds-hooks.org")
@click.option("--max-body", default=5 * 1024 * 1024, show_default=True, type=click.IntRange(1024, 1 << 30),
              help="Largest request body in bytes (413 above).")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate.")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="Private key for --ssl-certfile.")
@click.option("--allow-http-fhir-server", is_flag=True,
              help="Accept an http:// fhirServer on loopback (a local test server; production must be https).")
@click.option("--allow-fhir-server", "allow_fhir_servers", multiple=True, metavar="URL",
              help="A FHIR base URL any caller may name, even on a private address (repeatable; per-issuer "
                   "lists go in the trust file as fhirServers).")
@click.option("--replay-cache", metavar="URL", default="memory", show_default=True,
              help="Where used token ids (jti) are kept: memory (one process) or redis://host:port/db, "
                   "shared by every replica behind a load balancer.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True,
              help="debug also says why each call did or did not get a card (hook instance and the condition).")
@click.option("--expansions", "expansion_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Expanded ValueSets (a ValueSet or a Bundle, as $expand returns them) with the codes this site "
                   "orders and records, e.g. RxNorm products of each agent (repeatable).")
@click.option("--terminology-server", metavar="URL",
              help="FHIR terminology server: every ValueSet of the knowledge is expanded there once, at start-up "
                   "(ValueSet/$expand?url=...); one it cannot expand stops the start.")
@click.option("--site", "site", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also serve this evidence report site (from `evidencekit report`) read-only at /site/.")
@_guard
def serve_command(output: Path, host: str, port: int, public_url: str | None, trust_file: Path | None,
                  insecure_no_auth: bool, fhir_base: str | None, source_url: str | None, cors_origins: tuple[str, ...],
                  max_body: int, ssl_certfile: str | None, ssl_keyfile: str | None,
                  allow_http_fhir_server: bool, allow_fhir_servers: tuple[str, ...], replay_cache: str,
                  log_level: str, expansion_files: tuple[Path, ...], terminology_server: str | None,
                  site: Path | None) -> int:
    """Run a CDS Hooks 2.0 service from the compiled knowledge in OUTPUT."""
    from .serve import serve

    return serve(output, host=host, port=port, public_url=public_url, trust_file=trust_file,
                 insecure_no_auth=insecure_no_auth, fhir_base=fhir_base, source_url=source_url,
                 cors_origins=list(cors_origins), max_body=max_body, ssl_certfile=ssl_certfile,
                 ssl_keyfile=ssl_keyfile, allow_http_fhir=allow_http_fhir_server,
                 fhir_servers=list(allow_fhir_servers), replay_cache=replay_cache, log_level=log_level,
                 expansions=list(expansion_files), terminology_server=terminology_server, site=site)


@main.command("report")
@click.argument("output", default="output", type=click.Path(path_type=Path))
@click.option("-o", "--site", "site", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the site (default: OUTPUT/site).")
@click.option("--definitions", "definitions", type=click.Path(path_type=Path), default="definitions",
              show_default=True, help="Definitions to check, for each study page's findings of `check` "
                                      "(left out when the directory does not exist).")
@_guard
def report_command(output: Path, site: Path | None, definitions: Path) -> int:
    """Write the evidence report site (HTML) from the built FHIR output in OUTPUT."""
    from .pages import build_site

    knowledge = output / "r5" if (output / "r5").is_dir() else output
    if not (knowledge / "resources").is_dir() or not (knowledge / "source-map.json").is_file():
        click.echo(f"evidencekit report: no built output in {output} (run `evidencekit build` first)", err=True)
        return EXIT_USAGE
    diagnostics = None
    if definitions.exists():
        from .pipeline import check

        diagnostics = check(definitions).diagnostics
    target = site if site is not None else (output if knowledge != output else output.parent) / "site"
    result = build_site(knowledge, target, diagnostics)
    click.echo(f"wrote {len(result.pages)} page(s) and {result.plots} forest plot(s) to {target} "
               f"in {result.seconds:.1f} s; open {target / 'index.html'}")
    return EXIT_OK


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_guard
def init_command(directory: Path) -> int:
    """Write a new project in DIRECTORY: settings, a fictional example study, a terminology file,
    the JSON Schemas and a Makefile. It builds clean at once (`make build`)."""
    from .init import write_project

    try:
        written = write_project(directory)
    except FileExistsError as exc:
        click.echo(f"evidencekit init: {exc}", err=True)
        return EXIT_USAGE
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && evidencekit build definitions -o output "
               "(the example study is FICTIONAL: replace it with your own)")
    return EXIT_OK


@main.command("schema")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the schema to this file instead of standard output.")
@click.option("--kind", type=click.Choice(["study", "question", "terminology"]), default="study", show_default=True,
              help="Which definition file kind.")
@_guard
def schema_command(output: Path | None, kind: str) -> int:
    """Print the JSON Schema of the study (question, terminology) definition format."""
    from .definitions.schema import schema_json

    text = schema_json(kind)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    return EXIT_OK
