from __future__ import annotations

import itertools
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..stats import grim_proportion
from ._base import denominator_of

_MAX_COMBINATIONS = 100_000


def ek211_subgroup_results(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Subgroup results are inconsistent with the total.

    When a variable has proportion results for the whole population and for
    every subgroup of a partition, some choice of counts allowed by each
    subgroup's percentage (GRIM) must add up to a count allowed by the total's.

    Reference: Brown & Heathers 2017 (GRIM), applied across a partition;
    CONSORT 2010 item 16 (numbers analysed in each group).

    **Bad** (13/15 + 20/27 = 33, but 83% of 42 needs 35)::

        improvement-skin-alone:  87% of 15
        improvement-other:       74% of 27
        improvement-overall:     83% of 42

    **Good** (13 + 22 = 35)::

        improvement-skin-alone:  87% of 15
        improvement-other:       81% of 27
        improvement-overall:     83% of 42
    """
    study = loaded.study
    by_key = {}
    for i, res in enumerate(study.results):
        if res.statistic == "proportion" and res.value is not None and res.scale is not None:
            by_key[(res.variable, res.population)] = (i, res)
    for part in study.population.partitions:
        for (variable, population), (i, total) in sorted(by_key.items()):
            if population != study.population.id:
                continue
            parts = [by_key.get((variable, sub)) for sub in part.subgroups]
            if any(p is None for p in parts):
                continue
            n_total = denominator_of(loaded, total)
            options = []
            for _, res in parts:  # type: ignore[misc]
                n = denominator_of(loaded, res)
                if n is None:
                    break
                options.append([res.affected] if res.affected is not None else
                               grim_proportion(res.value or "0", n, percent=res.percent)[1])
            else:
                if n_total is None:
                    continue
                allowed = ([total.affected] if total.affected is not None else
                           grim_proportion(total.value or "0", n_total, percent=total.percent)[1])
                size = 1
                for opt in options:
                    size *= max(1, len(opt))
                if size > _MAX_COMBINATIONS or not all(options):
                    continue
                sums = {sum(c) for c in itertools.product(*options)}
                if not sums & set(allowed):
                    yield loaded.diag("EK211", Severity.WARNING,
                                      f"result '{total.id}': subgroup counts of partition '{part.id}' "
                                      f"can add up to {sorted(sums)}, but {total.value} of {n_total} "
                                      f"needs {allowed or 'a count that does not exist'}",
                                      "results", i, "value",
                                      hint="check the subgroup percentages and denominators against the source")
