"""GRIM and the Wilson interval against published values and an independent implementation."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from evidencekit.stats import decimals, grim_mean, grim_proportion, wilson_interval


@pytest.mark.parametrize("events,n,low,high", [
    # Newcombe RG. Stat Med 1998;17:857-872, Table I, method 3 (Wilson score)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe(events: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(events, n)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("events,n", [(35, 42), (13, 15), (22, 27), (0, 5), (5, 5), (1, 1000)])
def test_wilson_matches_scipy(events: int, n: int) -> None:
    ci = binomtest(events, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(events, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


def test_grim_mean_examples_from_the_literature() -> None:
    # Brown & Heathers 2017 / scrutiny: "5.19" inconsistent with n=28, consistent with n=32;
    # "5.27" with n=43 inconsistent.
    assert grim_mean("5.19", 28) == (True, [])
    assert grim_mean("5.19", 32)[1]
    assert grim_mean("5.27", 43) == (True, [])
    # a die rolled 20 times cannot average 3.48
    assert grim_mean("3.48", 20) == (True, [])
    assert grim_mean("3.45", 20)[1] == [69]


def test_grim_trailing_zeros_carry_precision() -> None:
    assert decimals("0.80") == 2 and decimals("80") == 0
    assert grim_mean("5.2", 28) == (False, [145, 146, 147])  # 1 decimal, n=28 >= 10: untestable
    assert grim_mean("5.20", 28)[0] is True


def test_grim_proportion_seed_values() -> None:
    assert grim_proportion("83", 42, percent=True) == (True, [35])
    assert grim_proportion("87", 15, percent=True) == (True, [13])
    assert grim_proportion("81", 27, percent=True) == (True, [22])
    assert grim_proportion("80", 42, percent=True) == (True, [])       # 33/42 = 78.6%, 34/42 = 81.0%
    assert grim_proportion("0.5", 3, percent=False) == (True, [])
    assert grim_proportion("50", 1000, percent=True)[0] is False       # too many patients to test


def test_grim_proportion_precision_decides_testability() -> None:
    assert grim_proportion("83.3", 42, percent=True) == (True, [35])   # 35/42 = 83.33%
    assert grim_proportion("83.4", 42, percent=True) == (True, [])
    assert grim_proportion("83.3", 1500, percent=True)[0] is False


def test_difference_cis_reproduce_newcombe_1998() -> None:
    """Newcombe RG. Stat Med 1998;17:873-890, Table II: 56/70 vs 48/80 and 9/10 vs 3/10,
    method 1 (Wald) and method 10 (hybrid score)."""
    from evidencekit.effects import difference_cis

    a = difference_cis("risk-difference", 56, 70, 48, 80, 0.95)
    assert (round(a["Wald"].low, 4), round(a["Wald"].high, 4)) == (0.0575, 0.3425)
    assert (round(a["Newcombe hybrid score"].low, 4), round(a["Newcombe hybrid score"].high, 4)) == (0.0524, 0.3339)
    b = difference_cis("risk-difference", 9, 10, 3, 10, 0.95)
    assert (round(b["Wald"].low, 4), round(b["Wald"].high, 4)) == (0.2605, 0.9395)
    assert (round(b["Newcombe hybrid score"].low, 4), round(b["Newcombe hybrid score"].high, 4)) == (0.1705, 0.8090)


def test_p_from_ci_reproduces_altman_bland_2011() -> None:
    """Altman DG, Bland JM. BMJ 2011;343:d2090: risk ratio 0.81 (95% CI 0.70 to 0.94) gives P = 0.005."""
    from evidencekit.effects import p_from_ci, reported

    p = p_from_ci(reported("0.81"), reported("0.70"), reported("0.94"), ratio=True, level=0.95)
    assert p.low <= 0.005 <= p.high and p.high < 0.02


def test_reported_interval_is_the_rounding_range() -> None:
    from evidencekit.effects import Interval, reported

    assert reported("35") == Interval(34.5, 35.5)
    assert reported("35.0") == Interval(34.95, 35.05)
    assert reported("-9.36") == Interval(-9.365, -9.355)
    scaled = reported("35", 0.01)
    assert (round(scaled.low, 12), round(scaled.high, 12)) == (0.345, 0.355)
