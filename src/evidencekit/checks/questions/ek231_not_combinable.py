from __future__ import annotations

from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...definitions.model import Result
from ...diagnostics import Diagnostic, Severity


def _kind(result: Result) -> tuple[str, str | None]:
    """What must be equal for two results to be pooled: the statistic and its scale (or unit)."""
    scale = "percent-or-fraction" if result.statistic in ("proportion", "risk-difference") else result.unit
    return result.statistic, scale


def ek231_not_combinable(question: LoadedQuestion, studies: dict[str, LoadedStudy]) -> Iterator[Diagnostic]:
    """Synthesis combines results that are not combinable.

    A meta-analysis pools results of the same measure on the same scale: risk
    ratios with risk ratios, mean differences with mean differences in the same
    unit, single-group proportions with single-group proportions. It never pools
    a randomized comparison with single-arm proportions, and needs at least two
    results. Otherwise use `synthesis: {method: narrative}`.

    Reference: Cochrane Handbook for Systematic Reviews of Interventions, v6.4,
    ch. 10.2-10.3 (what can be combined in a meta-analysis).

    **Bad**::

        synthesis: {method: meta-analysis}
        results: [{result: tis20-difference}, {result: improvement-overall}]   # RD with a proportion

    **Good**::

        synthesis: {method: narrative, reason: a trial's difference and case series' proportions}
    """
    for i, outcome in enumerate(question.question.outcomes):
        if outcome.synthesis.method != "meta-analysis":
            continue
        found: list[tuple[int, Result]] = []
        for j, cited in enumerate(outcome.results):
            loaded = studies.get(cited.study)
            result = next((r for r in loaded.study.results if r.id == cited.result), None) if loaded else None
            if result is not None:
                found.append((j, result))
        if len(found) < 2:
            yield question.diag("EK231", Severity.ERROR,
                                f"outcome '{outcome.id}': a meta-analysis needs at least two results, it has "
                                f"{len(found)}", "outcomes", i, "synthesis", "method",
                                hint="use `method: narrative` for a single study")
            continue
        first_index, first = found[0]
        for j, result in found[1:]:
            if _kind(result) != _kind(first):
                yield question.diag("EK231", Severity.ERROR,
                                    f"outcome '{outcome.id}': '{result.id}' ({result.statistic}) cannot be pooled "
                                    f"with '{first.id}' ({first.statistic})", "outcomes", i, "results", j, "result",
                                    hint="pool only the same measure on the same scale, or use "
                                         "`synthesis: {method: narrative}`")
