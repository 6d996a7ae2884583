"""Pooling: reproduces metafor's published results for the BCG-vaccine example (dat.bcg).

Reference values: metafor's own test file tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r
(wviechtb/metafor; checked there against Stata's metan): log risk ratio, fixed effect -0.4303
(-0.5097 to -0.3509), Q 152.2330; DerSimonian-Laird random effects -0.7141 (-1.0644 to -0.3638),
z -3.9952, tau² 0.3088, I² 92.1173 %, exp(estimate) 0.4896 (0.3449 to 0.6950); log odds ratio DL
-0.7474 (-1.1242 to -0.3706), tau² 0.3663, I² 92.6455 %. Data: dat.bcg (Colditz et al., JAMA
1994;271:698-702), as metafor and metadat ship it.
"""

from __future__ import annotations

import math

import pytest

from evidencekit.synthesis import pool, pool_counts, pool_proportions

#: tpos, tneg, cpos, cneg of the 13 trials of dat.bcg
BCG = [(4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
       (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
       (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825)]


def _arms() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return [(a, a + b) for a, b, _, _ in BCG], [(c, c + d) for _, _, c, d in BCG]


def test_bcg_log_risk_ratio_dersimonian_laird_matches_metafor() -> None:
    pooled = pool_counts(*_arms(), "log-risk-ratio", tau_method="dl")
    assert round(pooled.fixed, 4) == -0.4303
    assert tuple(round(x, 4) for x in pooled.fixed_ci) == (-0.5097, -0.3509)
    assert round(pooled.q, 4) == 152.2330 and pooled.q_df == 12
    assert round(pooled.random, 4) == -0.7141
    assert tuple(round(x, 4) for x in pooled.random_ci) == (-1.0644, -0.3638)
    assert round(pooled.z, 4) == -3.9952
    assert round(pooled.tau2, 4) == 0.3088
    assert round(pooled.i2, 4) == 92.1173
    assert round(math.exp(pooled.random), 4) == 0.4896
    assert tuple(round(math.exp(x), 4) for x in pooled.random_ci) == (0.3449, 0.6950)


def test_bcg_log_odds_ratio_dersimonian_laird_matches_metafor() -> None:
    pooled = pool_counts(*_arms(), "log-odds-ratio", tau_method="dl")
    assert round(pooled.random, 4) == -0.7474
    assert tuple(round(x, 4) for x in pooled.random_ci) == (-1.1242, -0.3706)
    assert round(pooled.tau2, 4) == 0.3663 and round(pooled.i2, 4) == 92.6455


def test_paule_mandel_and_the_prediction_interval() -> None:
    dl = pool_counts(*_arms(), "log-risk-ratio", tau_method="dl")
    pm = pool_counts(*_arms(), "log-risk-ratio", tau_method="pm")
    assert pm.tau_method == "pm" and pm.tau2 != dl.tau2 and pm.q == dl.q
    # the prediction interval (t with k - 2 df) contains the CI and is wider by the heterogeneity
    assert dl.prediction is not None
    assert dl.prediction[0] < dl.random_ci[0] < dl.random_ci[1] < dl.prediction[1]


def test_single_proportions_pool_on_the_logit_scale() -> None:
    pooled = pool_proportions([(35, 42), (19, 27)])
    low, high = (1 / (1 + math.exp(-x)) for x in pooled.random_ci)
    assert 19 / 27 < 1 / (1 + math.exp(-pooled.fixed)) < 35 / 42 and low < high
    assert pooled.prediction is None  # two studies: no prediction interval


def test_refuses_what_cannot_be_pooled() -> None:
    with pytest.raises(ValueError):
        pool([0.1], [0.01], "risk-difference")
    with pytest.raises(ValueError):
        pool([0.1, 0.2], [0.01, 0.0], "risk-difference")
    with pytest.raises(ValueError):
        pool_proportions([(0, 10), (3, 10)])
