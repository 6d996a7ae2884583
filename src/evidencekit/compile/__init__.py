"""Compile study definitions into FHIR R5 resources (one module per resource kind).

The running order below is the whole dependency story: each step only reads
the study and what earlier steps produced.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import Config
from ..definitions.loader import LoadedQuestion, LoadedStudy
from .assessment import compile_assessments
from .citation import compile_citations
from .context import CompileContext, CompiledResource, Json
from .evidence import compile_evidence
from .extensions import derived_value_definition
from .groups import compile_groups
from .question import compile_question
from .summary import compile_summary
from .recommendation import compile_recommendation
from .report import compile_report
from .search_parameters import search_parameter_definitions
from .use_context import apply_use_context, focus_concepts
from .variables import compile_variables

__all__ = ["CompileResult", "compile_one_question", "compile_study", "compile_studies", "conformance_definitions"]


@dataclass
class CompileResult:
    """Every compiled resource, in a stable order, with its source information."""

    compiled: list[CompiledResource] = field(default_factory=list)
    #: conformance resources shipped in the FHIR package (our extension's StructureDefinition, our
    #: SearchParameters), written to ``definitions/``; push sends the SearchParameters first
    definitions: list[Json] = field(default_factory=list)

    @property
    def resources(self) -> list[Json]:
        return [c.resource for c in self.compiled]


def conformance_definitions(config: Config) -> list[Json]:
    """What the package ships besides the knowledge: our extension's StructureDefinition and our
    SearchParameters (written to ``definitions/``)."""
    return [derived_value_definition(config), *search_parameter_definitions(config)]


def compile_study(loaded: LoadedStudy, config: Config) -> list[CompiledResource]:
    ctx = CompileContext(config, loaded)
    resources: list[Json] = compile_citations(ctx)
    resources += compile_groups(ctx)
    resources += compile_variables(ctx)
    resources += compile_evidence(ctx)
    resources += compile_assessments(ctx, resources)
    compile_report(ctx, resources)
    apply_use_context(ctx.compiled, focus_concepts(loaded))
    return ctx.compiled


def compile_studies(studies: list[LoadedStudy], config: Config,
                    questions: list[LoadedQuestion] | None = None) -> CompileResult:
    """Compile every study, then every question (each sorted by id, so output order never depends
    on file order); questions cite the studies' Evidence, and a question's recommendation its summary
    of findings."""
    result = CompileResult(definitions=conformance_definitions(config))
    for loaded in sorted(studies, key=lambda s: s.study.id):
        result.compiled.extend(compile_study(loaded, config))
    keyed = {c.key: c.resource for c in result.compiled}  # built once; each question adds its own
    by_id = {s.study.id: s for s in studies}
    for question in sorted(questions or [], key=lambda q: q.question.id):
        compiled = compile_one_question(question, config, keyed, by_id)
        keyed.update((c.key, c.resource) for c in compiled)
        result.compiled.extend(compiled)
    return result


def compile_one_question(question: LoadedQuestion, config: Config, keyed: Mapping[str, Json],
                         by_id: dict[str, LoadedStudy]) -> list[CompiledResource]:
    """A question's resources, given every study's (``keyed``: 'Type/id' -> resource; not changed)."""
    ctx = CompileContext(config, question)
    compile_question(ctx, keyed, by_id)
    # each step reads what the earlier ones made; a ChainMap, so `keyed` is neither copied nor changed
    compile_summary(ctx, ChainMap({c.key: c.resource for c in ctx.compiled}, keyed), by_id)
    compile_recommendation(ctx, ChainMap({c.key: c.resource for c in ctx.compiled}, keyed), by_id)
    apply_use_context(ctx.compiled, focus_concepts(question))
    return ctx.compiled
