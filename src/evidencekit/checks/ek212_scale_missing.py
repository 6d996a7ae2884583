from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek212_scale_missing(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Proportion or risk difference without a scale.

    `value: 0.60` may mean 60% or 0.6%: a proportion must say `scale: percent`
    (values 0-100) or `scale: fraction` (0-1), and a risk difference
    `scale: percentage-points` or `scale: fraction`. Without it nothing is
    guessed; the result is an error until the scale is written.

    Reference: evidencekit design, "Truth to the source" (a value read on the
    wrong scale is wrong by a factor of 100).

    **Bad**::

        statistic: proportion
        value: 0.60

    **Good**::

        statistic: proportion
        value: 0.60
        scale: fraction      # 60%
    """
    for i, result in enumerate(loaded.study.results):
        if result.statistic not in ("proportion", "risk-difference") or result.scale is not None:
            continue
        if result.value is None and result.ci_low is None and result.ci_high is None:
            continue
        if result.statistic == "proportion":
            shown = result.value or result.ci_low or "the value"
            guess = (f"{shown} with `scale: fraction` is {format((Decimal(shown) * 100).normalize(), 'f')}%, with `scale: percent` it is "
                     f"{shown}%" if result.value is not None else "")
            hint = ("write `scale: percent` (83 for 83%) or `scale: fraction` (0.83 for 83%)"
                    + (f"; {guess}" if guess else ""))
        else:
            hint = "write `scale: percentage-points` (35 for 35 points) or `scale: fraction` (0.35)"
        yield loaded.diag("EK212", Severity.ERROR,
                          f"result '{result.id}': a {result.statistic} needs a `scale`; "
                          f"{result.value} is ambiguous", "results", i, "value" if result.value else "statistic",
                          hint=hint)
