from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek226_shared_patients(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Comparison of groups that share patients not declared paired (or of disjoint groups declared paired).

    Methods for independent groups (a risk difference of 9/12 vs 0/11, its CI and test) assume
    no patient is in both groups. Two groups share patients when the design is a crossover
    (every patient receives both treatments), or when they are drawn from a common arm: an
    analysis set that includes members of another arm (e.g. the patients ever on IVIG, with
    the placebo patients who crossed over) overlaps every group of that arm. Such a comparison
    must say `paired: true` (it is then a within-patient result, not recomputed: EK208). The
    disjoint arms of a parallel randomized period are never paired.

    Reference: Elbourne DR et al., Int J Epidemiol 2002;31:140 (meta-analyses involving
    cross-over trials); CONSORT 2010 extension to crossover trials (Dwan K et al., BMJ
    2019;366:l4378), item 12a.

    **Bad** (the sets share the patients who crossed over)::

        comparison: {intervention: ever-ivig, comparator: ever-placebo}

    **Good**::

        comparison: {intervention: ivig, comparator: placebo}       # the randomized first period
        comparison: {intervention: a, comparator: b, paired: true}   # a crossover's within-patient result
    """
    study = loaded.study
    for i, result in enumerate(study.results):
        if result.comparison is None:
            continue
        first, second = result.comparison.intervention, result.comparison.comparator
        shared = study.shared_patients(first, second)
        if shared is not None and not result.comparison.paired:
            yield loaded.diag("EK226", Severity.ERROR,
                              f"result '{result.id}' compares '{first}' and '{second}', which share patients "
                              f"({shared}), as if they were independent groups", "results", i, "comparison",
                              hint="compare disjoint groups (the randomized arms of one period), or say "
                                   "`paired: true` for a within-patient result")
        elif shared is None and result.comparison.paired:
            yield loaded.diag("EK226", Severity.ERROR,
                              f"result '{result.id}' says `paired: true`, but '{first}' and '{second}' are "
                              "different patients (disjoint randomized arms)", "results", i, "comparison",
                              hint="leave `paired` out: randomized parallel arms are independent groups")
