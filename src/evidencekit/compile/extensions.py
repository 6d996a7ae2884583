"""The StructureDefinitions of evidencekit's own extensions (shipped in the FHIR package)."""

from __future__ import annotations

from ..config import Config
from .context import CompileContext, Json

__all__ = ["DERIVED_VALUE", "derived_value", "derived_value_definition", "derived_value_url"]

#: local name of our extension that marks derived values (its StructureDefinition ships in the package)
DERIVED_VALUE = "derived-value"


def derived_value_url(ctx: CompileContext) -> str:
    return f"{ctx.config.canonical_base}/StructureDefinition/{DERIVED_VALUE}"


def derived_value(ctx: CompileContext, method: str, element: str | None = None) -> Json:
    """The derived-value extension: how a value was derived, and which element (relative) it is."""
    parts: list[Json] = [] if element is None else [{"url": "element", "valueString": element}]
    parts.append({"url": "method", "valueString": method})
    return {"url": derived_value_url(ctx), "extension": parts}


def derived_value_definition(config: Config) -> Json:
    """``derived-value``: marks a value evidencekit derived (not reported by the source) and says how.

    On an ``Evidence.statistic`` it names the derived element (``element``, a path relative to
    the statistic, e.g. ``numberAffected``); on an ``attributeEstimate`` it marks the whole
    estimate (e.g. a Wilson CI); on a ``Group`` it names the derived element (``quantity``, or
    ``characteristic[1]`` for the N of members from another arm); on an ``EvidenceVariable`` a
    timepoint's bound the author worked out. ``method`` says how the value was derived.
    """
    url = f"{config.canonical_base}/StructureDefinition/derived-value"
    root = "Extension"
    elements: list[Json] = [
        {"id": root, "path": root, "short": "A value derived by evidencekit, not reported by the source",
         "definition": "Marks a value that the source does not state, and says how it was derived.",
         "min": 0, "max": "*"},
        {"id": f"{root}.extension", "path": f"{root}.extension", "min": 1},
        {"id": f"{root}.extension:element", "path": f"{root}.extension", "sliceName": "element", "min": 0,
         "max": "*", "short": "Path of the derived element, relative to the extended element"},
        {"id": f"{root}.extension:element.url", "path": f"{root}.extension.url", "fixedUri": "element"},
        {"id": f"{root}.extension:element.value[x]", "path": f"{root}.extension.value[x]", "min": 1,
         "type": [{"code": "string"}]},
        {"id": f"{root}.extension:method", "path": f"{root}.extension", "sliceName": "method", "min": 1, "max": "1",
         "short": "How the value was derived"},
        {"id": f"{root}.extension:method.url", "path": f"{root}.extension.url", "fixedUri": "method"},
        {"id": f"{root}.extension:method.value[x]", "path": f"{root}.extension.value[x]", "min": 1,
         "type": [{"code": "string"}]},
        {"id": f"{root}.url", "path": f"{root}.url", "fixedUri": url},
        {"id": f"{root}.value[x]", "path": f"{root}.value[x]", "max": "0"},
    ]
    elements[1]["slicing"] = {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"}
    return {
        "resourceType": "StructureDefinition",
        "id": "derived-value",
        "url": url,
        "version": config.version,
        "name": "DerivedValue",
        "title": "Derived value (evidencekit)",
        "status": "active",
        "publisher": config.publisher,
        "description": "Marks a value evidencekit derived from reported values (for example a count from a "
                       "percentage, a Wilson confidence interval, or a summed N) and says how.",
        "fhirVersion": "5.0.0",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": "Evidence.statistic"},
                    {"type": "element", "expression": "Evidence.statistic.attributeEstimate"},
                    {"type": "element", "expression": "Group"},
                    {"type": "element", "expression": "EvidenceVariable"}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }
