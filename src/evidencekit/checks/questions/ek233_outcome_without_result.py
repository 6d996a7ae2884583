from __future__ import annotations

from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...diagnostics import Diagnostic, Severity


def ek233_outcome_without_result(question: LoadedQuestion, studies: dict[str, LoadedStudy]) -> Iterator[Diagnostic]:
    """Question outcome has no result.

    An outcome the question names but no study result answers is a gap in the
    evidence: it is reported (a summary of findings shows it as "no studies"),
    not silently dropped.

    Reference: GRADE Handbook section 5.1 (all critical and important
    outcomes are listed, including those without evidence).

    **Bad**::

        outcomes: [{id: mortality, importance: critical, results: []}]

    **Good**::

        outcomes: [{id: skin-response, importance: critical, results: [{study: ..., result: ...}]}]
    """
    for i, outcome in enumerate(question.question.outcomes):
        if not outcome.results:
            yield question.diag("EK233", Severity.WARNING,
                                f"outcome '{outcome.id}' ({outcome.importance}) has no result",
                                "outcomes", i, "id", hint="cite the study results that answer it, or say in the "
                                                          "outcome that no study reports it")
