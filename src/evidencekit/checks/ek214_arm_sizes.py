from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity


def ek214_arm_sizes(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Arm or analysis-set sizes do not add up.

    In a parallel design every participant is in one arm, so the arms' Ns add
    up to the study group's N; in a crossover design each arm (treatment) has
    at most the study group's N. An analysis set has at most its arm's N,
    unless it includes participants of other arms (`includes`, each with its
    N and reason, e.g. switchers) and then at most the sum.

    Reference: CONSORT 2010 items 13a and 16 (numbers randomized, received
    treatment and analysed, per group).

    **Bad** (52 patients analysed as an arm of 47, no reason given)::

        analysis_sets: [{id: safety-ivig, arm: ivig, n: {value: 52}}]

    **Good**::

        analysis_sets:
          - id: safety-ivig
            arm: ivig
            n: {value: 52}
            includes: [{arm: placebo, n: {value: 5}, reason: switched to IVIG after deterioration}]
    """
    study = loaded.study
    if not study.arms:
        return
    total = study.population.n.value
    arm_n = {a.id: a.n.value for a in study.arms}
    if study.design.kind == "crossover-randomized":
        for i, arm in enumerate(study.arms):
            if arm.n.value > total:
                yield loaded.diag("EK214", Severity.ERROR,
                                  f"arm '{arm.id}' has {arm.n.value} participants, more than the study "
                                  f"group's {total}", "arms", i, "n", "value")
    elif sum(arm_n.values()) != total:
        yield loaded.diag("EK214", Severity.ERROR,
                          f"the arms' Ns add up to {sum(arm_n.values())} "
                          f"({' + '.join(str(v) for v in arm_n.values())}), but the study group has {total}",
                          "population", "n", "value",
                          hint="in a parallel design every participant is in exactly one arm; check the Ns")
    for i, aset in enumerate(study.analysis_sets):
        own = arm_n.get(aset.arm)
        if own is None:
            continue
        known = [inc.n.value for inc in aset.includes if inc.n is not None]
        extra = sum(known) if len(known) == len(aset.includes) else None  # an unknown N bounds nothing
        for j, inc in enumerate(aset.includes):
            other = arm_n.get(inc.arm)
            if other is not None and inc.n is not None and inc.n.value > other:
                yield loaded.diag("EK214", Severity.ERROR,
                                  f"analysis set '{aset.id}' includes {inc.n.value} participants of arm "
                                  f"'{inc.arm}', which has {other}", "analysis_sets", i, "includes", j, "n", "value")
        if aset.n.value > own and not aset.includes:
            yield loaded.diag("EK214", Severity.ERROR,
                              f"analysis set '{aset.id}' has {aset.n.value} participants, more than its arm "
                              f"'{aset.arm}' ({own}), and says of no one where they come from",
                              "analysis_sets", i, "n", "value",
                              hint="list the participants from other arms in `includes` with their N and reason "
                                   "(e.g. switchers), or check the N")
        elif extra is not None and aset.n.value > own + extra:
            yield loaded.diag("EK214", Severity.ERROR,
                              f"analysis set '{aset.id}' has {aset.n.value} participants, more than its arm "
                              f"({own}) and the included participants ({extra}) together",
                              "analysis_sets", i, "n", "value")
