"""What the comparison rules share: each between-group result with the group results it compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import RATIO_STATISTICS, Result
from ..diagnostics import Diagnostic, Severity
from ..effects import Interval, reported
from ..stats import count_of

__all__ = ["Compared", "comparisons", "level_of", "paired"]

_PROPORTION_EFFECTS = ("risk-difference", "relative-risk", "odds-ratio")


@dataclass(frozen=True)
class Compared:
    """A between-group result (at ``index``) and the results of its two groups, when there are any."""

    index: int
    result: Result
    intervention: tuple[int, Result] | None
    comparator: tuple[int, Result] | None

    @property
    def ratio(self) -> bool:
        return self.result.statistic in RATIO_STATISTICS

    @property
    def scale(self) -> float:
        """Factor from the FHIR scale (fractions) to the authored one (percentage points)."""
        return 100.0 if self.result.percent else 1.0

    def counts(self, loaded: LoadedStudy) -> tuple[int, int, int, int] | None:
        """(k1, n1, k2, n2) of two proportion results, when every count is known or unique (GRIM)."""
        if self.intervention is None or self.comparator is None or self.result.statistic not in _PROPORTION_EFFECTS:
            return None
        out: list[int] = []
        for _, res in (self.intervention, self.comparator):
            if res.statistic != "proportion":
                return None
            pair = count_of(loaded.study, res)
            if pair is None:
                return None
            out += pair
        return out[0], out[1], out[2], out[3]

    def means(self, loaded: LoadedStudy) -> tuple[Interval, Interval, int, Interval, Interval, int] | None:
        """Mean, SD and n of both groups for a mean difference, when all are reported."""
        if self.intervention is None or self.comparator is None or self.result.statistic != "mean-difference":
            return None
        out: list[object] = []
        for _, res in (self.intervention, self.comparator):
            n = loaded.study.denominator_of(res)
            if res.statistic != "mean" or res.value is None or res.sd is None or n is None or n < 2:
                return None
            out += [reported(res.value), reported(res.sd), n]
        return tuple(out)  # type: ignore[return-value]


def paired(loaded: LoadedStudy, item: Compared, field: str) -> Diagnostic | None:
    """EK208 for a paired comparison (a crossover): independent-groups methods do not apply."""
    comparison = item.result.comparison
    if loaded.study.design.kind != "crossover-randomized" and not (comparison is not None and comparison.paired):
        return None
    return loaded.diag("EK208", Severity.INFO,
                       f"result '{item.result.id}': not recomputed: the groups are the same patients (a paired "
                       "comparison), and methods for independent groups do not apply (the within-patient correlation "
                       "is not reported)", "results", item.index, field)


def level_of(result: Result) -> float:
    return float(result.ci_level) if result.ci_level is not None else 0.95


def comparisons(loaded: LoadedStudy) -> Iterator[Compared]:
    """Every between-group result, with the group results of the same variable and timepoint."""
    for i, res in enumerate(loaded.study.results):
        if res.comparison is not None:
            yield Compared(i, res, *loaded.study.compared(res))
