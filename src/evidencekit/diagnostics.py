"""One diagnostic type for every stage, and its text, JSON and SARIF renderers.

A :class:`Diagnostic` is data, not an exception: loaders, checks and validators
return lists of them and processing continues, so a user sees every problem in
one run. Codes are stable; :data:`CODES` is the registry (README lists it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable

__all__ = ["CODES", "Diagnostic", "Severity", "has_errors", "render"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: code -> one-line title. Grouped by stage: EK0 input files, EK1 definition
#: content, EK2 consistency checks, EK3 terminology, EK4 output validation,
#: EK5 environment / output writing.
CODES: dict[str, str] = {
    "EK001": "file is not valid UTF-8",
    "EK002": "YAML syntax error",
    "EK003": "tab character used for indentation",
    "EK004": "duplicate key in a mapping",
    "EK005": "YAML anchors and aliases are not allowed",
    "EK006": "file is too large",
    "EK007": "file is empty",
    "EK008": "top level of a definition must be a mapping",
    "EK009": "file cannot be read",
    "EK010": "no definition files found",
    "EK011": "definition file links outside the definitions directory",
    "EK012": "control character in a definition",
    "EK101": "unknown field",
    "EK102": "missing required field",
    "EK103": "value has the wrong type or is not allowed",
    "EK104": "malformed value (DOI, PMID, date, id or number format)",
    "EK105": "duplicate id",
    "EK106": "reference to an undefined id",
    "EK107": "id is not safe as a FHIR id or file name",
    "EK201": "percentage not reachable by any integer count (GRIM)",
    "EK202": "proportion outside 0..1 (percentage outside 0..100)",
    "EK203": "events exceed the denominator",
    "EK204": "subgroup sizes do not add up to the group size",
    "EK205": "mean not reachable from integer data (GRIM)",
    "EK206": "standard deviation negative or impossible for the declared range",
    "EK207": "confidence interval does not contain its estimate",
    "EK208": "consistency check not testable (denominator unknown, N too large, or paired data)",
    "EK209": "provenance quote not found in the source document",
    "EK210": "reported number does not appear in its provenance quote",
    "EK211": "subgroup results are inconsistent with the total",
    "EK212": "proportion or risk difference without a scale",
    "EK213": "design kind disagrees with the design codes, arms or exposure",
    "EK214": "arm or analysis-set sizes do not add up",
    "EK215": "arm or analysis set referenced by no result",
    "EK216": "comparison is not between two different arms",
    "EK217": "ratio estimate or bound is not positive",
    "EK218": "p-value outside (0, 1]",
    "EK219": "between-group estimate does not match the arm results",
    "EK220": "confidence interval not reproduced by any standard method",
    "EK221": "p-value disagrees with its confidence interval",
    "EK222": "p-value not reproduced by a test the arm data allow",
    "EK223": "effect direction disagrees with the arm values",
    "EK224": "outcome result without a timepoint in a study with periods",
    "EK225": "reported figure reproduced by a recomputation (which method)",
    "EK226": "comparison of groups that share patients not declared paired (or of disjoint groups declared paired)",
    "EK227": "certainty reason states a number none of its rated results has",
    "EK230": "question cites a study or result that is not defined",
    "EK231": "synthesis combines results that are not combinable",
    "EK232": "certainty or directness rated down without a reason",
    "EK233": "question outcome has no result",
    "EK234": "certainty reason states a number none of the outcome's cited results has",
    "EK301": "code is not in the terminology table",
    "EK302": "code is not verified against its authoritative source",
    "EK303": "project concept or code system conflicts with the terminology library",
    "EK304": "ICD-10-CM code or title differs from the CMS release",
    "EK305": "unit without a UCUM code",
    "EK401": "resource does not conform to the FHIR R5 model",
    "EK402": "reference does not resolve inside the output",
    "EK403": "resource violates a rule of a declared EBM profile",
    "EK404": "duplicate resource id or fullUrl",
    "EK405": "output file is not valid JSON or not FHIR R5",
    "EK406": "code outside a required value set, or unknown in its code system",
    "EK407": "FHIRPath invariant violated",
    "EK408": "element cardinality violated",
    "EK409": "primitive value has the wrong JSON type or format",
    "EK410": "reference points to a resource type the element does not allow",
    "EK411": "unknown element",
    "EK412": "element id used twice in a resource",
    "EK501": "output cannot be written",
    "EK502": "configuration file is invalid",
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A located problem: stable code, severity, message (with a hint)."""

    file: str = ""
    line: int = 0
    column: int = 0
    code: str = ""
    severity: Severity = Severity.ERROR
    message: str = ""
    fhir_path: str = ""
    hint: str = field(default="", compare=False)

    def check_tuple(self) -> tuple[str, int, int]:
        """(code, line, column), for compact comparisons in tests."""
        return (self.code, self.line, self.column)

    def to_dict(self) -> dict[str, object]:
        message = f"{self.message} (hint: {self.hint})" if self.hint else self.message
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": message,
            "file": self.file or None,
            "line": self.line or None,
            "column": self.column or None,
            "fhir_path": self.fhir_path or None,
        }

    def format_text(self) -> str:
        where = self.file or "<input>"
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.severity.value} {self.code} {self.message}"
        if self.fhir_path:
            text += f" [{self.fhir_path}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def _sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file, d.line, d.column, d.code, d.message)


#: text output shows this many diagnostics of each code in full, then one summary line per code
SHOWN_PER_CODE = 5


def _summaries(items: list[Diagnostic], shown_per_code: int) -> tuple[list[Diagnostic], list[str]]:
    """The diagnostics shown in full, and one line per code whose further diagnostics are counted."""
    by_code: dict[tuple[str, Severity], list[Diagnostic]] = {}
    for d in items:
        by_code.setdefault((d.code, d.severity), []).append(d)
    shown = {id(d) for group in by_code.values() for d in group[:shown_per_code]}
    lines = []
    for (code, severity), group in sorted(by_code.items()):
        if len(group) <= shown_per_code:
            continue
        files = len({d.file for d in group})
        distinct = len({d.message for d in group})
        lines.append(f"{severity.value} {code} ×{len(group):,} in {files:,} file(s) — {distinct:,} distinct "
                     f"message(s), {len(group) - shown_per_code:,} not shown ({CODES.get(code, code)}); "
                     "--all or --format json lists all")
    return [d for d in items if id(d) in shown], lines


def render(diagnostics: Iterable[Diagnostic], fmt: str, *, shown_per_code: int | None = None) -> str:
    """Render diagnostics as ``text``, ``json`` or ``sarif`` (sorted, stable). Text shows the first
    ``shown_per_code`` of each code in full and summarises the rest (None: all in full)."""
    items = sorted(diagnostics, key=_sort_key)
    if fmt == "json":
        return json.dumps([d.to_dict() for d in items], indent=2, ensure_ascii=False)
    if fmt == "sarif":
        return json.dumps(_sarif(items), indent=2, ensure_ascii=False)
    full, summaries = _summaries(items, shown_per_code) if shown_per_code is not None else (items, [])
    lines = [d.format_text() for d in full] + summaries
    counts = {s: sum(1 for d in items if d.severity is s) for s in Severity}
    lines.append(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} info"
    )
    return "\n".join(lines)


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _sarif(items: list[Diagnostic]) -> dict[str, object]:
    from . import __version__

    used = sorted({d.code for d in items})
    results = []
    for d in items:
        result: dict[str, object] = {
            "ruleId": d.code,
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": d.to_dict()["message"]},
        }
        if d.file:
            region = {"startLine": d.line, "startColumn": d.column or 1} if d.line else {}
            location: dict[str, object] = {"artifactLocation": {"uri": d.file}}
            if region:
                location["region"] = region
            entry: dict[str, object] = {"physicalLocation": location}
            if d.fhir_path:
                entry["logicalLocations"] = [{"fullyQualifiedName": d.fhir_path}]
            result["locations"] = [entry]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "evidencekit",
                        "version": __version__,
                        "rules": [
                            {"id": c, "shortDescription": {"text": CODES.get(c, c)}} for c in used
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
