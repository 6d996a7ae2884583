"""Stand-in StructureDefinitions for the EBM-on-FHIR profiles our output declares.

The EBM IG is not obtainable as a package (shared/reference/hapi-server-and-validator.md
§4.5), and a validator that cannot find a declared profile reports an error. These stubs
have the IG profiles' canonical URLs and carry the constraints of
shared/reference/fhir-modeling.md §1 that can be written without the IG's own extensions
(fixed membership, synthesisType, cardinalities). They are reconstructions for testing,
not the IG: the oracle checks base R5 plus these constraints.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

EBM = "http://hl7.org/fhir/uv/ebm/StructureDefinition/"
CORE = "http://hl7.org/fhir/StructureDefinition/"
PACKAGE = "evidencekit.test.ebm-stubs"
VERSION = "0.0.1"


def _el(path: str, **rules: Any) -> dict[str, Any]:
    return {"id": path, "path": path, **rules}


_NOT_APPLICABLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/synthesis-type",
                               "code": "NotApplicable"}]}

#: profile id -> (base type, differential elements beyond the root)
PROFILES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "journal-article-citation": ("Citation", [
        _el("Citation.effectivePeriod", max="0"),
        _el("Citation.citedArtifact", min=1),
        _el("Citation.citedArtifact.classification", min=1),
    ]),
    "single-study-evidence": ("Evidence", [
        _el("Evidence.synthesisType", min=1, patternCodeableConcept=_NOT_APPLICABLE),
    ]),
    "non-comparative-evidence": ("Evidence", [_el("Evidence.variableDefinition", min=2)]),
    "intervention-only-evidence": ("Evidence", [_el("Evidence.variableDefinition", min=2)]),
    "comparator-only-evidence": ("Evidence", [_el("Evidence.variableDefinition", min=2)]),
    "comparative-evidence": ("Evidence", [_el("Evidence.variableDefinition", min=3)]),
    "evidence-synthesis-evidence": ("Evidence", [_el("Evidence.synthesisType", min=1)]),
    "baseline-measure-evidence": ("Evidence", [_el("Evidence.variableDefinition", min=2)]),
    "variable-definition": ("EvidenceVariable", [
        _el("EvidenceVariable.extension", min=1),
        _el("EvidenceVariable.characteristic", max="0"),
        _el("EvidenceVariable.handling", min=1),
    ]),
    "group-assignment": ("EvidenceVariable", [
        _el("EvidenceVariable.extension", min=1),
        _el("EvidenceVariable.characteristic", max="0"),
        _el("EvidenceVariable.handling", min=1),
        _el("EvidenceVariable.category", min=2),
        _el("EvidenceVariable.category.name", min=1),
    ]),
    "study-group": ("Group", [_el("Group.membership", fixedCode="enumerated")]),
    "exposure-group": ("Group", []),
    "comparator-group": ("Group", []),
    "cohort-definition": ("Group", [
        _el("Group.membership", fixedCode="definitional"),
        _el("Group.quantity", max="0"),
        _el("Group.member", max="0"),
    ]),
    "study-eligibility-criteria": ("Group", [
        _el("Group.membership", fixedCode="definitional"),
        _el("Group.quantity", max="0"),
        _el("Group.member", max="0"),
    ]),
    "risk-of-bias": ("ArtifactAssessment", []),
    "certainty-of-evidence": ("ArtifactAssessment", []),
    "evidence-report": ("Composition", [_el("Composition.subject", max="1")]),
    "summary-of-findings": ("Composition", [_el("Composition.subject", max="1"), _el("Composition.section", min=2)]),
}


def structure_definition(profile: str) -> dict[str, Any]:
    base, elements = PROFILES[profile]
    name = "".join(part.capitalize() for part in profile.split("-")) + "Stub"
    return {
        "resourceType": "StructureDefinition",
        "id": f"ebm-stub-{profile}",
        "url": EBM + profile,
        "version": VERSION,
        "name": name,
        "title": f"{profile} (test stand-in for the EBM-on-FHIR profile)",
        "status": "draft",
        "fhirVersion": "5.0.0",
        "kind": "resource",
        "abstract": False,
        "type": base,
        "baseDefinition": CORE + base,
        "derivation": "constraint",
        "differential": {"element": [_el(base), *elements]},
    }


def package_bytes() -> bytes:
    """A reproducible FHIR NPM package (.tgz) holding every stub."""
    members: list[tuple[str, bytes]] = [("package/package.json", json.dumps({
        "name": PACKAGE, "version": VERSION, "fhirVersions": ["5.0.0"],
        "dependencies": {"hl7.fhir.r5.core": "5.0.0"}, "type": "Conformance"}, indent=2).encode())]
    for profile in sorted(PROFILES):
        sd = structure_definition(profile)
        members.append((f"package/StructureDefinition-{sd['id']}.json", json.dumps(sd, indent=2).encode()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def write_package(directory: Path) -> str:
    name = f"{PACKAGE}-{VERSION}.tgz"
    (directory / name).write_bytes(package_bytes())
    return name
