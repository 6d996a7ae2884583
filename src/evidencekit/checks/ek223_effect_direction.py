from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ._comparisons import comparisons


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def ek223_effect_direction(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Effect direction disagrees with the arm values.

    A difference is positive when the intervention group's value is the
    larger, a ratio above 1; whatever the precision, the sign of an effect
    must agree with the arm values it compares (same variable and timepoint).
    A flipped sign usually means the comparison is written the wrong way round.

    Reference: CONSORT 2010 item 17a (estimated effect size for each outcome,
    with its direction).

    **Bad** (78.7% vs 43.8%)::

        statistic: risk-difference
        value: -35

    **Good**::

        statistic: risk-difference
        value: 35
    """
    for item in comparisons(loaded):
        result = item.result
        if result.value is None or item.intervention is None or item.comparator is None:
            continue
        first, second = item.intervention[1], item.comparator[1]
        if first.value is None or second.value is None or first.statistic != second.statistic:
            continue
        if (first.scale is None) != (second.scale is None):
            continue
        scale1 = Decimal(100) if first.scale == "fraction" else Decimal(1)
        scale2 = Decimal(100) if second.scale == "fraction" else Decimal(1)
        arms = _sign(Decimal(first.value) * scale1 - Decimal(second.value) * scale2)
        value = Decimal(result.value)
        effect = _sign(value - 1) if result.statistic in ("relative-risk", "odds-ratio", "hazard-ratio") \
            else _sign(value)
        if arms and effect and arms != effect:
            yield loaded.diag("EK223", Severity.ERROR,
                              f"result '{result.id}': {result.statistic} {result.value} points the other way "
                              f"from the arms ({first.value} vs {second.value})", "results", item.index, "value",
                              hint="the comparison may be reversed: `intervention` is the first group, "
                                   "`comparator` the second")
