"""What every per-resource compiler shares: ids, URLs, references, the source map."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any

from ..config import Config
from ..definitions.loader import LoadedQuestion, LoadedStudy
from ..definitions.model import Provenance

__all__ = ["EBM", "CompileContext", "CompiledResource", "div", "provenance_note"]

#: Canonical base of the EBM-on-FHIR IG profiles (IG-R5, 1.0.0-ballot).
EBM = "http://hl7.org/fhir/uv/ebm/StructureDefinition/"
ARTIFACT_URL = "http://hl7.org/fhir/StructureDefinition/artifact-url"
ARTIFACT_TITLE = "http://hl7.org/fhir/StructureDefinition/artifact-title"

Json = dict[str, Any]


@dataclass
class CompiledResource:
    """One output resource with where it came from."""

    resource: Json
    file: str
    yaml_path: tuple[object, ...]
    line: int
    column: int
    elements: list[Json] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['id']}"


@dataclass
class CompileContext:
    config: Config
    loaded: LoadedStudy | LoadedQuestion
    compiled: list[CompiledResource] = field(default_factory=list)

    @property
    def study(self):  # type: ignore[no-untyped-def]
        return self.loaded.study

    @property
    def definition(self):  # type: ignore[no-untyped-def]
        """The study or question being compiled (both have ``status`` and ``date``)."""
        return self.loaded.study if isinstance(self.loaded, LoadedStudy) else self.loaded.question

    def rid(self, local: str | None = None) -> str:
        """Stable resource id: '<study id>' or '<study id>-<local id>'."""
        ident = self.loaded.study.id if isinstance(self.loaded, LoadedStudy) else self.loaded.question.id
        return ident if local is None else f"{ident}-{local}"

    def url(self, resource_type: str, rid: str) -> str:
        return f"{self.config.canonical_base}/{resource_type}/{rid}"

    def ref(self, resource_type: str, rid: str, display: str | None = None) -> Json:
        out: Json = {"reference": f"{resource_type}/{rid}", "type": resource_type}
        if display:
            out["display"] = display
        return out

    def artifact_extensions(self, resource_type: str, rid: str, title: str | None = None) -> list[Json]:
        """artifact-url (and artifact-title) extensions for resources without url/title elements.

        ArtifactAssessment has its own ``title``; the artifact-title extension is not
        allowed on it (its context excludes ArtifactAssessment), so pass no title there.
        """
        out: list[Json] = [{"url": ARTIFACT_URL, "valueUri": self.url(resource_type, rid)}]
        if title is not None:
            out.append({"url": ARTIFACT_TITLE, "valueString": title})
        return out

    def add(self, resource: Json, *yaml_path: object) -> CompiledResource:
        file, line, column = self.loaded.at(*yaml_path)
        compiled = CompiledResource(resource, file, tuple(yaml_path), line, column)
        self.compiled.append(compiled)
        return compiled

    def element(self, compiled: CompiledResource, fhir_path: str, yaml_path: tuple[object, ...],
                authored: str | None, provenance: list[Provenance] | None = None,
                derived: str | None = None) -> None:
        """Record that an output element came from a definition value (the source map)."""
        file, line, column = self.loaded.at(*yaml_path)
        entry: Json = {"fhir_path": fhir_path, "file": file, "line": line, "column": column,
                       "yaml_path": _dotted(yaml_path)}
        if authored is not None:
            entry["authored"] = authored
        if derived is not None:
            entry["derived"] = derived
        if provenance:
            entry["provenance"] = [_provenance_json(p, self) for p in provenance]
        compiled.elements.append(entry)

    def source_title(self, source_id: str) -> str:
        for source in self.definition.sources:
            if source.id == source_id:
                return source.title
        return source_id


def _provenance_json(p: Provenance, ctx: CompileContext) -> Json:
    out: Json = {"source": p.source, "source_title": ctx.source_title(p.source)}
    if p.locator:
        out["locator"] = p.locator
    out["quote"] = p.quote
    if p.report is not None:
        out["report"] = p.report
    return out


def provenance_note(ctx: CompileContext, provenance: list[Provenance]) -> list[Json]:
    """Annotation(s) that say where in the source a fact comes from."""
    notes = []
    for p in provenance:
        where = ctx.source_title(p.source) + (f", {p.locator}" if p.locator else "")
        notes.append({"text": f"Source: {where}: \u201c{p.quote}\u201d"})
    return notes


def _dotted(path: tuple[object, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def div(*blocks: str | tuple[str, list[str]]) -> Json:
    """A generated narrative: strings become paragraphs, (title, items) a list."""
    html = ['<div xmlns="http://www.w3.org/1999/xhtml">']
    for block in blocks:
        if isinstance(block, tuple):
            title, items = block
            if not items:
                continue
            html.append(f"<p><b>{escape(title)}</b></p><ul>")
            html.extend(f"<li>{escape(item)}</li>" for item in items)
            html.append("</ul>")
        elif block:
            html.append(f"<p>{escape(block)}</p>")
    html.append("</div>")
    return {"status": "generated", "div": "".join(html)}


def percent_to_fraction(text: str) -> Decimal:
    """'83' (percent) -> Decimal('0.83'); '80' -> Decimal('0.80'): precision is kept."""
    return Decimal(text).scaleb(-2)
