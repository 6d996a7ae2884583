from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek204_subgroup_sums(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Subgroup sizes do not add up to the group size.

    Where a definition says subgroups partition the population (`partitions`)
    their Ns must sum to the population's N; a subgroup declared as the union
    of others (`union_of`) must equal their sum.

    Reference: CONSORT 2010 item 13a / STROBE item 13 (numbers of participants
    at each stage must be accounted for).

    **Bad**::

        n: {value: 42}
        subgroups: [{id: a, n: {value: 15}}, {id: b, n: {value: 25}}]
        partitions: [{id: p, subgroups: [a, b]}]      # 40 != 42

    **Good**::

        partitions: [{id: p, subgroups: [a, b, c, d]}]   # 15 + 25 + 1 + 1 = 42
    """
    population = loaded.study.population
    sizes = {s.id: s.n.value for s in population.subgroups}
    for i, part in enumerate(population.partitions):
        known = [sizes[s] for s in part.subgroups if s in sizes]
        if len(known) == len(part.subgroups) and sum(known) != population.n.value:
            terms = " + ".join(f"{sizes[s]}" for s in part.subgroups)
            yield loaded.diag("EK204", Severity.ERROR,
                              f"partition '{part.id}': {terms} = {sum(known)}, but the population "
                              f"has {population.n.value}", "population", "partitions", i, "subgroups",
                              hint="check the subgroup Ns, or drop the partition if the subgroups "
                                   "overlap or do not cover everyone")
    for i, sub in enumerate(population.subgroups):
        if sub.union_of and all(s in sizes for s in sub.union_of):
            total = sum(sizes[s] for s in sub.union_of)
            if total != sub.n.value:
                yield loaded.diag("EK204", Severity.ERROR,
                                  f"subgroup '{sub.id}' has {sub.n.value} patients, but its parts "
                                  f"{', '.join(sub.union_of)} add up to {total}",
                                  "population", "subgroups", i, "n", "value")
