from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedQuestion, LoadedStudy
from ..definitions.model import Recommendation
from ..diagnostics import Diagnostic, Severity
from ..terminology import concept, terminology


def _question_uses(loaded: LoadedQuestion) -> Iterator[tuple[str, tuple[object, ...]]]:
    q = loaded.question
    for part in ("population", "intervention", "comparator"):
        element = getattr(q.question, part)
        for i, key in enumerate(element.concepts if element is not None else []):
            yield key, ("question", part, "concepts", i)
    for i, outcome in enumerate(q.outcomes):
        for j, cited in enumerate(outcome.results):
            yield cited.directness.rating, ("outcomes", i, "results", j, "directness", "rating")
        if outcome.certainty is not None:
            yield outcome.certainty.rating, ("outcomes", i, "certainty", "rating")
            for j, domain in enumerate(outcome.certainty.domains):
                yield domain.type, ("outcomes", i, "certainty", "domains", j, "type")
                yield domain.rating, ("outcomes", i, "certainty", "domains", j, "rating")


def concept_uses(loaded: LoadedStudy | LoadedQuestion) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Every terminology key a definition (study or question) uses, with its value path."""
    if isinstance(loaded, LoadedQuestion):
        yield from _question_uses(loaded)
        yield from _recommendation_uses(loaded.question.recommendation)
        return
    study = loaded.study
    for i, key in enumerate(study.citation.mesh):
        yield key, ("citation", "mesh", i)
    for k, report in enumerate(study.reports):
        for i, key in enumerate(report.article.mesh if report.article is not None else []):
            yield key, ("reports", k, "article", "mesh", i)
    for i, key in enumerate(study.design.codes):
        yield key, ("design", "codes", i)
    for k, period in enumerate(study.periods):
        for i, key in enumerate(period.codes):
            yield key, ("periods", k, "codes", i)
    for i, crit in enumerate(study.population.eligibility.criteria):
        if crit.concept:
            yield crit.concept, ("population", "eligibility", "criteria", i, "concept")
    if study.exposure is not None:
        for i, key in enumerate(study.exposure.concepts):
            yield key, ("exposure", "concepts", i)
    for i, arm in enumerate(study.arms):
        for j, key in enumerate(arm.concepts):
            yield key, ("arms", i, "concepts", j)
    if study.assessment is not None:
        ratings = [(("risk_of_bias",), study.assessment.risk_of_bias)]
        ratings += [(("certainty", k), c) for k, c in enumerate(study.assessment.certainty)]
        for where, judged in ratings:
            yield judged.rating, ("assessment", *where, "rating")
            for i, dom in enumerate(judged.domains):
                yield dom.type, ("assessment", *where, "domains", i, "type")
                yield dom.rating, ("assessment", *where, "domains", i, "rating")


def _recommendation_uses(rec: Recommendation | None) -> Iterator[tuple[str, tuple[object, ...]]]:
    if rec is None:
        return
    for i, key in enumerate(rec.suggest.concepts if rec.suggest is not None else []):
        yield key, ("recommendation", "suggest", "concepts", i)
    for i, criterion in enumerate(rec.qualifies):
        path = ("recommendation", "qualifies", i)
        for kind in ("condition", "observation"):
            typed = getattr(criterion, kind)
            for j, match in enumerate(typed.codes if typed is not None else []):
                yield match.concept, (*path, kind, "codes", j, "concept")
        if criterion.medication_history is not None:
            for j, agent in enumerate(criterion.medication_history.agents):
                for k, key in enumerate(agent.concepts):
                    yield key, (*path, "medication_history", "agents", j, "concepts", k)
        if criterion.medication is not None:
            for j, key in enumerate(criterion.medication.concepts):
                yield key, (*path, "medication", "concepts", j)


def ek301_unknown_code(loaded: LoadedStudy | LoadedQuestion) -> Iterator[Diagnostic]:
    """Code is not in the terminology table.

    Every code evidencekit emits comes from its terminology: the built-in
    library (`evidencekit.terminology`) and the project's `kind: terminology`
    files, each entry citing its source. A key that is in neither would be an
    invented code.

    Reference: evidencekit design, "No invented codes"; README "Terminology".

    **Bad**::

        concept: sct:12345

    **Good**::

        concept: sct:396230008
    """
    import difflib

    known = terminology().concepts
    for key, path in concept_uses(loaded):
        if concept(key) is None:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
            prefix, _, code = key.partition(":")
            declare = (f"declare it in a `kind: terminology` file among the definitions ({{system: {prefix}, "
                       f"code: {code or '...'}, display: ..., status: ..., source: ...}}); see README \"Terminology\"")
            yield loaded.diag("EK301", Severity.ERROR, f"code '{key}' is not in the terminology table",
                              *path, hint=f"did you mean '{close[0]}'? If not, {declare}" if close else declare)


def ek302_unverified_code(loaded: LoadedStudy | LoadedQuestion) -> Iterator[Diagnostic]:
    """Code is not verified against its authoritative source.

    Concepts marked `corroborated` or `unverified` in the terminology table may
    be used, but every use is reported so it is checked before release. A
    concept the project has reviewed (`reviewed:` in its terminology file) is
    not reported again.

    Reference: README "Terminology" (status of each concept and its source).

    **Bad**::

        concepts: [mesh:D016756]     # UNVERIFIED in the reference

    **Good**::

        concepts: [ncit:C2701]       # VERIFIED
    """
    active = terminology()
    for key, path in concept_uses(loaded):
        found = active.unchecked(key)
        if found is not None:
            yield loaded.diag("EK302", Severity.WARNING,
                              f"code '{key}' ({found.display}) is {found.status}, not verified: {found.source}",
                              *path, hint="verify it against the code system's release; once checked, list it under `reviewed:` in a "
                                   "terminology file")
