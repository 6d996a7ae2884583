from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek216_self_comparison(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Comparison is not between two different arms.

    A between-group result compares two groups of different arms: an arm or
    analysis set with itself, or with a set of the same arm, compares
    nothing. The `intervention` side should belong to an intervention arm and
    the `comparator` side to a comparator arm; swapped sides invert the
    effect (a warning).

    Reference: EBM IG R5 ComparativeEvidence (exposure variable with the
    comparator category); CONSORT 2010 item 17a.

    **Bad**::

        comparison: {intervention: ivig, comparator: ivig}

    **Good**::

        comparison: {intervention: ivig, comparator: placebo}
    """
    study = loaded.study
    for i, result in enumerate(study.results):
        if result.comparison is None:
            continue
        first, second = result.comparison.intervention, result.comparison.comparator
        arm1, arm2 = study.arm_of(first), study.arm_of(second)
        if first == second or (arm1 is not None and arm2 is not None and arm1.id == arm2.id):
            yield loaded.diag("EK216", Severity.ERROR,
                              f"result '{result.id}' compares '{first}' with '{second}', both of arm "
                              f"'{arm1.id if arm1 else first}'", "results", i, "comparison",
                              hint="compare groups of two different arms")
        elif arm1 is not None and arm2 is not None and (arm1.role, arm2.role) == ("comparator", "intervention"):
            yield loaded.diag("EK216", Severity.WARNING,
                              f"result '{result.id}': the intervention side '{first}' is a comparator arm and the "
                              f"comparator side '{second}' an intervention arm", "results", i, "comparison",
                              hint="swap the sides, or check the arms' roles; the effect's sign depends on it")
