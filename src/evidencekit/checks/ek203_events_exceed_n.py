from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ._base import denominator_of, results_with_index


def ek203_events_exceed_n(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Events exceed the denominator.

    A count of patients with an outcome cannot exceed the number of patients it
    is counted among; a subgroup cannot be larger than its population.

    Reference: definition of a proportion (numerator is a subset of the
    denominator); FHIR R5 Evidence.statistic.numberAffected / sampleSize.

    **Bad**::

        affected: 50
        denominator: {kind: count, value: 42}

    **Good**::

        affected: 35
        denominator: {kind: count, value: 42}
    """
    for i, result in results_with_index(loaded, "proportion"):
        n = denominator_of(loaded, result)
        if result.affected is not None and n is not None and result.affected > n:
            yield loaded.diag("EK203", Severity.ERROR,
                              f"result '{result.id}': {result.affected} events out of {n}",
                              "results", i, "affected", hint="patients with the event (`affected`) must be at most the denominator")
    total = loaded.study.population.n.value
    for i, sub in enumerate(loaded.study.population.subgroups):
        if sub.n.value > total:
            yield loaded.diag("EK203", Severity.ERROR,
                              f"subgroup '{sub.id}' has {sub.n.value} patients, more than the "
                              f"population's {total}", "population", "subgroups", i, "n", "value")
