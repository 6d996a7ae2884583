from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..stats import decimals, grim_mean
from ._base import denominator_of, results_with_index


#: the Ns searched for a mean whose denominator is unknown (each is a GRIM test; the search stays
#: bounded whatever the population size and the mean's precision)
SEARCHED = 10_000


def _ranges(values: list[int], most: int = 20) -> str:
    """'3, 5-9, 12' (consecutive runs joined; at most ``most`` runs, then how many more)."""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    if len(parts) > most:
        parts = parts[:most] + [f"and {len(parts) - most} more range(s)"]
    return ", ".join(parts) if parts else "none"


def ek205_grim_mean(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Mean not reachable from integer data (GRIM).

    For a variable whose values are whole numbers (`integer_valued: true`), a
    mean reported with d decimals over N patients must equal S/N, rounded, for
    some integer sum S. Testable only when N < 10^d and N is known; otherwise
    the rule says it could not test (EK208, info).

    Reference: Brown NJL, Heathers JAJ. The GRIM test. Soc Psychol Personal Sci
    2017;8(4):363-369. doi:10.1177/1948550616673876

    **Bad** (no whole number of cycles over 35 patients averages 1.82)::

        value: 1.82
        denominator: {kind: count, value: 35}

    **Good**::

        value: 1.83        # 64 / 35 = 1.829
        denominator: {kind: count, value: 35}
    """
    variables = {v.id: v for v in loaded.study.variables}
    for i, result in results_with_index(loaded, "mean"):
        variable = variables.get(result.variable)
        if result.value is None or variable is None or not variable.integer_valued:
            continue
        n = denominator_of(loaded, result)
        if n is None:
            ceiling = loaded.study.population_ids().get(result.population) or 0
            # from N = 10^decimals on, every N gives some whole-number total: search below it only,
            # and at most SEARCHED of them
            every_from = 10 ** decimals(result.value)
            bound = min(ceiling, every_from - 1, SEARCHED)
            possible = [m for m in range(1, bound + 1) if grim_mean(result.value, m)[1]]
            rest = ""
            if bound < min(ceiling, every_from - 1):
                rest = (f"; N from {bound + 1} to {min(ceiling, every_from - 1)} not searched"
                        + (f", and every N from {every_from} to {ceiling} can" if every_from <= ceiling else ""))
            elif bound < ceiling:
                rest = f" and every N from {bound + 1} to {ceiling}"
            yield loaded.diag("EK208", Severity.INFO,
                              f"result '{result.id}': GRIM for the mean not testable, the denominator "
                              f"is unknown; of N = 1..{ceiling}, only {_ranges(possible)}{rest} can give a "
                              f"whole-number mean of {result.value}", "results", i, "denominator")
            continue
        testable, sums = grim_mean(result.value, n)
        if not testable:
            yield loaded.diag("EK208", Severity.INFO,
                              f"result '{result.id}': GRIM for the mean not testable, N={n} is not "
                              f"smaller than 10^{len(result.value.split('.')[-1]) if '.' in result.value else 0}",
                              "results", i, "value")
        elif not sums:
            yield loaded.diag("EK205", Severity.WARNING,
                              f"result '{result.id}': no whole-number total over {n} patients gives "
                              f"a mean of {result.value}", "results", i, "value",
                              hint="check the mean, the denominator and whether the data are whole numbers")
