from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from ..terminology import DESIGN_KINDS


def ek213_design_kind(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Design kind disagrees with the design codes, arms or exposure.

    `design.kind` decides how a study compiles: a single-group study gives an
    `exposure` and no arms; a comparative design gives at least two `arms`
    (at least one intervention and one comparator) and no `exposure`. Its
    SEVCO study-design codes must say the same: a parallel randomized trial
    carries randomized assignment (SEVCO:01003) and parallel cohort design
    (SEVCO:01011), a single-group study a non-comparative code, and no study
    carries a code that contradicts its kind (the table is
    `evidencekit.terminology.DESIGN_KINDS`).

    Reference: SEVCO study design hierarchy, hl7.fhir.r5.core 5.0.0
    CodeSystem-study-design; EBM IG R5 ComparativeEvidence and GroupAssignment.

    **Bad**::

        design: {kind: parallel-randomized, codes: [study-design:SEVCO:01016]}

    **Good**::

        design:
          kind: parallel-randomized
          codes: [study-design:SEVCO:01003, study-design:SEVCO:01011]
    """
    study = loaded.study
    design = study.design
    rules = DESIGN_KINDS[design.kind]
    codes = {key.split(":", 1)[1] for key in design.codes if key.startswith("study-design:")}
    for alternatives in rules["requires"]:
        if not codes & set(alternatives):
            yield loaded.diag("EK213", Severity.ERROR,
                              f"design kind '{design.kind}' needs one of the study-design codes "
                              f"{', '.join(alternatives)}", "design", "codes",
                              hint="add the code that states the design, e.g. "
                                   f"study-design:{alternatives[0]}")
    for i, key in enumerate(design.codes):
        code = key.split(":", 1)[1] if key.startswith("study-design:") else None
        if code is not None and any(code in forbidden for forbidden in rules["forbids"]):
            yield loaded.diag("EK213", Severity.ERROR,
                              f"code '{key}' contradicts design kind '{design.kind}'", "design", "codes", i,
                              hint="check `design.kind` and the codes against the source")
    if design.comparative:
        roles = {arm.role for arm in study.arms}
        if len(study.arms) < 2 or roles != {"intervention", "comparator"}:
            yield loaded.diag("EK213", Severity.ERROR,
                              f"a {design.kind} design needs at least two `arms`, one with role intervention "
                              "and one with role comparator", "arms" if study.arms else "design", *(
                                  () if study.arms else ("kind",)),
                              hint="list the arms with their role, what was given and N assigned")
        if study.exposure is not None:
            yield loaded.diag("EK213", Severity.ERROR,
                              f"a {design.kind} design describes what was given in `arms`, not `exposure`",
                              "exposure", hint="move the exposure into the intervention arm")
    else:
        if study.arms:
            yield loaded.diag("EK213", Severity.ERROR, "a single-group design has no `arms`", "arms",
                              hint="set `design.kind` to the comparative design, or describe the group's "
                                   "treatment in `exposure`")
        if study.exposure is None:
            yield loaded.diag("EK213", Severity.ERROR, "a single-group design needs `exposure`: what the "
                              "study group received", "design", "kind")
