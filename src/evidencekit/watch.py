"""``evidencekit build --watch``: rebuild on change, redoing only what a change touches.

A :class:`Workspace` keeps, per definition file, what loading, checking and compiling it gave.
On a change it reloads the changed files, checks the changed studies and the questions that
cite them, recompiles those, validates the resources that changed against the rest of the
output (``OutputSet.context``: references and profiles resolve to it) and, when nothing is in
error, rewrites the changed resource files in place (each atomically) and removes the files of
resources that are gone. The files made from the whole corpus — bundles, NDJSON, the package,
the source map — are written by :meth:`Workspace.refresh`, which the watch loop calls once the
definitions have been quiet for ``QUIET_SECONDS``, so that at rest the output is exactly what
``evidencekit build`` writes. A changed terminology file or settings file rebuilds everything.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections import ChainMap
from dataclasses import dataclass, field
from pathlib import Path

from .checks import run_checks
from .checks.questions import run_question_checks
from .compile import CompileResult, compile_one_question, compile_study, conformance_definitions
from .compile.context import CompiledResource
from .config import Config
from .definitions.loader import LoadedQuestion, LoadedStudy, LoadedTerminology, display_name, load_file
from .diagnostics import Diagnostic, Severity, has_errors
from .pipeline import build, bulk
from .publish.fhirjson import dumps_bytes
from .terminology import Terminology, using
from .validate import LAYERS, PER_RESOURCE, OutputSet, ResourceIndex

__all__ = ["QUIET_SECONDS", "Update", "Workspace"]

#: seconds without a change before the whole-corpus files are rewritten
QUIET_SECONDS = 2.0


@dataclass
class Update:
    """What one rebuild did."""

    diagnostics: list[Diagnostic]
    rebuilt: list[str] = field(default_factory=list)  # definition ids recompiled
    written: int = 0  # resource files written
    removed: int = 0  # resource files removed
    seconds: float = 0.0
    full: bool = False  # everything was rebuilt

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


class Workspace:
    """The definitions directory, the output directory, and what the last good build made."""

    def __init__(self, definitions: Path, output: Path, config: Config) -> None:
        self.definitions, self.output, self.config = definitions.absolute(), output.absolute(), config
        self.target = output / "r5"
        self.terminology = Terminology()
        self.studies: dict[Path, LoadedStudy] = {}
        self.questions: dict[Path, LoadedQuestion] = {}
        self.terminology_files: dict[Path, LoadedTerminology] = {}
        self.problems: dict[Path, list[Diagnostic]] = {}  # load and check diagnostics per file
        self.compiled: dict[str, list[CompiledResource]] = {}  # definition id -> its resources
        self.index = ResourceIndex()  # of every resource in self.compiled
        self.stale = False  # the whole-corpus files lag behind the resource files
        self.pending_touched: set[str] = set()
        self.pending_removed: set[str] = set()
        self.built = False  # the last full build wrote the output (else the next change rebuilds all)

    # -- full builds ------------------------------------------------------------------------------

    def full_build(self) -> Update:
        """``evidencekit build``, then remember what it loaded and compiled."""
        started = time.perf_counter()
        result = build(self.definitions, self.output, config=self.config)
        update = Update(result.diagnostics, full=True)
        self.terminology = result.terminology
        self.studies = {s.path: s for s in result.studies}
        self.questions = {q.path: q for q in result.questions}
        self.terminology_files = {t.path: t for t in result.terminology_files}
        loaded_files = [*self.studies.values(), *self.questions.values(), *self.terminology_files.values()]
        paths = {loaded.file: loaded.path for loaded in loaded_files}
        self.problems = {}
        for d in result.diagnostics:
            self.problems.setdefault(paths.get(d.file, Path(d.file)), []).append(d)
        ids = {s.file: s.study.id for s in self.studies.values()} | {q.file: q.question.id
                                                                       for q in self.questions.values()}
        self.compiled = {}
        if result.compiled is not None:
            for c in result.compiled.compiled:
                self.compiled.setdefault(ids.get(c.file, c.file), []).append(c)
            update.rebuilt = sorted(self.compiled)
            update.written = len(result.compiled.compiled) if result.written_to else 0
        self.stale = False
        self.pending_touched, self.pending_removed = set(), set()
        self.built = result.written_to is not None
        self.index = ResourceIndex.of(c.resource for cs in self.compiled.values() for c in cs)
        self._warm()
        # what the workspace keeps lives as long as the watch: out of the cyclic GC's way (a full pass
        # over 50,000 resources took seconds in the middle of an update)
        gc.collect()
        gc.freeze()
        update.seconds = time.perf_counter() - started
        return update

    # -- incremental builds -----------------------------------------------------------------------

    def update(self, changed: set[Path]) -> Update:
        """Rebuild after ``changed`` files were written, created or removed."""
        with bulk():
            return self._update(changed)

    def _update(self, changed: set[Path]) -> Update:
        started = time.perf_counter()
        if not self.built:
            return self.full_build()
        changed = {p.absolute() for p in changed}
        known = {p.absolute() for p in (*self.studies, *self.questions, *self.terminology_files)}
        if any(p.name == "evidencekit.yaml" or p.absolute() in {t.absolute() for t in self.terminology_files}
               or (p.suffix in (".yaml", ".yml") and p.is_file() and p not in known and _is_terminology(p))
               for p in changed):
            return self.full_build()
        studies = {p.absolute(): s for p, s in self.studies.items()}
        questions = {p.absolute(): q for p, q in self.questions.items()}
        problems = {p.absolute(): d for p, d in self.problems.items()}
        # what an earlier update could not finish (it had errors) is redone now
        touched_studies: set[str] = set(self.pending_touched)
        removed_ids: set[str] = set(self.pending_removed)
        for path in sorted(changed):
            if path.suffix not in (".yaml", ".yml") and "sources" not in path.parts:
                continue
            if path.suffix not in (".yaml", ".yml"):  # a source text changed: recheck every study citing it
                for loaded in (*studies.values(), *questions.values()):
                    sources = loaded.study.sources if isinstance(loaded, LoadedStudy) else loaded.question.sources
                    if any(src.path is not None and (loaded.path.parent.resolve() / src.path).resolve()
                           == path.resolve() for src in sources):
                        touched_studies.add(loaded.study.id if isinstance(loaded, LoadedStudy)
                                            else loaded.question.id)
                continue
            old = studies.pop(path, None) or questions.pop(path, None)
            if old is not None:
                removed_ids.add(old.study.id if isinstance(old, LoadedStudy) else old.question.id)
            problems[path] = []
            if not path.is_file():
                continue
            loaded, found = load_file(path, display_name(path, self.definitions))
            problems[path] = list(found)
            if isinstance(loaded, LoadedStudy):
                studies[path] = loaded
                touched_studies.add(loaded.study.id)
            elif isinstance(loaded, LoadedQuestion):
                questions[path] = loaded
                touched_studies.add(loaded.question.id)
        for path in problems:  # duplicate ids are a property of the whole set: recomputed each time
            problems[path] = [d for d in problems[path] if d.code != "EK105"]
        for path, found in _duplicates(studies, questions).items():
            problems[path] = [d for d in problems.get(path, []) if d.code != "EK105"] + found
        by_id = {s.study.id: s for s in studies.values()}
        with using(self.terminology):
            rechecked = [s for s in studies.values() if s.study.id in touched_studies]
            for s in rechecked:
                problems[s.path.absolute()] = [d for d in problems.get(s.path.absolute(), [])
                                               if d.code[:3] in ("EK0", "EK1")] + run_checks([s])
            affected_questions = [q for q in questions.values() if q.question.id in touched_studies
                                  or _cites(q) & (touched_studies | removed_ids)]
            for q in affected_questions:
                problems[q.path.absolute()] = [d for d in problems.get(q.path.absolute(), [])
                                               if d.code[:3] in ("EK0", "EK1")] + run_question_checks([q], list(
                                                   by_id.values()))
        diagnostics = [d for ds in problems.values() for d in ds]
        update = Update(diagnostics)
        self.studies = {s.path: s for s in studies.values()}
        self.questions = {q.path: q for q in questions.values()}
        self.problems = problems
        self.pending_touched, self.pending_removed = touched_studies, removed_ids
        if has_errors(diagnostics):
            update.seconds = time.perf_counter() - started
            return update  # nothing written: the previous output stays
        rebuilt = {s.study.id for s in rechecked} | {q.question.id for q in affected_questions}
        old = [c.resource for ident in rebuilt | removed_ids for c in self.compiled.get(ident, [])]
        # the index then holds the rest of the output, which the fresh resources are compiled and
        # validated against; it gets the old resources back if this update writes nothing
        self.index.remove(old)
        try:
            fresh_by_id = self._compile(rechecked, affected_questions, by_id)
            fresh = [c for ident in sorted(fresh_by_id) for c in fresh_by_id[ident]]
            update.diagnostics += self._validate(fresh, self.index)
        except BaseException:
            self.index.add(old)
            raise
        if has_errors(update.diagnostics):
            self.index.add(old)
            update.seconds = time.perf_counter() - started
            return update
        self.index.add(c.resource for c in fresh)
        old_keys = {c.key for ident in rebuilt | removed_ids for c in self.compiled.get(ident, [])}
        new_keys = {c.key for c in fresh}
        update.written = self._write(fresh)
        update.removed = self._remove(old_keys - new_keys)
        for ident in removed_ids - rebuilt:
            self.compiled.pop(ident, None)
        self.compiled.update(fresh_by_id)
        self.pending_touched, self.pending_removed = set(), set()
        self.stale = True
        update.rebuilt = sorted(rebuilt)
        update.seconds = time.perf_counter() - started
        return update

    def _compile(self, studies: list[LoadedStudy], questions: list[LoadedQuestion],
                 by_id: dict[str, LoadedStudy]) -> dict[str, list[CompiledResource]]:
        """The changed studies and the questions they touch, compiled against the rest (``self.index``)."""
        out: dict[str, list[CompiledResource]] = {}
        with using(self.terminology):
            for s in studies:
                out[s.study.id] = compile_study(s, self.config)
            made = {c.key: c.resource for cs in out.values() for c in cs}
            keyed = ChainMap(made, self.index.by_key)
            for q in sorted(questions, key=lambda q: q.question.id):
                out[q.question.id] = compile_one_question(q, self.config, keyed, by_id)
                made.update((c.key, c.resource) for c in out[q.question.id])
        return out

    def _validate(self, fresh: list[CompiledResource], context: ResourceIndex) -> list[Diagnostic]:
        where = {c.key: (c.file, c.line, c.column) for c in fresh}
        output = OutputSet([c.resource for c in fresh], where=where, context=context)
        out: list[Diagnostic] = []
        for name, layer in LAYERS.items():
            if name in PER_RESOURCE:
                out.extend(PER_RESOURCE[name](output, 0, None))
            elif name != "models":
                out.extend(layer(output))
        return out

    def _warm(self) -> None:
        """Validate one resource of each type here, once: the full build validates in worker
        processes, so this process would otherwise import the R5 model classes and compile the
        FHIRPath invariants in the middle of the first update (0.9 s of a 1.3 s first update)."""
        sample: dict[object, CompiledResource] = {}
        for resources in self.compiled.values():
            for c in resources:
                sample.setdefault(c.resource.get("resourceType"), c)
        self._validate(list(sample.values()), ResourceIndex())  # findings are discarded: the build reported them

    def _write(self, fresh: list[CompiledResource]) -> int:
        folder = self.target / "resources"
        folder.mkdir(parents=True, exist_ok=True)
        for c in fresh:
            name = f"{c.resource['resourceType']}-{c.resource['id']}.json"
            data = dumps_bytes(c.resource)
            path = folder / name
            try:
                if path.read_bytes() == data:
                    continue
            except OSError:
                pass
            handle, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        return len(fresh)

    def _remove(self, keys: set[str]) -> int:
        for key in keys:
            (self.target / "resources" / f"{key.replace('/', '-', 1)}.json").unlink(missing_ok=True)
        return len(keys)

    def refresh(self) -> Update:
        """Rewrite every output file from what is compiled (bundles, NDJSON, package, source map): the
        output is then byte-identical to a full build's."""
        started = time.perf_counter()
        with bulk():
            return self._refresh(started)

    def _refresh(self, started: float) -> Update:
        from .publish.writer import commit, render_output, stage

        result = CompileResult(definitions=conformance_definitions(self.config))
        studies = sorted(i for i in self.compiled if i in {s.study.id for s in self.studies.values()})
        questions = sorted(i for i in self.compiled if i not in studies)
        for ident in studies + questions:
            result.compiled.extend(self.compiled[ident])
        commit(stage(render_output(result, self.config), self.target), self.target)
        self.stale = False
        return Update([], written=len(result.compiled), seconds=time.perf_counter() - started)


def _is_terminology(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:20000]
    except OSError:
        return False
    return any(line.strip().replace(" ", "") == "kind:terminology" for line in head.splitlines())


def _cites(question: LoadedQuestion) -> set[str]:
    return {c.study for o in question.question.outcomes for c in o.results}


def _duplicates(studies: dict[Path, LoadedStudy], questions: dict[Path, LoadedQuestion]) -> dict[Path, list[Diagnostic]]:
    """EK105 for an id two files declare (the later file, in path order, is reported)."""
    out: dict[Path, list[Diagnostic]] = {}
    seen: dict[str, LoadedStudy | LoadedQuestion] = {}
    for path in sorted({*studies, *questions}):
        loaded = studies.get(path) or questions[path]
        ident = loaded.study.id if isinstance(loaded, LoadedStudy) else loaded.question.id
        other = seen.get(ident)
        if other is not None:
            out.setdefault(path, []).append(loaded.diag(
                "EK105", Severity.ERROR, f"id '{ident}' is already used by {other.file}:{other.at('id')[1]}", "id",
                hint="study and question ids name the output resources and must be unique across files"))
        seen[ident] = loaded
    return out
