from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import p_value_parts
from ..diagnostics import Diagnostic, Severity


def ek218_p_value_range(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """P-value outside (0, 1].

    A p-value is a probability greater than 0 and at most 1. "P = 0" or
    "P < 0" is impossible (write the reported bound, e.g. `<0.001`); a value
    above 1 is usually a test statistic or a percentage.

    Reference: Wasserstein RL, Lazar NA. The ASA statement on p-values. Am
    Stat 2016;70(2):129-133. doi:10.1080/00031305.2016.1154108

    **Bad**::

        p_value: 0

    **Good**::

        p_value: "<0.001"
    """
    for i, result in enumerate(loaded.study.results):
        if result.p_value is None:
            continue
        comparator, value = p_value_parts(result.p_value)
        impossible = (value > 1 or (value == 1 and comparator in (">", ">="))
                      or (value <= 0 and comparator in ("=", "<", "<=")))
        if impossible:
            yield loaded.diag("EK218", Severity.ERROR,
                              f"result '{result.id}': p-value {result.p_value} is outside (0, 1]",
                              "results", i, "p_value",
                              hint="write the p-value as reported, e.g. 0.03 or '<0.001'")
