"""Pooling study results: fixed- and random-effects meta-analysis (statsmodels).

The numbers come from ``statsmodels.stats.meta_analysis.combine_effects`` (inverse-variance
fixed effect; random effects with the DerSimonian-Laird or Paule-Mandel estimate of tau²);
this module chooses the scale (log risk ratio, log odds ratio, risk difference, logit of a
single proportion), turns counts into effects with ``effectsize_2proportions``, and adds the
prediction interval. ``tests/test_synthesis.py`` reproduces metafor's published results for
its BCG-vaccine example to 4 decimals.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal, Sequence

__all__ = ["Pooled", "pool", "pool_counts", "pool_proportions"]

Measure = Literal["log-risk-ratio", "log-odds-ratio", "risk-difference", "logit-proportion", "mean-difference"]
TauMethod = Literal["dl", "pm"]
_STATISTIC = {"log-risk-ratio": "risk-ratio", "log-odds-ratio": "odds-ratio", "risk-difference": "diff"}


@dataclass(frozen=True)
class Pooled:
    """A pooled estimate on the analysis scale (log for ratios, logit for a proportion)."""

    measure: str
    k: int
    fixed: float
    fixed_ci: tuple[float, float]
    random: float
    random_se: float
    random_ci: tuple[float, float]
    z: float
    tau2: float
    i2: float  # percent
    q: float
    q_df: int
    q_p: float
    prediction: tuple[float, float] | None  # Higgins et al. 2009: t with k - 2 df; None for k < 3
    tau_method: str


def pool(effects: Sequence[float], variances: Sequence[float], measure: Measure, *,
         tau_method: TauMethod = "dl", level: float = 0.95) -> Pooled:
    """Fixed and random effects of per-study ``effects`` with their ``variances`` (analysis scale)."""
    import numpy as np
    from scipy import stats
    from statsmodels.stats.meta_analysis import combine_effects

    if len(effects) != len(variances) or len(effects) < 2:
        raise ValueError("pooling needs at least two studies, each with an effect and a variance")
    if any(not math.isfinite(v) or v <= 0 for v in variances):
        raise ValueError("every variance must be a positive number")
    k = len(effects)
    alpha = 1 - level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = combine_effects(np.asarray(effects, float), np.asarray(variances, float), method_re=tau_method,
                                 alpha=alpha)
    frame = result.summary_frame(alpha=alpha)
    fixed = frame.loc["fixed effect"]
    random = frame.loc["random effect"]
    tau2 = float(result.tau2)
    prediction = None
    if k >= 3:
        half = float(stats.t.ppf(1 - alpha / 2, k - 2)) * math.sqrt(tau2 + float(random["sd_eff"]) ** 2)
        prediction = (float(random["eff"]) - half, float(random["eff"]) + half)
    return Pooled(measure=measure, k=k, fixed=float(fixed["eff"]),
                  fixed_ci=(float(fixed["ci_low"]), float(fixed["ci_upp"])), random=float(random["eff"]),
                  random_se=float(random["sd_eff"]), random_ci=(float(random["ci_low"]), float(random["ci_upp"])),
                  z=float(random["eff"]) / float(random["sd_eff"]), tau2=tau2, i2=float(result.i2) * 100,
                  q=float(result.q), q_df=k - 1, q_p=float(stats.chi2.sf(float(result.q), k - 1)),
                  prediction=prediction, tau_method=tau_method)


def pool_counts(intervention: Sequence[tuple[int, int]], comparator: Sequence[tuple[int, int]],
                measure: Measure, *, tau_method: TauMethod = "dl", level: float = 0.95) -> Pooled:
    """Pool two-arm studies given as (events, N) per arm, on the log RR, log OR or RD scale."""
    import numpy as np
    from statsmodels.stats.meta_analysis import effectsize_2proportions

    if measure not in _STATISTIC:
        raise ValueError(f"counts pool as log-risk-ratio, log-odds-ratio or risk-difference, not {measure}")
    k1 = np.array([e for e, _ in intervention], float)
    n1 = np.array([n for _, n in intervention], float)
    k2 = np.array([e for e, _ in comparator], float)
    n2 = np.array([n for _, n in comparator], float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        effects, variances = effectsize_2proportions(k1, n1, k2, n2, statistic=_STATISTIC[measure])
    return pool(list(effects), list(variances), measure, tau_method=tau_method, level=level)


def pool_proportions(groups: Sequence[tuple[int, int]], *, tau_method: TauMethod = "dl",
                     level: float = 0.95) -> Pooled:
    """Pool single-group proportions (events, N) on the logit scale (0 or N events are not poolable here)."""
    effects, variances = [], []
    for events, n in groups:
        if not 0 < events < n:
            raise ValueError("a logit needs 0 < events < N in every study")
        effects.append(math.log(events / (n - events)))
        variances.append(1 / events + 1 / (n - events))
    return pool(effects, variances, "logit-proportion", tau_method=tau_method, level=level)
