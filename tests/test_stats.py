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
