"""Findability: every knowledge resource says which condition and intervention it is about.

``useContext`` with the code ``focus`` (Clinical Focus, THO usage-context-type) and, as its
value, each concept the definition names for its population's condition and its intervention.
R5 servers index it as the ``context`` search parameter of every canonical resource, so
``Evidence?context=http://snomed.info/sct|396230008`` finds the knowledge about a condition.
Groups and ArtifactAssessments have no ``useContext`` in R5: they are found through the
resources they belong to (``_revinclude``, and our ``artifact`` search parameter).
"""

from __future__ import annotations

from ..definitions.loader import LoadedQuestion, LoadedStudy
from ..terminology import concept
from .context import CompiledResource, Json

__all__ = ["FOCUS", "apply_use_context", "focus_concepts"]

#: THO usage-context-type 'focus' (hl7.terminology.r5 7.0.1, CodeSystem-usage-context-type.json)
FOCUS = {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "focus",
         "display": "Clinical Focus"}
#: R5 resource types with a useContext element, among those we emit
_WITH_USE_CONTEXT = {"ActivityDefinition", "Citation", "CodeSystem", "Composition", "Evidence", "EvidenceVariable",
                     "PlanDefinition", "ValueSet"}
_AFTER = ("description", "publisher", "date", "status", "title")


def focus_concepts(loaded: LoadedStudy | LoadedQuestion) -> list[str]:
    """The terminology keys a definition is about: its population's condition(s), then its intervention(s).

    A study: the concepts of its (not excluded) eligibility criteria, then its exposure's or its
    intervention arms' concepts. A question: its population's, then its intervention's concepts.
    """
    keys: list[str] = []
    if isinstance(loaded, LoadedQuestion):
        pico = loaded.question.question
        keys += pico.population.concepts + pico.intervention.concepts
    else:
        study = loaded.study
        keys += [c.concept for c in study.population.eligibility.criteria if c.concept and not c.exclude]
        if study.exposure is not None:
            keys += study.exposure.concepts
        keys += [k for arm in study.arms if arm.role == "intervention" for k in arm.concepts]
    return list(dict.fromkeys(keys))


def apply_use_context(compiled: list[CompiledResource], keys: list[str]) -> None:
    """Add a focus useContext per known concept to every resource that can carry one (in place)."""
    contexts = [{"code": FOCUS, "valueCodeableConcept": {"coding": [found.coding()]}}
                for found in (concept(k) for k in keys) if found is not None]
    if not contexts:
        return
    for item in compiled:
        resource = item.resource
        if resource["resourceType"] not in _WITH_USE_CONTEXT or "useContext" in resource:
            continue
        anchor = next((name for name in _AFTER if name in resource), None)
        rebuilt: Json = {}
        for name, value in resource.items():
            rebuilt[name] = value
            if name == anchor:
                rebuilt["useContext"] = contexts
        if anchor is None:
            rebuilt["useContext"] = contexts
        resource.clear()
        resource.update(rebuilt)
