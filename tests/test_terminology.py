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
