from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import NOT_ESTIMABLE, RATIO_STATISTICS, p_value_parts
from ..diagnostics import Diagnostic, Severity
from ..effects import Interval, p_from_ci, reported


def p_agrees(text: str, computed: Interval) -> bool:
    """Whether a reported p-value (possibly an inequality) allows a p in ``computed``."""
    comparator, value = p_value_parts(text)
    bound = float(value)
    if comparator in ("<", "<="):
        return computed.low < bound or (comparator == "<=" and computed.low <= bound)
    if comparator in (">", ">="):
        return computed.high > bound or (comparator == ">=" and computed.high >= bound)
    return reported(text.lstrip("=")).overlaps(computed)


def ek221_p_value_ci(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """P-value disagrees with its confidence interval.

    A p-value and a CI of the same estimate tell the same story: from the
    estimate and its 95% CI, SE = (upper - lower) / (2 x 1.96) (on the log
    scale for ratios), z = estimate / SE and P = 2(1 - Phi(|z|)). The
    recovered P, over the rounding of estimate and bounds, must allow the
    reported P (an inequality is checked as one).

    Reference: Altman DG, Bland JM. How to obtain the P value from a
    confidence interval. BMJ 2011;343:d2090. doi:10.1136/bmj.d2090

    **Bad** (35 (17 to 53) implies P = 0.0001)::

        value: 35
        ci_low: 17
        ci_high: 53
        p_value: 0.04

    **Good**::

        value: 35
        ci_low: 17
        ci_high: 53
        p_value: "<0.001"
    """
    for i, result in enumerate(loaded.study.results):
        if result.p_value is None or result.value is None or not result.comparative:
            continue
        if result.ci_low in (None, NOT_ESTIMABLE) or result.ci_high in (None, NOT_ESTIMABLE):
            continue
        level = float(result.ci_level) if result.ci_level is not None else 0.95
        try:
            computed = p_from_ci(reported(result.value), reported(result.ci_low or "0"),
                                 reported(result.ci_high or "0"), ratio=result.statistic in RATIO_STATISTICS,
                                 level=level)
        except ValueError:
            continue
        if not p_agrees(result.p_value, computed):
            yield loaded.diag("EK221", Severity.WARNING,
                              f"result '{result.id}': P {result.p_value}, but the CI "
                              f"{result.ci_low} to {result.ci_high} implies P between {computed.low:.2g} and "
                              f"{computed.high:.2g}", "results", i, "p_value",
                              hint="check the p-value and the CI against the source; they may come from "
                                   "different analyses (say which in `model`)")
