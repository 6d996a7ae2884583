"""The library entry points: check, build and validate (the CLI is a thin shell over these).

load -> check -> compile -> validate -> emit; no stage reaches back.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .checks import run_checks
from .compile import CompileResult, compile_studies
from .config import Config, load_config
from .checks.project_terminology import project_terminology
from .checks.questions import run_question_checks
from .definitions.loader import LoadedQuestion, LoadedStudy, LoadedTerminology, load_all
from .diagnostics import Diagnostic, Severity, has_errors
from .publish.writer import bundles, commit, discard, render_output, stage
from .progress import QUIET, Reporter
from .terminology import Terminology, using
from .validate import OutputSet, finish_validation, start_validation, validate_output

__all__ = ["BuildResult", "build", "check", "validate_directory"]

#: Largest single JSON file `validate` will read.
MAX_OUTPUT_FILE_BYTES = 200 * 1024 * 1024


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    studies: list[LoadedStudy] = field(default_factory=list)
    questions: list[LoadedQuestion] = field(default_factory=list)
    compiled: CompileResult | None = None
    files: dict[str, bytes] | None = None
    written_to: Path | None = None
    terminology: Terminology = field(default_factory=Terminology)
    terminology_files: list[LoadedTerminology] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic GC while tens of thousands of models are alive.

    The pipeline allocates many objects and frees almost no cycles; with the GC
    on, each generation-2 pass rescans the whole heap and validation slows down
    superlinearly with corpus size (measured in benchmarks/results.md).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check(definitions: Path, progress: Reporter = QUIET) -> BuildResult:
    """Load and run the consistency checks; nothing is compiled or written."""
    from .definitions.loader import definition_files

    files = len(definition_files(definitions)) if definitions.exists() else 0
    with progress.phase("load", files, "files") as advance:
        found, diagnostics = load_all(definitions, on_file=advance)
    terms, problems = project_terminology(found.terminologies)
    diagnostics += problems
    with progress.phase("check", len(found.studies) + len(found.questions), "definitions") as advance, \
            using(terms):
        diagnostics += run_checks(found.studies, on_study=advance)
        diagnostics += run_question_checks(found.questions, found.studies)
        advance(len(found.questions))
    return BuildResult(diagnostics, found.studies, found.questions, terminology=terms,
                       terminology_files=found.terminologies)


def build(definitions: Path, output: Path | None, *, config: Config | None = None,
          config_path: Path | None = None, progress: Reporter = QUIET) -> BuildResult:
    """Load, check, compile and validate; write ``output/r5`` only when there are no errors.
    ``progress`` hears each phase (load, check, compile, validate, write)."""
    with bulk():
        return _build(definitions, output, config, config_path, progress)


def _build(definitions: Path, output: Path | None, config: Config | None,
           config_path: Path | None, progress: Reporter) -> BuildResult:
    if config is None:
        config, problems = load_config(config_path)
        if config is None:
            return BuildResult(problems)
    result = check(definitions, progress)
    if not result.ok:
        return result
    with progress.phase("compile", len(result.studies) + len(result.questions), "definitions") as advance, \
            using(result.terminology):
        compiled = compile_studies(result.studies, config, result.questions)
        advance(len(result.studies) + len(result.questions))
    result.compiled = compiled
    collection, transaction = bundles(compiled.resources, config)
    where = {c.key: (c.file, c.line, c.column) for c in compiled.compiled}
    output_set = OutputSet(compiled.resources, {"bundle.json": collection, "transaction.json": transaction}, where)
    target = output / "r5" if output is not None else None
    # Rendering and staging the files (mostly file-system time) overlap with validation;
    # the staged directory replaces the output only if validation finds no errors.
    with progress.phase("validate", len(compiled.resources), "resources") as advance:
        pending = start_validation(output_set)  # may fork: before any thread starts
        with ThreadPoolExecutor(max_workers=1) as pool:
            staged = pool.submit(_render_and_stage, compiled, config, target)
            result.diagnostics += finish_validation(pending)
            advance(len(compiled.resources))
    with progress.phase("write", None, "files") as advance:
        try:
            result.files, staging = staged.result()
        except (OSError, ValueError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            result.diagnostics.append(Diagnostic(str(target), 0, 0, "EK501", Severity.ERROR,
                                                 f"cannot write output: {message}",
                                                 hint="check that the output directory is writable"))
            return result
        if staging is None or target is None:
            return result
        if not result.ok:
            discard(staging)
            result.files = None
            return result
        try:
            commit(staging, target)
        except OSError as exc:
            result.diagnostics.append(Diagnostic(str(target), 0, 0, "EK501", Severity.ERROR,
                                                 f"cannot replace output: {exc.strerror or exc}"))
            return result
        advance(len(result.files))
    result.written_to = target
    return result


def _render_and_stage(compiled: CompileResult, config: Config,
                      target: Path | None) -> tuple[dict[str, bytes], Path | None]:
    files = render_output(compiled, config)
    return files, (stage(files, target) if target is not None else None)


def _read_json(path: Path, shown: str) -> tuple[Any, Diagnostic | None]:
    def fail(message: str, hint: str = "") -> tuple[None, Diagnostic]:
        return None, Diagnostic(shown, 0, 0, "EK405", Severity.ERROR, message, hint=hint)

    try:
        if path.stat().st_size > MAX_OUTPUT_FILE_BYTES:
            return fail(f"file is larger than {MAX_OUTPUT_FILE_BYTES:,} bytes; refusing to read it")
        data = json.loads(path.read_bytes().decode("utf-8"), parse_float=Decimal)
    except OSError as exc:
        return fail(f"cannot read file: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return fail("file is not UTF-8 text", "FHIR JSON is UTF-8")
    except json.JSONDecodeError as exc:
        return None, Diagnostic(shown, exc.lineno, exc.colno, "EK405", Severity.ERROR,
                                f"not valid JSON: {exc.msg}")
    except RecursionError:
        return fail("JSON nesting is too deep")
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        return fail("not a FHIR resource (no resourceType)", "expected FHIR R5 JSON resources or bundles")
    return data, None


def validate_directory(target: Path, layers: list[str] | None = None) -> list[Diagnostic]:
    """Validate an output directory (``output`` or ``output/r5``) or one JSON file."""
    with bulk():
        return _validate_directory(target, layers)


def _validate_directory(target: Path, layers: list[str] | None) -> list[Diagnostic]:
    if target.is_dir() and (target / "r5").is_dir():
        target = target / "r5"
    if target.is_file():
        files = {target.name: target}
    elif target.is_dir():
        files = {p.relative_to(target).as_posix(): p for p in sorted((target / "resources").glob("*.json"))}
        for name in ("bundle.json", "transaction.json"):
            if (target / name).is_file():
                files[name] = target / name
    else:
        return [Diagnostic(str(target), 0, 0, "EK405", Severity.ERROR, "no such file or directory",
                           hint="run `evidencekit build` first, or pass output/r5")]
    if not files:
        return [Diagnostic(str(target), 0, 0, "EK405", Severity.ERROR, "no FHIR JSON files found",
                           hint="expected output/r5/resources/*.json")]
    diagnostics: list[Diagnostic] = []
    resources: list[dict[str, Any]] = []
    output = OutputSet(resources)
    for name, path in files.items():
        shown = str(path)
        data, problem = _read_json(path, shown)
        if problem is not None:
            diagnostics.append(problem)
            continue
        if data.get("resourceType") == "Bundle":
            output.bundles[name] = data
            output.bundle_files[name] = shown
            if target.is_file():
                for entry in data.get("entry", []) or []:
                    if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                        resources.append(entry["resource"])
                        output.where.setdefault(f"{entry['resource'].get('resourceType')}/"
                                                f"{entry['resource'].get('id')}", (shown, 0, 0))
        else:
            resources.append(data)
            output.where[f"{data.get('resourceType')}/{data.get('id')}"] = (shown, 0, 0)
    if not target.is_file():
        # Bundle entries must be the same resources as the files: link them so models are validated once.
        by_key = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
        for name, bundle in output.bundles.items():
            for entry in bundle.get("entry", []) or []:
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict):
                    key = f"{res.get('resourceType')}/{res.get('id')}"
                    if by_key.get(key) != res:
                        diagnostics.append(Diagnostic(output.bundle_files[name], 0, 0, "EK405", Severity.ERROR,
                                                      f"bundle {name}: entry {key} differs from resources/ "
                                                      "(stale or edited output)",
                                                      hint="rebuild with `evidencekit build`"))
                    else:
                        entry["resource"] = by_key[key]
    diagnostics += validate_output(output, layers)
    return diagnostics
