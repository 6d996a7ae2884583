from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..effects import Interval, mean_tests, proportion_tests
from ._comparisons import comparisons, paired
from .ek221_p_value_ci import p_agrees


def ek222_p_value_test(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """P-value not reproduced by a test the arm data allow.

    For a comparison of two proportions with known counts the rule runs
    Pearson's chi-square (with and without Yates' correction) and Fisher's
    exact test; for a mean difference Welch's and the pooled-variance t-test
    from the arms' means, SDs and ns. It says which tests give the reported P
    (an inequality is checked as one; info, EK225), and warns when none does,
    unless the result names an adjusted or stratified `model` (whose P cannot
    be recomputed from the arm totals). Paired comparisons of a crossover design
    are not recomputed (EK208).

    Reference: Altman DG. Practical Statistics for Medical Research. Chapman &
    Hall 1991, ch. 10 and 9; scipy.stats chi2_contingency, fisher_exact,
    ttest_ind_from_stats.

    **Bad** (37/47 vs 21/48: chi-square P = 0.0005)::

        p_value: 0.2

    **Good**::

        p_value: "<0.001"
    """
    for item in comparisons(loaded):
        result = item.result
        skip = paired(loaded, item, "p_value") if result.p_value is not None else None
        if skip is not None:
            yield skip
            continue
        if result.p_value is None:
            continue
        counts, means = item.counts(loaded), item.means(loaded)
        tests: dict[str, Interval]
        if counts is not None:
            tests = {name: Interval(p, p) for name, p in proportion_tests(*counts).items()}
        elif means is not None:
            tests = mean_tests(*means)
        else:
            continue
        agree = [name for name, p in tests.items() if p_agrees(result.p_value, p)]
        tried = "; ".join(f"{name} {p.low:.2g}" + (f"-{p.high:.2g}" if p.high != p.low else "")
                          for name, p in tests.items())
        if agree:
            yield loaded.diag("EK225", Severity.INFO,
                              f"result '{result.id}': P {result.p_value} agrees with {', '.join(agree)}",
                              "results", item.index, "p_value")
        elif result.model is not None:
            yield loaded.diag("EK225", Severity.INFO,
                              f"result '{result.id}': P {result.p_value} comes from the stated model "
                              f"({result.model.description}); tests on the arm totals give {tried}",
                              "results", item.index, "p_value")
        else:
            yield loaded.diag("EK222", Severity.WARNING,
                              f"result '{result.id}': no test on the arm data gives P {result.p_value} ({tried})",
                              "results", item.index, "p_value",
                              hint="check the p-value and the arm data; if it comes from a stratified or adjusted "
                                   "analysis, describe it in `model`")
