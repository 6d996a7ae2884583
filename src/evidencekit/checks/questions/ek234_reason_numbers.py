from __future__ import annotations

from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...diagnostics import Diagnostic, Severity
from .._reasons import stated_numbers


def ek234_reason_numbers(question: LoadedQuestion, studies: dict[str, LoadedStudy]) -> Iterator[Diagnostic]:
    """Certainty reason states a number none of the outcome's cited results has.

    The certainty of an outcome's body of evidence is about the results the outcome cites: a
    number its reasons state ("9 of 12 patients ... in a trial of 15") must be one of those
    results' estimates, counts or Ns (15 is the trial's, not a cited result's: say what the
    rated results are). Unknown studies or results are EK230's.

    Reference: GRADE Handbook section 5.2.2; Guyatt GH, et al. J Clin Epidemiol 2011;64:1283
    (imprecision).

    **Bad**::

        results: [{study: dalakas-1993, result: major-ivig}]
        certainty: {domains: [{reason: 9 of 12 patients, in a trial of 15.}]}

    **Good**::

        certainty: {domains: [{reason: 9 of 12 patients on IVIG, in one small trial.}]}
    """
    for i, outcome in enumerate(question.question.outcomes):
        if outcome.certainty is None:
            continue
        has: set[object] = set()
        for cited in outcome.results:
            study = studies.get(cited.study)
            result = next((r for r in study.study.results if r.id == cited.result), None) if study else None
            if study is not None and result is not None:
                has |= study.study.numbers_of(result)
        for j, domain in enumerate(outcome.certainty.domains):
            stray = [n for n in stated_numbers(domain.reason or "") if n not in has]
            if stray:
                yield question.diag("EK234", Severity.WARNING,
                                    f"outcome '{outcome.id}': certainty reason states {', '.join(map(str, stray))}, "
                                    "which none of its cited results has", "outcomes", i, "certainty", "domains", j,
                                    "reason", hint="state the cited results' own N and counts")
