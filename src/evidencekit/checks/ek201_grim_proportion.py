from __future__ import annotations

from decimal import Decimal
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..stats import grim_proportion
from ._base import denominator_of, results_with_index


def ek201_grim_proportion(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Percentage not reachable by any integer count (GRIM).

    A proportion k/N reported with d decimals must be reachable by some whole
    number of patients k. Rounding half up or half down is accepted. When the
    denominator is unknown or N is too large for the precision, the rule is not
    testable and says so (EK208, info). Reported events must round to the value.

    Reference: Brown NJL, Heathers JAJ. The GRIM test. Soc Psychol Personal Sci
    2017;8(4):363-369. doi:10.1177/1948550616673876

    **Bad** (no k gives 80% of 42: 33/42 = 78.6%, 34/42 = 81.0%)::

        value: 80
        scale: percent
        denominator: {kind: count, value: 42}

    **Good**::

        value: 83          # 35/42 = 83.3%
        scale: percent
        denominator: {kind: count, value: 42}
    """
    for i, result in results_with_index(loaded, "proportion"):
        if result.value is None or result.scale is None:
            continue  # EK212: no scale, nothing to test
        n = denominator_of(loaded, result)
        percent = result.percent
        if n is None:
            total = loaded.study.population_ids().get(result.population)
            note = ""
            if total:
                reachable = grim_proportion(result.value, total, percent=percent)[1]
                note = (f"; with the population's N={total} it would need {reachable[0]}/{total}" if reachable
                        else f"; it is not reachable with the population's N={total}, so the denominator "
                             "is a smaller subset")
            yield loaded.diag("EK208", Severity.INFO,
                              f"result '{result.id}': GRIM not testable, the denominator is unknown{note}",
                              "results", i, "denominator",
                              hint="counts and a confidence interval are not derived for it either")
            continue
        testable, counts = grim_proportion(result.value, n, percent=percent)
        shown = f"{result.value}{'%' if percent else ''}"
        if result.affected is not None:
            if result.affected not in counts:
                yield loaded.diag("EK201", Severity.WARNING,
                                  f"result '{result.id}': {result.affected}/{n} does not round to {shown}",
                                  "results", i, "affected",
                                  hint="check the count, the denominator and the reported value against the source")
            continue
        if not testable:
            yield loaded.diag("EK208", Severity.INFO,
                              f"result '{result.id}': GRIM not testable, N={n} is too large for "
                              f"the precision of {shown}", "results", i, "value")
        elif not counts:
            yield loaded.diag("EK201", Severity.WARNING,
                              f"result '{result.id}': no whole count out of {n} gives {shown}",
                              "results", i, "value",
                              hint=("check the denominator against the source; if it is a subset the source "
                                    "does not give, set `denominator: {kind: unknown}` and explain in `note`"
                                    + ("; if the value is a fraction (0.60 for 60%), write `scale: fraction`"
                                       if percent and Decimal(result.value) <= 1 else "")))
