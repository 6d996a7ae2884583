"""Exact arithmetic on reported statistics: decimals as authored, GRIM, Wilson CI.

Shared by the consistency checks and the compiler, so both agree on which
counts a reported percentage allows.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the model does not depend on this module
    from .definitions.model import Result, Study

__all__ = ["count_of", "decimals", "grim_mean", "grim_proportion", "wilson_interval"]

_ROUNDINGS = (ROUND_HALF_UP, ROUND_HALF_DOWN)


def decimals(text: str) -> int:
    """Number of decimal places an authored number was written with."""
    return len(text.split(".", 1)[1]) if "." in text else 0


def _rounds_to(exact: Decimal, target: Decimal, places: int) -> bool:
    quantum = Decimal(1).scaleb(-places)
    return any(exact.quantize(quantum, rounding=r) == target for r in _ROUNDINGS)


def grim_proportion(value: str, n: int, *, percent: bool) -> tuple[bool, list[int]]:
    """(testable, counts): the integer counts k in 0..n whose k/n rounds to ``value``.

    Rounding "up or down from 5" is accepted, as in scrutiny's default. The
    check is testable only when 1/n is coarser than the reported precision.
    """
    places = decimals(value)
    target = Decimal(value)
    scale = Decimal(100) if percent else Decimal(1)
    testable = n < scale * 10**places
    estimate = target * n / scale
    low = max(0, math.floor(estimate) - 1)
    high = min(n, math.ceil(estimate) + 1)
    counts = [k for k in range(low, high + 1)
              if _rounds_to(Decimal(k) * scale / Decimal(n), target, places)]
    return testable, counts


def grim_mean(value: str, n: int, items: int = 1) -> tuple[bool, list[int]]:
    """(testable, sums): integer sums S with S/(n*items) rounding to the mean ``value``."""
    places = decimals(value)
    target = Decimal(value)
    denominator = n * items
    testable = denominator < 10**places
    estimate = target * denominator
    sums = [s for s in range(math.floor(estimate) - 1, math.ceil(estimate) + 2)
            if _rounds_to(Decimal(s) / Decimal(denominator), target, places)]
    return testable, sums


def wilson_interval(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998 method 3)."""
    if n <= 0 or not 0 <= events <= n:
        raise ValueError("need 0 <= events <= n and n > 0")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = events / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if events == 0 else max(0.0, centre - half)
    high = 1.0 if events == n else min(1.0, centre + half)
    return low, high


def count_of(study: "Study", result: "Result") -> tuple[int, int] | None:
    """(k, n) of a proportion result: the reported count, or the only count its percentage allows."""
    n = study.denominator_of(result)
    if n is None or n == 0 or result.statistic != "proportion":
        return None
    if result.affected is not None:
        return result.affected, n
    if result.value is None or result.scale is None:
        return None
    counts = grim_proportion(result.value, n, percent=result.percent)[1]
    return (counts[0], n) if len(counts) == 1 else None
