"""Recomputing what a comparative study reports: effects, their CIs and p-values.

Shared by the consistency checks (and, later, synthesis). statsmodels and scipy do the
statistics; this module only decides *whether a reported figure is reproduced at the
precision it was reported with*: a reported number stands for every value that rounds to
it, and a computed value depends on inputs that are themselves rounded, so both sides are
intervals and "reproduced" means they overlap.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable

__all__ = ["Interval", "difference_cis", "effect_of_counts", "mean_ci", "mean_difference_cis", "mean_tests",
           "p_from_ci", "proportion_tests", "reported", "spread"]

#: statsmodels methods tried for each comparison of two proportions (confint_proportions_2indep)
PROPORTION_CI_METHODS = {
    "risk-difference": ("diff", {"wald": "Wald", "newcomb": "Newcombe hybrid score", "agresti-caffo": "Agresti-Caffo",
                                 "score": "Miettinen-Nurminen score"}),
    "relative-risk": ("ratio", {"log": "log (Katz)", "log-adjusted": "log, adjusted", "score": "score"}),
    "odds-ratio": ("odds-ratio", {"logit": "logit (Woolf)", "logit-adjusted": "logit, adjusted",
                                  "score": "score"}),
}


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def overlaps(self, other: "Interval") -> bool:
        return self.low <= other.high + 1e-12 and other.low <= self.high + 1e-12


def reported(text: str, scale: float = 1.0) -> Interval:
    """Every value that rounds to the authored number ``text`` (times ``scale``)."""
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1) if isinstance(exponent, int) else Decimal(0)
    return Interval(float(value - half) * scale, float(value + half) * scale)


def spread(function: Callable[..., float], inputs: Iterable[Interval]) -> Interval:
    """The range of ``function`` over the corners of its input intervals (monotone functions)."""
    values = []
    for corner in itertools.product(*[(i.low, i.high) for i in inputs]):
        try:
            out = function(*corner)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if math.isfinite(out):
            values.append(out)
    if not values:
        raise ValueError("no finite value")
    return Interval(min(values), max(values))


def effect_of_counts(statistic: str, k1: int, n1: int, k2: int, n2: int) -> float:
    """Risk difference (fraction), relative risk or odds ratio of k1/n1 vs k2/n2."""
    p1, p2 = k1 / n1, k2 / n2
    if statistic == "risk-difference":
        return p1 - p2
    if statistic == "relative-risk":
        return p1 / p2
    if statistic == "odds-ratio":
        return (k1 * (n2 - k2)) / ((n1 - k1) * k2)
    raise ValueError(statistic)


def difference_cis(statistic: str, k1: int, n1: int, k2: int, n2: int, level: float) -> dict[str, Interval]:
    """CIs of a comparison of two proportions by every method statsmodels offers for it."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    compare, methods = PROPORTION_CI_METHODS[statistic]
    out = {}
    for method, name in methods.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                low, high = confint_proportions_2indep(k1, n1, k2, n2, method=method, compare=compare,
                                                       alpha=1 - level)
            except (ValueError, ZeroDivisionError, FloatingPointError):
                continue
        if math.isfinite(low) and math.isfinite(high):
            out[name] = Interval(float(low), float(high))
    return out


def _welch(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int, level: float) -> tuple[float, float]:
    from scipy import stats

    v1, v2 = s1 * s1 / n1, s2 * s2 / n2
    se = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return m1 - m2 - half, m1 - m2 + half


def _pooled(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int, level: float) -> tuple[float, float]:
    from scipy import stats

    sp = math.sqrt(((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / (n1 + n2 - 2))
    half = float(stats.t.ppf(0.5 + level / 2, n1 + n2 - 2)) * sp * math.sqrt(1 / n1 + 1 / n2)
    return m1 - m2 - half, m1 - m2 + half


def mean_difference_cis(m1: Interval, s1: Interval, n1: int, m2: Interval, s2: Interval, n2: int,
                        level: float) -> dict[str, tuple[Interval, Interval]]:
    """(low, high) bound ranges of the mean difference's CI: Welch and pooled-variance t."""
    out = {}
    for name, function in (("Welch t", _welch), ("pooled-variance t", _pooled)):
        low = spread(lambda a, b, c, d: function(a, b, n1, c, d, n2, level)[0], (m1, s1, m2, s2))
        high = spread(lambda a, b, c, d: function(a, b, n1, c, d, n2, level)[1], (m1, s1, m2, s2))
        out[name] = (low, high)
    return out


def mean_ci(m: Interval, s: Interval, n: int, level: float) -> tuple[Interval, Interval]:
    """(low, high) bound ranges of a t-based CI of one mean from its SD and n."""
    from scipy import stats

    t = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return (spread(lambda a, b: a - t * b / math.sqrt(n), (m, s)),
            spread(lambda a, b: a + t * b / math.sqrt(n), (m, s)))


def p_from_ci(estimate: Interval, low: Interval, high: Interval, *, ratio: bool, level: float) -> Interval:
    """The two-sided p-value a CI implies (Altman & Bland, BMJ 2011;343:d2090), over the rounding of
    the estimate and its bounds: SE = (upper - lower) / (2 z), z = estimate / SE (log scale for ratios)."""
    from scipy import stats

    z_level = float(stats.norm.ppf(0.5 + level / 2))

    def p(est: float, lo: float, hi: float) -> float:
        if ratio:
            est, lo, hi = math.log(est), math.log(lo), math.log(hi)
        se = (hi - lo) / (2 * z_level)
        if se <= 0:
            raise ValueError("empty interval")
        return float(2 * stats.norm.sf(abs(est / se)))

    return spread(p, (estimate, low, high))


def proportion_tests(k1: int, n1: int, k2: int, n2: int) -> dict[str, float]:
    """Two-sided p-values of the tests a 2x2 table allows."""
    from scipy import stats

    table = [[k1, n1 - k1], [k2, n2 - k2]]
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if min(k1 + k2, n1 + n2 - k1 - k2) > 0:
            out["Pearson chi-square"] = float(stats.chi2_contingency(table, correction=False)[1])
            out["chi-square with Yates correction"] = float(stats.chi2_contingency(table, correction=True)[1])
        out["Fisher exact"] = float(stats.fisher_exact(table)[1])
    return {k: v for k, v in out.items() if math.isfinite(v)}


def mean_tests(m1: Interval, s1: Interval, n1: int, m2: Interval, s2: Interval, n2: int) -> dict[str, Interval]:
    """Two-sided p-value ranges of Welch and pooled t-tests from summary statistics."""
    from scipy import stats

    def test(equal: bool) -> Callable[..., float]:
        return lambda a, b, c, d: float(stats.ttest_ind_from_stats(a, b, n1, c, d, n2, equal_var=equal).pvalue)

    return {"Welch t-test": spread(test(False), (m1, s1, m2, s2)),
            "pooled-variance t-test": spread(test(True), (m1, s1, m2, s2))}
