from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..effects import Interval, effect_of_counts, reported, spread
from ._comparisons import comparisons, paired


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def ek219_effect_from_arms(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Between-group estimate does not match the arm results.

    A risk difference, relative risk or odds ratio is recomputed from the
    arms' counts (reported, or the only count the percentage allows), a mean
    difference from the arms' means, at the precision each was reported with:
    the estimate must round to the reported value. An adjusted estimate
    (`model.adjusted`, e.g. ANCOVA) differs from the raw one by design; the
    rule then only says what the raw difference is (info, EK225). A paired comparison (a
    crossover, or sets that share patients) is not independent-groups arithmetic: EK208.

    Reference: Altman DG, et al. Statistics with Confidence, 2nd ed. BMJ Books
    2000, ch. 6-7; Brown & Heathers 2017 (reported precision).

    **Bad** (37/47 - 21/48 = 34.97 points)::

        statistic: risk-difference
        value: 30
        scale: percentage-points

    **Good**::

        statistic: risk-difference
        value: 35
        scale: percentage-points
    """
    for item in comparisons(loaded):
        result = item.result
        if result.value is None:
            continue
        skip = paired(loaded, item, "value")  # groups that share patients: not independent-groups arithmetic
        if skip is not None:
            yield skip
            continue
        counts = item.counts(loaded)
        means = item.means(loaded)
        if counts is not None:
            k1, n1, k2, n2 = counts
            try:
                value = effect_of_counts(result.statistic, k1, n1, k2, n2) * item.scale
            except ZeroDivisionError:
                continue
            computed = Interval(value, value)
            how = f"{k1}/{n1} vs {k2}/{n2}"
        elif means is not None:
            m1, _, _, m2, _, _ = means
            computed = spread(lambda a, b: a - b, (m1, m2))
            how = f"mean {item.intervention[1].value} - {item.comparator[1].value}"  # type: ignore[index]
        else:
            continue
        shown = f"{_fmt(computed.low)}" if computed.low == computed.high else \
            f"{_fmt(computed.low)} to {_fmt(computed.high)}"
        adjusted = result.model is not None and result.model.adjusted
        if reported(result.value).overlaps(computed):
            yield loaded.diag("EK225", Severity.INFO,
                              f"result '{result.id}': {result.statistic} {result.value} reproduced from {how} "
                              f"({shown})", "results", item.index, "value")
        elif adjusted:
            yield loaded.diag("EK225", Severity.INFO,
                              f"result '{result.id}': adjusted {result.statistic} {result.value} "
                              f"({result.model.description if result.model else ''}); the unadjusted value from "
                              f"{how} is {shown}", "results", item.index, "value")
        else:
            yield loaded.diag("EK219", Severity.WARNING,
                              f"result '{result.id}': {result.statistic} {result.value} does not match the arm "
                              f"results: {how} gives {shown}", "results", item.index, "value",
                              hint="check the arm counts, Ns and the estimate against the source; if the "
                                   "estimate is adjusted, say so in `model`")
