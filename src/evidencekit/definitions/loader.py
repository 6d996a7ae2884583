"""Load a definitions directory into :class:`Study` models with positions.

Turns every YAML, schema and cross-reference problem into a located
:class:`Diagnostic`; never raises for bad input.
"""

from __future__ import annotations

import difflib
import functools
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..diagnostics import Diagnostic, Severity
from .model import Study
from .question import Question
from .terminology import TerminologyDefinition
from .yaml_source import Located, read_yaml

__all__ = ["Definitions", "LoadedQuestion", "LoadedStudy", "LoadedTerminology", "load_all", "load_definitions",
           "load_file", "SETTINGS_FILE"]

#: the settings file's name; found in the definitions directory or above it, never read as a definition
SETTINGS_FILE = "evidencekit.yaml"


class _Positions:
    """Where each value of a loaded definition was written (shared by studies and questions)."""

    source: Located

    @property
    def file(self) -> str:
        return self.source.file

    def at(self, *path: object, key: bool = False) -> tuple[str, int, int]:
        """(file, line, column) of a value path such as ("results", 2, "value")."""
        pos = self.source.position(tuple(path), key=key)
        return (self.source.file, pos.line, pos.column)

    def diag(self, code: str, severity: Severity, message: str, *path: object,
             hint: str = "", fhir_path: str = "") -> Diagnostic:
        file, line, column = self.at(*path)
        return Diagnostic(file, line, column, code, severity, message, fhir_path, hint)


@dataclass(frozen=True)
class LoadedQuestion(_Positions):
    """A validated question definition and where each of its values was written."""

    question: Question
    source: Located
    path: Path

    @functools.cached_property
    def provenances(self) -> list[tuple[tuple[object, ...], typing.Any]]:
        """Every provenance entry of the question (its recommendation's thresholds) with its value path."""
        return list(_provenances(self.question))


@dataclass(frozen=True)
class LoadedTerminology(_Positions):
    """A validated terminology file and where each of its values was written."""

    terminology: TerminologyDefinition
    source: Located
    path: Path


@dataclass(frozen=True)
class LoadedStudy(_Positions):
    """A validated study and where each of its values was written."""

    study: Study
    source: Located
    path: Path

    @functools.cached_property
    def provenances(self) -> list[tuple[tuple[object, ...], typing.Any]]:
        """Every provenance entry of the study with its value path."""
        return list(_provenances(self.study))



def definition_files(root: Path) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files of a directory (sorted, the settings file left out), or the file itself."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.name != SETTINGS_FILE
                  and (p.is_file() or p.is_symlink()))


def _outside(path: Path, root: Path) -> bool:
    """A symlink (or a file under one) that leads outside the definitions directory."""
    try:
        path.resolve(strict=False).relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return True
    return False


def display_name(path: Path, root: Path) -> str:
    """Stable name for diagnostics and the source map: '<dir>/<relative path>'."""
    if root.is_file():
        return path.name
    return (Path(root.resolve().name) / path.relative_to(root)).as_posix()


_KINDS: dict[str, type[BaseModel]] = {"question": Question, "terminology": TerminologyDefinition}


def load_file(path: Path, display: str) -> tuple[LoadedStudy | LoadedQuestion | LoadedTerminology | None,
                                                 list[Diagnostic]]:
    """A study definition, or a question or terminology file when the file says `kind: question` or
    `kind: terminology`."""
    located, diagnostics = read_yaml(path, display)
    if located is None:
        return None, diagnostics
    kind = located.data.get("kind") if isinstance(located.data, dict) else None
    root: type[BaseModel] = _KINDS.get(kind, Study) if isinstance(kind, str) else Study
    try:
        model = root.model_validate(located.data)
    except ValidationError as exc:
        errors = exc.errors()
        # A missing field that an unknown field's "did you mean" names is one mistake, not two.
        misspelled = {tuple(e["loc"][:-1]) + (suggestion,) for e in errors if e["type"] == "extra_forbidden"
                      and e["loc"][-1] not in _RENAMED
                      for suggestion in [_did_you_mean(tuple(e["loc"]), root)] if suggestion}
        return None, [_diagnostic(err, located, root) for err in errors
                      if not (err["type"] == "missing" and tuple(err["loc"]) in misspelled)]
    if isinstance(model, TerminologyDefinition):
        return LoadedTerminology(model, located, path), []
    if isinstance(model, Question):
        question = LoadedQuestion(model, located, path)
        return question, _check_question_ids(question)
    loaded = LoadedStudy(model, located, path)
    return loaded, _check_ids(loaded)


@dataclass
class Definitions:
    """Everything below a definitions directory: studies, questions and terminology files."""

    studies: list[LoadedStudy]
    questions: list[LoadedQuestion]
    terminologies: list[LoadedTerminology] = field(default_factory=list)


def load_definitions(root: Path) -> tuple[list[LoadedStudy], list[Diagnostic]]:
    """Load every study definition below ``root`` (see :func:`load_all` for questions too)."""
    found, diagnostics = load_all(root)
    return found.studies, diagnostics


def load_all(root: Path, on_file: typing.Callable[[int], None] | None = None,
             on_files: typing.Callable[[int], None] | None = None) -> tuple[Definitions, list[Diagnostic]]:
    """Load every definition below ``root``; duplicate ids across files (studies and questions share
    one namespace: both name output resources) are errors. ``on_files`` hears how many files there
    are, ``on_file`` each file read (progress)."""
    files = definition_files(root) if root.exists() else []
    if on_files is not None:
        on_files(len(files))
    found = Definitions([], [])
    if not files:
        return found, [Diagnostic(str(root), 0, 0, "EK010", Severity.ERROR,
                                  f"no *.yaml definition files found in {root}",
                                  hint="pass the definitions directory or a .yaml file")]
    diagnostics: list[Diagnostic] = []
    first_seen: dict[str, LoadedStudy | LoadedQuestion] = {}
    for path in files:
        if on_file is not None:
            on_file(1)
        if path.name.endswith(".schema.json"):
            continue
        if root.is_dir() and _outside(path, root):
            diagnostics.append(Diagnostic(display_name(path, root), 0, 0, "EK011", Severity.ERROR,
                                          "this definition file is a link to a file outside the definitions "
                                          "directory; it was not read",
                                          hint="copy the file into the definitions directory, or link within it"))
            continue
        loaded, problems = load_file(path, display_name(path, root))
        diagnostics.extend(problems)
        if loaded is None:
            continue
        if isinstance(loaded, LoadedTerminology):
            found.terminologies.append(loaded)
            continue
        ident = loaded.study.id if isinstance(loaded, LoadedStudy) else loaded.question.id
        other = first_seen.get(ident)
        if other is not None:
            diagnostics.append(loaded.diag(
                "EK105", Severity.ERROR,
                f"id '{ident}' is already used by {other.file}:{other.at('id')[1]}", "id",
                hint="study and question ids name the output resources and must be unique across files"))
            continue
        first_seen[ident] = loaded
        if isinstance(loaded, LoadedStudy):
            found.studies.append(loaded)
        else:
            found.questions.append(loaded)
    return found, diagnostics


# -- pydantic errors -> located diagnostics -----------------------------------------------

def _diagnostic(err: typing.Any, located: Located, root: type[BaseModel] = Study) -> Diagnostic:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        pos = located.position(loc, key=True)
        field = str(loc[-1])
        allowed = _fields_at(loc[:-1], root)
        suggestion = _did_you_mean(loc, root)
        hint = _RENAMED.get(field) if field in _RENAMED and field not in allowed else None
        if hint is None:
            hint = f"did you mean '{suggestion}'?" if suggestion else (
                "allowed fields here: " + ", ".join(sorted(allowed)) if allowed else "")
        return Diagnostic(located.file, pos.line, pos.column, "EK101", Severity.ERROR,
                          f"unknown field '{field}' at {_dotted(loc[:-1]) or 'top level'}", hint=hint)
    if kind == "missing":
        pos = located.position(loc[:-1])
        return Diagnostic(located.file, pos.line, pos.column, "EK102", Severity.ERROR,
                          f"missing required field '{loc[-1]}' in {_dotted(loc[:-1]) or 'the study'}",
                          hint=f"add `{loc[-1]}:`; see definitions/study.schema.json")
    pos = located.position(loc)
    where = _dotted(loc)
    message = err["msg"].removeprefix("Value error, ")
    malformed = kind in ("string_pattern_mismatch", "value_error")
    code = "EK104" if malformed else "EK103"
    if kind == "string_pattern_mismatch" and _is_id(loc):
        code = "EK107"
    if kind == "string_pattern_mismatch":
        shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(err["input"])[:200])
        message = f"'{shown}' does not have the expected format"
        hint = _pattern_hint(loc)
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal"):
        message = f"{message}, got {err['input']!r}"
        hint = ""
    elif kind == "literal_error":
        hint = ""
    elif kind in ("string_type", "int_type", "list_type", "dict_type", "model_type", "bool_type"):
        hint = f"got {_describe(err['input'])}"
        if kind == "int_type":
            hint += "; write a whole number without quotes or decimals"
    else:
        hint = ""
    return Diagnostic(located.file, pos.line, pos.column, code, Severity.ERROR,
                      f"{where}: {message}", hint=hint)


#: Fields of earlier versions of the format, and what to write instead (a plain "did you mean"
#: would point `events` at `event_count`, which means something else).
_RENAMED = {
    "events": "`events` is now two fields: `affected` for patients with the event (FHIR numberAffected), "
              "`event_count` for the number of events (a patient may have several)",
    "recommendation": "a recommendation is justified by a body of evidence: move it into a question definition "
                      "(`kind: question`), whose outcomes it names in `justification`",
}


def _did_you_mean(loc: tuple[object, ...], root: type[BaseModel] = Study) -> str | None:
    """The allowed field closest to the unknown field at ``loc``, if one is close."""
    close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1], root), n=1, cutoff=0.6)
    return close[0] if close else None


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return f"{type(value).__name__} {str(value)[:40]!r}"


_PATTERN_HINTS = {
    "id": "ids use lower-case letters, digits and '-', start and end with a letter or digit, max 40 chars",
    "pmid": "a PubMed id is digits only, e.g. 29856076",
    "pages": "pages look like 906-912",
    "initials": "initials are 1-4 capital letters, e.g. AP",
    "value": "write the value as printed, e.g. 1365-2230",
}


_ID_REFERENCES = ("source", "variable", "population", "union_of", "subgroups", "limitations", "arm",
                  "intervention", "comparator", "timepoint", "period")


def _is_id(loc: tuple[object, ...]) -> bool:
    """Whether ``loc`` is an id or a reference to one (ids become resource ids and file names)."""
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    return last == "id" or last in _ID_REFERENCES


def _pattern_hint(loc: tuple[object, ...]) -> str:
    if _is_id(loc):
        return _PATTERN_HINTS["id"]
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    return _PATTERN_HINTS.get(last, "")


def _dotted(loc: tuple[object, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(loc: tuple[object, ...], root: type[BaseModel] = Study) -> list[str]:
    """Field names (aliases) of the model found by following ``loc`` from ``root``."""
    model: typing.Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = _model_fields(model).get(str(part))
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return list(_model_fields(model))


def _model_fields(model: type[BaseModel]) -> dict[str, typing.Any]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _inner_model(annotation: typing.Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# -- cross references inside one study --------------------------------------------------

def _check_ids(loaded: LoadedStudy) -> list[Diagnostic]:
    study = loaded.study
    out: list[Diagnostic] = []
    seen: dict[tuple[str, str], tuple[object, ...]] = {}

    def declare(namespace: str, ident: str, *path: object) -> None:
        # Ids are unique per output kind: a Group, an EvidenceVariable and an Evidence
        # may share a name (e.g. a baseline variable and its result).
        if (namespace, ident) in seen:
            first = loaded.at(*seen[(namespace, ident)])
            out.append(loaded.diag("EK105", Severity.ERROR,
                                   f"{namespace} id '{ident}' is already used at line {first[1]}", *path,
                                   hint="ids name output resources; make each one unique in the study"))
        else:
            seen[(namespace, ident)] = path
        if len(study.id) + 1 + len(ident) + 13 > 64:
            out.append(loaded.diag("EK107", Severity.ERROR,
                                   f"id '{ident}' is too long: resource ids are '<study id>-<id>' and must "
                                   "stay within FHIR's 64 characters", *path,
                                   hint="shorten this id or the study id (together at most 50 characters)"))

    declare("group", study.population.id, "population", "id")
    declare("group", study.population.eligibility.id, "population", "eligibility", "id")
    if study.exposure is not None:
        declare("variable", study.exposure.id, "exposure", "id")
        declare("group", study.exposure.id, "exposure", "id")
    for i, arm in enumerate(study.arms):
        declare("group", arm.id, "arms", i, "id")
    for i, aset in enumerate(study.analysis_sets):
        declare("group", aset.id, "analysis_sets", i, "id")
    for i, period in enumerate(study.periods):
        declare("period", period.id, "periods", i, "id")
    for i, point in enumerate(study.timepoints):
        declare("timepoint", point.id, "timepoints", i, "id")
    for i, sub in enumerate(study.population.subgroups):
        declare("group", sub.id, "population", "subgroups", i, "id")
    for i, part in enumerate(study.population.partitions):
        declare("variable", part.id, "population", "partitions", i, "id")
        declare("result", part.id, "population", "partitions", i, "id")
    for i, var in enumerate(study.variables):
        declare("variable", var.id, "variables", i, "id")
    for i, res in enumerate(study.results):
        declare("result", res.id, "results", i, "id")
    # a result at a timepoint is observed as the EvidenceVariable '<variable>-<timepoint>'
    authored_variables = {v.id for v in study.variables}
    per_timepoint: set[str] = set()
    for i, res in enumerate(study.results):
        if res.timepoint is None:
            continue
        combined = f"{res.variable}-{res.timepoint}"
        if combined in per_timepoint:
            continue
        per_timepoint.add(combined)
        if combined in authored_variables:
            out.append(loaded.diag("EK105", Severity.ERROR,
                                   f"variable id '{combined}' is also the id of '{res.variable}' at timepoint "
                                   f"'{res.timepoint}'", "results", i, "timepoint",
                                   hint="rename the variable or the timepoint"))
        elif len(study.id) + 1 + len(combined) + 13 > 64:
            out.append(loaded.diag("EK107", Severity.ERROR,
                                   f"'{combined}' (variable '{res.variable}' at timepoint '{res.timepoint}') is too "
                                   "long for a FHIR id with the study id", "results", i, "timepoint",
                                   hint="shorten the variable, timepoint or study id"))
    limitation_ids = set()
    for i, lim in enumerate(study.limitations):
        declare("limitation", lim.id, "limitations", i, "id")
        limitation_ids.add(lim.id)
    source_ids = {s.id for s in study.sources}
    sources_seen: set[str] = set()
    for i, src in enumerate(study.sources):
        if src.id in sources_seen:
            out.append(loaded.diag("EK105", Severity.ERROR, f"source id '{src.id}' is declared twice",
                                   "sources", i, "id"))
        sources_seen.add(src.id)

    def need(ident: str, valid: set[str], what: str, *path: object) -> None:
        out.extend(_undefined(loaded, ident, valid, what, *path))

    subgroup_ids = {s.id for s in study.population.subgroups}
    populations = set(study.population_ids())
    variable_ids = {v.id for v in study.variables}
    for i, sub in enumerate(study.population.subgroups):
        for j, part in enumerate(sub.union_of):
            need(part, subgroup_ids - {sub.id}, "subgroup", "population", "subgroups", i, "union_of", j)
    for i, part in enumerate(study.population.partitions):
        for j, ident in enumerate(part.subgroups):
            need(ident, subgroup_ids, "subgroup", "population", "partitions", i, "subgroups", j)
    arm_ids = {a.id for a in study.arms}
    compared = arm_ids | {a.id for a in study.analysis_sets}
    for i, aset in enumerate(study.analysis_sets):
        need(aset.arm, arm_ids, "arm", "analysis_sets", i, "arm")
        if aset.received is not None:
            need(aset.received, arm_ids, "arm", "analysis_sets", i, "received")
        for j, inc in enumerate(aset.includes):
            need(inc.arm, arm_ids - {aset.arm}, "arm", "analysis_sets", i, "includes", j, "arm")
    period_ids = {p.id for p in study.periods}
    for i, point in enumerate(study.timepoints):
        if point.period is not None:
            need(point.period, period_ids, "period", "timepoints", i, "period")
    timepoint_ids = {t.id for t in study.timepoints}
    for i, res in enumerate(study.results):
        need(res.variable, variable_ids, "variable", "results", i, "variable")
        if res.population is not None:
            need(res.population, populations, "population", "results", i, "population")
        if res.comparison is not None:
            for side in ("intervention", "comparator"):
                need(getattr(res.comparison, side), compared, "arm or analysis set", "results", i, "comparison", side)
        if res.timepoint is not None:
            need(res.timepoint, timepoint_ids, "timepoint", "results", i, "timepoint")
    if study.assessment is not None:
        ratings = [(("risk_of_bias",), study.assessment.risk_of_bias)]
        ratings += [(("certainty", k), c) for k, c in enumerate(study.assessment.certainty)]
        result_ids = {r.id for r in study.results}
        findings = {r.id for r in study.results if r.in_words}
        rated: set[str] = set()
        for where, judged in ratings:
            for i, dom in enumerate(judged.domains):
                for j, lim in enumerate(dom.limitations):
                    need(lim, limitation_ids, "limitation", "assessment", *where, "domains", i, "limitations", j)
        for k, certainty in enumerate(study.assessment.certainty):
            for j, ident in enumerate(certainty.results):
                need(ident, result_ids, "result", "assessment", "certainty", k, "results", j)
                if ident in findings:
                    out.append(loaded.diag("EK103", Severity.ERROR,
                                           f"result '{ident}' is a finding: it has no statistic, so no Evidence to rate",
                                           "assessment", "certainty", k, "results", j,
                                           hint="rate the results that carry a statistic; the report states the "
                                                "finding in words"))
                if ident in rated:
                    out.append(loaded.diag("EK105", Severity.ERROR, f"result '{ident}' is rated twice",
                                           "assessment", "certainty", k, "results", j,
                                           hint="one certainty rating per result"))
                rated.add(ident)
    report_ids = study.report_ids()
    for i, report in enumerate(study.reports):
        declare("report", report.id, "reports", i, "id")
        if report.id == study.primary_report:
            out.append(loaded.diag("EK105", Severity.ERROR, f"report id '{report.id}' is the citation's",
                                   "reports", i, "id", hint="the study's `citation` is report "
                                   f"'{study.primary_report}'; give this report another id"))
    for path, prov in loaded.provenances:
        need(prov.source, source_ids, "source", *path, "source")
        if prov.report is not None:
            need(prov.report, set(report_ids), "report", *path, "report")
    return out


def _undefined(loaded: LoadedStudy | LoadedQuestion, ident: str, valid: set[str], what: str,
               *path: object) -> list[Diagnostic]:
    """EK106 when ``ident`` is not among ``valid``, with the closest defined id as a hint."""
    if ident in valid:
        return []
    close = difflib.get_close_matches(ident, sorted(valid), n=1)
    return [loaded.diag("EK106", Severity.ERROR, f"{what} '{ident}' is not defined", *path,
                        hint=f"did you mean '{close[0]}'?" if close else
                        f"defined {what}s: {', '.join(sorted(valid)) or 'none'}")]


def _check_question_ids(loaded: LoadedQuestion) -> list[Diagnostic]:
    """References inside a question: the recommendation's outcomes, agents, reasons and sources."""
    q = loaded.question
    out: list[Diagnostic] = []

    def need(ident: str, valid: set[str], what: str, *path: object) -> None:
        out.extend(_undefined(loaded, ident, valid, what, *path))

    def unique(what: str, idents: list[str], *path: object) -> None:
        seen: set[str] = set()
        for i, ident in enumerate(idents):
            if ident in seen:
                out.append(loaded.diag("EK105", Severity.ERROR, f"{what} id '{ident}' is declared twice",
                                       *path, i, hint=f"make each {what} id unique"))
            seen.add(ident)

    unique("source", [s.id for s in q.sources], "sources")

    def fits(local: str, *path: object) -> None:
        # the longest resource id made from this id: '<question id>-<local>' (FHIR ids are at most 64)
        if len(q.id) + 1 + len(local) > 64:
            out.append(loaded.diag("EK107", Severity.ERROR, f"'{q.id}-{local}' is too long for a FHIR id "
                                   f"({len(q.id) + 1 + len(local)} characters, at most 64)", *path,
                                   hint="shorten the question id or this id"))

    for i, outcome in enumerate(q.outcomes):
        fits(f"{outcome.id}-certainty" if outcome.certainty is not None else outcome.id, "outcomes", i, "id")
    fits("summary-of-findings", "id")
    rec = q.recommendation
    if rec is not None:
        fits(f"{rec.id}-justification", "recommendation", "id")
        if rec.suggest is not None:
            fits(f"{rec.id}-order", "recommendation", "id")
    if rec is not None:
        outcome_ids = {o.id for o in q.outcomes}
        for i, ident in enumerate(rec.justification):
            need(ident, outcome_ids, "outcome", "recommendation", "justification", i)
        if not rec.justification and not any(o.importance == "critical" for o in q.outcomes):
            out.append(loaded.diag("EK106", Severity.ERROR, "the recommendation names no outcome and the question "
                                   "has no critical outcome", "recommendation",
                                   hint="list the outcomes that justify it under recommendation.justification"))
        unique("criterion", [c.id for c in rec.qualifies], "recommendation", "qualifies")
        for i, criterion in enumerate(rec.qualifies):
            fits(f"{rec.id}-{criterion.id}", "recommendation", "qualifies", i, "id")  # its ValueSet
            if criterion.medication_history is not None:
                unique("agent", [a.id for a in criterion.medication_history.agents], "recommendation", "qualifies",
                       i, "medication_history", "agents")
                for j, agent in enumerate(criterion.medication_history.agents):  # the agent's ValueSet
                    fits(f"{criterion.id}-{agent.id}", "recommendation", "qualifies", i, "medication_history",
                         "agents", j, "id")
        if any(h != "patient-view" for h in rec.hooks) and not any(c.medication_history for c in rec.qualifies):
            out.append(loaded.diag("EK106", Severity.ERROR, "order-select and order-sign fire on an order of an "
                                   "agent of a medication history, and the recommendation has none", "recommendation",
                                   hint="add a medication_history criterion, or use hooks: [patient-view]"))
        unique("override reason", [r.code for r in rec.card.override_reasons], "recommendation", "card",
               "override_reasons")
    source_ids = {s.id for s in q.sources}
    for path, prov in loaded.provenances:
        need(prov.source, source_ids, "source", *path, "source")
        if prov.report is not None:
            out.append(loaded.diag("EK103", Severity.ERROR, "a question has no reports: `report` names a study's "
                                   "publication", *path, "report",
                                   hint="leave `report` out; a question's facts name their `source`"))
    return out


def _provenances(study: Study | Question) -> typing.Iterator[tuple[tuple[object, ...], typing.Any]]:
    """Every provenance entry with its value path (for checks and the source map)."""

    def walk(obj: object, path: tuple[object, ...]) -> typing.Iterator[tuple[tuple[object, ...], typing.Any]]:
        if isinstance(obj, BaseModel):
            for name, field in type(obj).model_fields.items():
                value = getattr(obj, name)
                key = field.alias or name
                if name == "provenance" and isinstance(value, list):
                    for i, prov in enumerate(value):
                        yield path + (key, i), prov
                else:
                    yield from walk(value, path + (key,))
        elif isinstance(obj, list):
            for i, item in enumerate(obj):
                yield from walk(item, path + (i,))

    yield from walk(study, ())

