"""Every code evidencekit may emit exists where its status says it comes from."""

from __future__ import annotations

from evidencekit.terminology import CONCEPTS
from evidencekit.validate.spec import spec


def test_hl7_concepts_exist_in_the_r5_code_systems() -> None:
    codesystems = spec().codesystems  # from hl7.fhir.r5.core 5.0.0 / hl7.terminology.r5 7.0.1
    hl7 = [c for c in CONCEPTS.values() if c.status == "hl7"]
    assert len(hl7) >= 15
    for concept in hl7:
        assert concept.system in codesystems, concept.key
        assert concept.code in codesystems[concept.system], concept.key


def test_every_concept_cites_a_source() -> None:
    for concept in CONCEPTS.values():
        assert concept.source.strip(), concept.key
        assert concept.status in ("hl7", "ig-example", "verified", "corroborated", "unverified")


def test_plan_definition_codes_exist_in_the_hl7_code_systems() -> None:
    """The HL7 codes the recommendation compiler writes itself (plan type, statuses, intents)."""
    from conftest import r5_packages
    from evidencekit.compile.recommendation import INPUT_STATUS, ORDER_INTENTS, PLAN_TYPE, REQUEST_INTENT
    from evidencekit.validate.generate_spec import _codes, _read_package

    codesystems = {}
    for package in r5_packages():
        for url, definition in _read_package(package).items():
            if definition["resourceType"] == "CodeSystem":
                codesystems.setdefault(url, set(_codes(definition.get("concept", []))))
    used = [(PLAN_TYPE["system"], PLAN_TYPE["code"])]
    used += [(system, code) for system, codes in INPUT_STATUS.values() for code in codes]
    used += [(REQUEST_INTENT, code) for code in ORDER_INTENTS]
    for system, code in used:
        assert system in codesystems, system
        assert code in codesystems[system], (system, code)
