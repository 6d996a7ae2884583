from __future__ import annotations

import math
from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ._base import denominator_of, results_with_index


def max_sd(mean: float, n: int, low: float | None, high: float | None) -> float | None:
    """Largest possible sample SD of n values with this mean inside [low, high]."""
    if n < 2 or low is None:
        return None
    if high is None:  # all but one value at the lower bound
        return (mean - low) * math.sqrt(n)
    # Bhatia-Davis: population variance <= (high - mean)(mean - low); sample SD scales by n/(n-1)
    return math.sqrt(max(0.0, (high - mean) * (mean - low)) * n / (n - 1))


def ek206_sd_plausible(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Standard deviation negative or impossible for the declared range.

    An SD is never negative. When the variable declares a range (`range: {low,
    high}`), the mean must lie inside it and the SD cannot exceed the largest SD
    N values in that range can have (Bhatia-Davis bound; with only a lower
    bound, all but one value at the bound).

    Reference: Bhatia R, Davis C. A better bound on the variance. Am Math Mon
    2000;107(4):353-357. doi:10.1080/00029890.2000.12005203

    **Bad**::

        value: 2.7
        sd: -1.2

    **Good**::

        value: 2.7
        sd: 1.2            # range {low: 2}, N=42: max SD 0.7 * sqrt(42) = 4.5
    """
    variables = {v.id: v for v in loaded.study.variables}
    for i, result in results_with_index(loaded, "mean"):
        if result.sd is None or result.value is None:
            continue
        sd, mean = Decimal(result.sd), Decimal(result.value)
        if sd < 0:
            yield loaded.diag("EK206", Severity.ERROR, f"result '{result.id}': SD {result.sd} is negative",
                              "results", i, "sd", hint="an SD is never negative; check the sign")
            continue
        variable = variables.get(result.variable)
        bounds = variable.range if variable is not None else None
        if bounds is None:
            continue
        low = float(bounds.low) if bounds.low is not None else None
        high = float(bounds.high) if bounds.high is not None else None
        if (low is not None and float(mean) < low) or (high is not None and float(mean) > high):
            yield loaded.diag("EK206", Severity.ERROR,
                              f"result '{result.id}': mean {result.value} is outside the variable's "
                              f"range {bounds.low}..{bounds.high}", "results", i, "value")
            continue
        n = denominator_of(loaded, result)
        limit = max_sd(float(mean), n, low, high) if n is not None else None
        if limit is not None and float(sd) > limit + 1e-9:
            yield loaded.diag("EK206", Severity.WARNING,
                              f"result '{result.id}': SD {result.sd} exceeds the largest SD possible "
                              f"({limit:.3g}) for {n} values with mean {result.value} in "
                              f"{bounds.low}..{bounds.high}", "results", i, "sd",
                              hint="check the SD (is it a variance or a range?) and the variable's range")
