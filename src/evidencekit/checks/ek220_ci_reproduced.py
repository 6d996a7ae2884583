from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import NOT_ESTIMABLE
from ..diagnostics import Diagnostic, Severity
from ..effects import Interval, difference_cis, mean_ci, mean_difference_cis, reported
from ._comparisons import comparisons, paired, level_of


def _both(low: str | None, high: str | None) -> bool:
    return low not in (None, NOT_ESTIMABLE) and high not in (None, NOT_ESTIMABLE)


def ek220_ci_reproduced(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Confidence interval not reproduced by any standard method.

    The CI of a risk difference, relative risk or odds ratio is recomputed
    from the arms' counts with each method statsmodels offers
    (`confint_proportions_2indep`: Wald, Newcombe, Agresti-Caffo and score
    for differences; log and score for ratios; logit and score for odds
    ratios); a mean difference's CI with Welch and pooled-variance t from the
    arms' means, SDs and ns; a single mean's CI as mean +/- t SD/sqrt(n). The
    rule says which method reproduces the reported bounds at their precision
    (info, EK225) and warns when none does. Adjusted estimates, and the
    paired comparisons of a crossover design, are not recomputed (EK208).

    Reference: Newcombe RG. Interval estimation for the difference between
    independent proportions. Stat Med 1998;17:873-890; Altman DG, et al.
    Statistics with Confidence, 2nd ed. BMJ Books 2000.

    **Bad** (37/47 vs 21/48: Wald 16.70 to 53.24)::

        value: 35
        ci_low: 10
        ci_high: 60

    **Good**::

        value: 35
        ci_low: 17
        ci_high: 53
    """
    study = loaded.study
    for item in comparisons(loaded):
        result = item.result
        skip = paired(loaded, item, "ci_low") if result.ci_low is not None else None
        if skip is not None:
            yield skip
            continue
        if not _both(result.ci_low, result.ci_high) or (result.model is not None and result.model.adjusted):
            continue
        low, high = reported(result.ci_low or "0"), reported(result.ci_high or "0")
        level = level_of(result)
        candidates: dict[str, tuple[Interval, Interval]] = {}
        counts = item.counts(loaded)
        means = item.means(loaded)
        if counts is not None:
            for name, ci in difference_cis(result.statistic, *counts, level).items():
                candidates[name] = (Interval(ci.low * item.scale, ci.low * item.scale),
                                    Interval(ci.high * item.scale, ci.high * item.scale))
        elif means is not None:
            candidates = mean_difference_cis(*means, level)
        else:
            continue
        yield from _verdict(loaded, item.index, result.id, low, high, candidates)
    for i, result in enumerate(study.results):
        if result.statistic != "mean" or result.sd is None or result.value is None or not _both(
                result.ci_low, result.ci_high):
            continue
        n = study.denominator_of(result)
        if n is None or n < 2:
            continue
        candidates = {"t interval from SD and n": mean_ci(reported(result.value), reported(result.sd), n,
                                                           level_of(result))}
        yield from _verdict(loaded, i, result.id, reported(result.ci_low or "0"), reported(result.ci_high or "0"),
                            candidates)


def _verdict(loaded: LoadedStudy, index: int, rid: str, low: Interval, high: Interval,
             candidates: dict[str, tuple[Interval, Interval]]) -> Iterator[Diagnostic]:
    if not candidates:
        return
    matching = [name for name, (lo, hi) in candidates.items() if lo.overlaps(low) and hi.overlaps(high)]
    if matching:
        yield loaded.diag("EK225", Severity.INFO,
                          f"result '{rid}': CI reproduced by {', '.join(matching)}", "results", index, "ci_low")
        return
    tried = "; ".join(f"{name} {lo.low:.4g} to {hi.high:.4g}" for name, (lo, hi) in candidates.items())
    yield loaded.diag("EK220", Severity.WARNING, f"result '{rid}': no standard method reproduces the CI ({tried})",
                      "results", index, "ci_low",
                      hint="check the bounds, the level and the arm data; if the CI comes from a model, "
                           "describe it in `model`")
