from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek215_unused_arm(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Arm or analysis set referenced by no result.

    Every arm and analysis set is declared to carry results: one that no
    result is about (`population`), compares (`comparison`) or is analysed as
    (an analysis set's `arm`) is usually a misspelled id or a forgotten result.

    Reference: CONSORT 2010 item 17a (results for each group).

    **Bad**::

        arms: [{id: ivig, ...}, {id: placebo, ...}, {id: low-dose, ...}]   # no result mentions low-dose

    **Good**::

        arms: [{id: ivig, ...}, {id: placebo, ...}]
    """
    study = loaded.study
    used: set[str] = set()
    for result in study.results:
        if result.population is not None:
            used.add(result.population)
        if result.comparison is not None:
            used |= {result.comparison.intervention, result.comparison.comparator}
    used |= {aset.arm for aset in study.analysis_sets if aset.id in used}
    for i, arm in enumerate(study.arms):
        if arm.id not in used:
            yield loaded.diag("EK215", Severity.ERROR, f"arm '{arm.id}' is referenced by no result",
                              "arms", i, "id", hint="add its results, or remove the arm")
    for i, aset in enumerate(study.analysis_sets):
        if aset.id not in used:
            yield loaded.diag("EK215", Severity.ERROR, f"analysis set '{aset.id}' is referenced by no result",
                              "analysis_sets", i, "id", hint="add its results, or remove the set")
