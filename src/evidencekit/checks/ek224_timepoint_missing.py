from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek224_timepoint_missing(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Outcome result without a timepoint in a study with periods.

    When a study declares periods (a double-blind period and an open-label
    extension, say), an outcome means something different in each: every
    outcome result must say when it was measured (`timepoint`).

    Reference: CONSORT 2010 item 6a (outcomes, including how and when they
    were assessed).

    **Bad**::

        periods: [{id: first-period, ...}, {id: extension, ...}]
        results: [{id: tis20-ivig, variable: tis20, ...}]          # week 16 or week 40?

    **Good**::

        results: [{id: tis20-ivig, variable: tis20, timepoint: week-16, ...}]
    """
    study = loaded.study
    if not study.periods:
        return
    outcomes = {v.id for v in study.variables if v.role == "outcome"}
    for i, result in enumerate(study.results):
        if result.variable in outcomes and result.timepoint is None:
            yield loaded.diag("EK224", Severity.WARNING,
                              f"result '{result.id}' does not say when it was measured", "results", i, "variable",
                              hint=f"add `timepoint:` ({', '.join(t.id for t in study.timepoints) or 'declare one'})")
