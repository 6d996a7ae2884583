from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import NOT_ESTIMABLE
from ..diagnostics import Diagnostic, Severity


def ek207_ci_contains_estimate(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Confidence interval does not contain its estimate.

    A reported confidence interval must satisfy low <= estimate <= high (and
    both bounds must be given; one of them may be `not estimable`, as in a
    median time to event whose upper bound is not reached), and its level
    must be in (0, 1).

    Reference: Altman DG, et al. Statistics with Confidence, 2nd ed. BMJ Books
    2000, ch. 3; FHIR R5 Evidence.statistic.attributeEstimate (C53324).

    **Bad**::

        value: 83
        ci_low: 85
        ci_high: 95

    **Good**::

        value: 83
        ci_low: 69
        ci_high: 92
        ci_level: 0.95
    """
    for i, result in enumerate(loaded.study.results):
        have = (result.ci_low is not None, result.ci_high is not None)
        if have == (False, False):
            continue
        if have != (True, True):
            missing = "ci_high" if have[0] else "ci_low"
            yield loaded.diag("EK207", Severity.ERROR, f"result '{result.id}': {missing} is missing",
                              "results", i, "ci_low" if have[0] else "ci_high",
                              hint="give both bounds of the interval")
            continue
        if result.ci_low == NOT_ESTIMABLE and result.ci_high == NOT_ESTIMABLE:
            yield loaded.diag("EK207", Severity.ERROR, f"result '{result.id}': both CI bounds are not estimable",
                              "results", i, "ci_low", hint="leave the CI out when neither bound is reported")
            continue
        if NOT_ESTIMABLE in (result.ci_low, result.ci_high):
            known = result.ci_low if result.ci_high == NOT_ESTIMABLE else result.ci_high
            value = Decimal(result.value) if result.value is not None else None
            if value is not None and known is not None and (
                    (result.ci_high == NOT_ESTIMABLE and Decimal(known) > value)
                    or (result.ci_low == NOT_ESTIMABLE and Decimal(known) < value)):
                yield loaded.diag("EK207", Severity.ERROR,
                                  f"result '{result.id}': {result.value} is outside its open confidence interval",
                                  "results", i, "value", hint="check the estimate and the bound against the source")
            continue
        low, high = Decimal(result.ci_low or "0"), Decimal(result.ci_high or "0")
        if low > high:
            yield loaded.diag("EK207", Severity.ERROR,
                              f"result '{result.id}': ci_low {result.ci_low} is above ci_high {result.ci_high}",
                              "results", i, "ci_low", hint="swap the bounds")
        elif result.value is not None and not low <= Decimal(result.value) <= high:
            yield loaded.diag("EK207", Severity.ERROR,
                              f"result '{result.id}': {result.value} is outside its confidence interval "
                              f"{result.ci_low}..{result.ci_high}", "results", i, "value",
                              hint="check the estimate and both bounds against the source")
        if result.ci_level is not None and not Decimal(0) < Decimal(result.ci_level) < Decimal(1):
            yield loaded.diag("EK207", Severity.ERROR,
                              f"result '{result.id}': ci_level {result.ci_level} is not a fraction in (0, 1)",
                              "results", i, "ci_level", hint="write 0.95 for a 95% interval")
