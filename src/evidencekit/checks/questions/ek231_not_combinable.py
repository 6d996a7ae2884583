from __future__ import annotations

from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...definitions.model import Result
from ...diagnostics import Diagnostic, Severity
from ...stats import count_of

#: what a meta-analysis can pool: single-group proportions (logit) and two-arm comparisons with counts
_POOLABLE = ("proportion", "risk-difference", "relative-risk", "odds-ratio")


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
    results. evidencekit pools proportions (logit scale) and risk differences,
    relative risks and odds ratios from the arms' counts (each count reported or
    the only one its percentage allows); other measures, or results without
    counts, need `synthesis: {method: narrative}`.

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
            if loaded is None or result is None:
                continue
            found.append((j, result))
            if result.statistic not in _POOLABLE:
                yield question.diag("EK231", Severity.ERROR,
                                    f"outcome '{outcome.id}': a {result.statistic} ('{result.id}') is not pooled by "
                                    "evidencekit", "outcomes", i, "results", j, "result",
                                    hint="meta-analysis pools proportions, risk differences, relative risks and odds "
                                         "ratios; use `synthesis: {method: narrative}`")
                continue
            pairs = loaded.study.compared(result) if result.comparative else ((j, result),)
            groups = [pair[1] if pair is not None else None for pair in pairs]
            if any(g is None or count_of(loaded.study, g) is None for g in groups):
                yield question.diag("EK231", Severity.ERROR,
                                    f"outcome '{outcome.id}': '{result.id}' has no counts to pool (each group needs "
                                    "its number of patients with the event and its N)", "outcomes", i, "results", j,
                                    "result", hint="give `affected` on the group results, or use a narrative synthesis")
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
