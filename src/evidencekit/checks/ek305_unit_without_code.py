from __future__ import annotations

from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import RATIO_STATISTICS
from ..diagnostics import Diagnostic, Severity
from ..terminology import terminology


def ek305_unit_without_code(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Unit without a UCUM code.

    A quantity's unit is emitted with its UCUM code (system
    http://unitsofmeasure.org) so that a machine can read it; the built-in
    library knows the units of time and percent, a project declares the others
    under `units:` in a terminology file. A unit nobody declared is emitted as
    text only, and `check` says so. Only units that reach a Quantity are
    checked: those of results (not percentages or ratios) and of eligibility
    criteria.

    Reference: FHIR R5 Quantity (qty-3: a code needs a system; UCUM is the
    system FHIR expects, https://hl7.org/fhir/R5/datatypes.html#Quantity);
    UCUM (https://ucum.org/ucum): a count is dimensionless, unit 1.

    **Bad**::

        unit: cycles          # no code: the Quantity carries the text only

    **Good**::

        # terminology.yaml beside the definitions
        kind: terminology
        units:
          - {unit: cycles, code: "1", source: "UCUM unit 1: a count (the unit text says what)"}
    """
    units = terminology().units
    study = loaded.study
    for i, crit in enumerate(study.population.eligibility.criteria):
        if crit.unit and crit.concept is None and crit.value is not None and crit.unit not in units:
            yield _diag(loaded, crit.unit, "population", "eligibility", "criteria", i, "unit")
    for i, result in enumerate(study.results):
        if result.unit and not result.percent and result.statistic not in RATIO_STATISTICS \
                and result.unit not in units:
            yield _diag(loaded, result.unit, "results", i, "unit")


def _diag(loaded: LoadedStudy, unit: str, *path: object) -> Diagnostic:
    return loaded.diag("EK305", Severity.WARNING, f"unit '{unit}' has no UCUM code: its quantities carry the "
                       "text only", *path,
                       hint=f"declare it in a terminology file: units: [{{unit: {unit}, code: <UCUM code>, "
                            "source: <where the code comes from>}]")
