from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ._reasons import stated_numbers


def ek227_reason_numbers(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Certainty reason states a number none of its rated results has.

    A reason for a certainty rating that states an N or a count ("one trial of 95 patients")
    must be about the results it rates: a number none of them has (its estimate, bounds,
    counts, N, or a comparison's group sizes and their sum) is most likely another result's
    N (the 95 randomized, for a difference analysed in 45 and 43), or a slip.

    Reference: GRADE Handbook section 5.2.2 (imprecision judged on the rated outcome's sample
    size and events); evidencekit design, "Truth to the source".

    **Bad** (the CDASI difference was analysed in 45 and 43)::

        certainty: [{results: [cdasi-difference], domains: [{reason: One trial of 95 patients.}]}]

    **Good**::

        certainty: [{results: [cdasi-difference], domains: [{reason: One trial, 45 and 43 analysed.}]}]
    """
    study = loaded.study
    if study.assessment is None:
        return
    results = {r.id: r for r in study.results}
    for k, certainty in enumerate(study.assessment.certainty):
        has = set().union(*(study.numbers_of(results[r]) for r in certainty.results if r in results))
        for i, domain in enumerate(certainty.domains):
            stray = [n for n in stated_numbers(domain.reason) if n not in has]
            if stray:
                yield loaded.diag("EK227", Severity.WARNING,
                                  f"certainty reason states {', '.join(map(str, stray))}, which none of the rated "
                                  f"results ({', '.join(certainty.results)}) has", "assessment", "certainty", k,
                                  "domains", i, "reason",
                                  hint="state the rated results' own N and counts, or rate the results apart")
