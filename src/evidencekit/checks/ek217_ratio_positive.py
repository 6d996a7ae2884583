from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import NOT_ESTIMABLE, RATIO_STATISTICS
from ..diagnostics import Diagnostic, Severity


def ek217_ratio_positive(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Ratio estimate or bound is not positive.

    A relative risk, odds ratio or hazard ratio is a quotient of positive
    quantities: the estimate and both CI bounds are greater than 0 (1 means no
    difference). A negative or zero value is usually a log ratio or a
    difference written as a ratio.

    Reference: Altman DG, et al. Statistics with Confidence, 2nd ed. BMJ Books
    2000, ch. 7 (ratios are estimated on the log scale).

    **Bad**::

        statistic: relative-risk
        value: 1.8
        ci_low: -0.2

    **Good**::

        statistic: relative-risk
        value: 1.8
        ci_low: 1.26
        ci_high: 2.56
    """
    for i, result in enumerate(loaded.study.results):
        if result.statistic not in RATIO_STATISTICS:
            continue
        for field in ("value", "ci_low", "ci_high"):
            text = getattr(result, field)
            if text is not None and text != NOT_ESTIMABLE and Decimal(text) <= 0:
                yield loaded.diag("EK217", Severity.ERROR,
                                  f"result '{result.id}': {result.statistic} {field} {text} is not positive",
                                  "results", i, field,
                                  hint="a ratio is > 0; a log ratio or a difference needs its own statistic")
