from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ._base import results_with_index


def ek202_proportion_range(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Proportion outside 0..1 (percentage outside 0..100).

    A risk difference lies within -100..100 percentage points (-1..1 as a
    fraction).

    Reference: definition of a proportion; FHIR R5 Evidence.statistic with
    statisticType C44256 (http://hl7.org/fhir/R5/evidence.html).

    **Bad**::

        value: 120
        scale: percent

    **Good**::

        value: 83
        scale: percent
    """
    for i, result in results_with_index(loaded, "proportion"):
        if result.value is None:
            continue
        if result.scale is None:
            continue  # EK212 reports it; the range depends on the scale
        top = Decimal(1) if result.scale == "fraction" else Decimal(100)
        if not Decimal(0) <= Decimal(result.value) <= top:
            unit = "" if result.scale == "fraction" else "%"
            yield loaded.diag("EK202", Severity.ERROR,
                              f"result '{result.id}': proportion {result.value}{unit} is outside 0..{top}{unit}",
                              "results", i, "value",
                              hint="use `scale: percent` for values in 0..100 and `fraction` for 0..1")
    for i, result in enumerate(loaded.study.results):
        if result.statistic != "risk-difference" or result.value is None or result.scale is None:
            continue
        top = Decimal(1) if result.scale == "fraction" else Decimal(100)
        if not -top <= Decimal(result.value) <= top:
            yield loaded.diag("EK202", Severity.ERROR,
                              f"result '{result.id}': risk difference {result.value} is outside -{top}..{top}",
                              "results", i, "value",
                              hint="a risk difference in `percentage-points` is within -100..100, as a `fraction` "
                                   "within -1..1")
