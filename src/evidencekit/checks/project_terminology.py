"""A project's terminology files, checked and merged with the built-in library.

EK303: a project concept or code system that conflicts with the library (another display or
system for a key the library has, a prefix bound to another URI, an unknown prefix, a review of
a concept nobody declared, a unit declared with two UCUM codes). EK304: an ICD-10-CM concept whose code is not in the CMS release or
whose display is not the release's title (the release ships in ``simple-icd-10-cm``); a project
ICD-10-CM concept that matches the release is verified whatever status it was given.
"""

from __future__ import annotations

from ..definitions.loader import LoadedTerminology
from ..diagnostics import Diagnostic, Severity
from ..terminology import ICD10CM_RELEASE, SYSTEMS, Concept, Terminology, Unit, icd10cm_title

__all__ = ["project_terminology"]


def project_terminology(files: list[LoadedTerminology]) -> tuple[Terminology, list[Diagnostic]]:
    """The build's terminology: the library plus every file's concepts and reviews."""
    out = Terminology()
    problems: list[Diagnostic] = []
    declared: dict[str, tuple[LoadedTerminology, int]] = {}
    for loaded in files:
        for prefix, uri in loaded.terminology.systems.items():
            if out.systems.get(prefix, uri) != uri:
                problems.append(loaded.diag("EK303", Severity.ERROR, f"system prefix '{prefix}' is already "
                                            f"{out.systems[prefix]}", "systems", prefix,
                                            hint="choose another prefix for this code system"))
                continue
            if prefix not in SYSTEMS and uri in SYSTEMS.values():
                known = next(p for p, u in SYSTEMS.items() if u == uri)
                problems.append(loaded.diag("EK303", Severity.ERROR, f"{uri} already has the prefix '{known}'",
                                            "systems", prefix, hint=f"write its codes as {known}:<code>"))
                continue
            out.systems[prefix] = uri
    for loaded in files:
        for i, item in enumerate(loaded.terminology.concepts):
            problems += _add(out, loaded, i, declared)
    for loaded in files:
        for i, unit in enumerate(loaded.terminology.units):
            known = out.units.get(unit.unit)
            if known is not None and known.code != unit.code:
                problems.append(loaded.diag("EK303", Severity.ERROR, f"unit '{unit.unit}' is already UCUM "
                                            f"'{known.code}' ({known.source[:120]})", "units", i, "code",
                                            hint="declare each unit once, with one code"))
                continue
            out.units[unit.unit] = Unit(unit.unit, unit.code, unit.source)
    for loaded in files:
        for i, review in enumerate(loaded.terminology.reviewed):
            if review.concept not in out.concepts:
                problems.append(loaded.diag("EK303", Severity.ERROR, f"reviewed concept '{review.concept}' is "
                                            "neither in the library nor declared by the project",
                                            "reviewed", i, "concept", hint="check the key (prefix:code)"))
                continue
            out.reviewed.add(review.concept)
    return out, problems


def _add(out: Terminology, loaded: LoadedTerminology, i: int,
         declared: dict[str, tuple[LoadedTerminology, int]]) -> list[Diagnostic]:
    item = loaded.terminology.concepts[i]
    key = item.key

    def problem(code: str, message: str, field: str, hint: str = "") -> list[Diagnostic]:
        return [loaded.diag(code, Severity.ERROR, message, "concepts", i, field, hint=hint)]

    system = out.systems.get(item.system)
    if system is None:
        return problem("EK303", f"unknown code system prefix '{item.system}'", "system",
                       f"declare it under `systems:` ({item.system}: <code system URI>) or use one of "
                       f"{', '.join(sorted(out.systems))}")
    status = item.status
    if system == SYSTEMS["icd10cm"]:
        title = icd10cm_title(item.code)
        if title is None:
            return problem("EK304", f"ICD-10-CM has no code '{item.code}' in the {ICD10CM_RELEASE}", "code",
                           "ICD-10-CM codes are written with their dot (M33.13)")
        if title != item.display:
            return problem("EK304", f"the CMS title of {item.code} is '{title}', not '{item.display}'", "display",
                           f"write display: {title}")
        status = "verified"
    existing = out.concepts.get(key)
    if existing is not None:
        if key in declared:
            other, j = declared[key]
            return problem("EK303", f"concept '{key}' is also declared at {other.file}:"
                                    f"{other.at('concepts', j)[1]}", "code", "declare each concept once")
        if existing.display != item.display:
            return problem("EK303", f"the library has '{key}' as '{existing.display}', not '{item.display}'",
                           "display", "leave library concepts out of the project file (or mark them reviewed)")
    source = item.source if item.reviewed is None else f"{item.source}; reviewed by {item.reviewed.by}, " \
                                                         f"{item.reviewed.date}"
    if existing is None:
        out.concepts[key] = Concept(key, system, item.code, item.display, status, source)
        declared[key] = (loaded, i)
    if item.reviewed is not None:
        out.reviewed.add(key)
    return []
