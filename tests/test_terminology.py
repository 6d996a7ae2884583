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
    """The HL7 codes the recommendation compiler writes itself (plan type, statuses, intents, UCUM's system)."""
    from conftest import r5_packages
    from evidencekit.compile.criteria import INPUT_STATUS, ORDER_INTENTS, REQUEST_INTENT
    from evidencekit.compile.recommendation import PLAN_TYPE
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


def _package_code_systems() -> dict[str, dict[str, str]]:
    """code -> display of every CodeSystem in the pinned R5 packages."""
    from conftest import r5_packages
    from evidencekit.validate.generate_spec import _read_package

    out: dict[str, dict[str, str]] = {}

    def walk(concepts: list, into: dict[str, str]) -> None:
        for c in concepts:
            into[c["code"]] = c.get("display", "")
            walk(c.get("concept", []), into)

    for package in r5_packages():
        for url, definition in _read_package(package).items():
            if definition["resourceType"] == "CodeSystem" and url not in out:
                walk(definition.get("concept", []), out.setdefault(url, {}))
    return out


def test_statistic_and_estimate_codes_and_displays_are_the_packages() -> None:
    """Every statistic, attribute-estimate, synthesis-type and model code the evidence and question
    compilers write, with its display."""
    from evidencekit.compile.evidence import ADJUSTED, ESTIMATE_TYPES, STATISTIC_TYPES
    from evidencekit.compile.question import HETEROGENEITY, MODEL_CODES, RANGE, STD_MA

    systems = _package_code_systems()
    for coding in [*STATISTIC_TYPES.values(), *ESTIMATE_TYPES.values(), ADJUSTED, RANGE, STD_MA,
                   *MODEL_CODES.values(), *HETEROGENEITY.values()]:
        assert systems[coding["system"]][coding["code"]] == coding["display"], coding


def test_hl7_concept_displays_are_the_packages() -> None:
    systems = _package_code_systems()
    for concept in CONCEPTS.values():
        if concept.status == "hl7":
            assert systems[concept.system][concept.code] == concept.display, concept.key


def test_design_codes_are_in_the_ig_sevco_code_system() -> None:
    """Study-design codes (emitted with the R5 study-design system) also exist in the EBM IG's SEVCO
    (tests/fixtures/sevco-study-design-codes.json: extracted from the IG's SEVCO example code system)."""
    import json

    from conftest import ROOT

    sevco = json.loads((ROOT / "tests" / "fixtures" / "sevco-study-design-codes.json").read_text())["codes"]
    design = [c for c in CONCEPTS.values() if c.key.startswith("study-design:")]
    assert len(design) >= 18
    for concept in design:
        assert sevco[concept.code].lower().strip() == concept.display.lower().strip(), concept.key


def test_design_kinds_only_name_study_design_codes_we_know() -> None:
    from evidencekit.terminology import DESIGN_KINDS

    for kind, rules in DESIGN_KINDS.items():
        for group in (*rules["requires"], *rules["forbids"]):
            for code in group:
                assert code in spec().codesystems["http://hl7.org/fhir/study-design"], (kind, code)


def test_duration_units_are_ucum_units_of_time() -> None:
    from conftest import r5_packages
    from evidencekit.definitions.model import Duration
    from evidencekit.terminology import UCUM, UNITS
    from evidencekit.validate.generate_spec import _read_package

    value_set = _read_package(r5_packages()[0])["http://hl7.org/fhir/ValueSet/units-of-time"]
    codes = {c["code"] for inc in value_set["compose"]["include"] for c in inc.get("concept", [])}
    assert {inc["system"] for inc in value_set["compose"]["include"]} == {UCUM}
    time_units = {text: unit.code for text, unit in UNITS.items() if text != "%"}
    assert set(time_units.values()) == codes  # every unit of time FHIR lists, and only those
    assert set(Duration.model_fields["unit"].annotation.__args__) <= set(time_units)  # what timepoints allow


def test_every_fevir_code_in_the_output_is_in_the_ig_code_system() -> None:
    """Every coding of the EBM IG's FEvIR code system 179423 in output/r5 (section codes, report and
    summary types, variable handling) has a code and display of that code system as the IG ships it
    (tests/fixtures/fevir-codesystem-179423.json: the IG example
    StructureDefinition-evidence-based-medicine-on-fhir-implementa-example.json, sha256 7fab395f...)."""
    import hashlib
    import json

    from conftest import ROOT

    path = ROOT / "tests" / "fixtures" / "fevir-codesystem-179423.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith("7fab395f3b5f38fd")
    system = json.loads(path.read_text(encoding="utf-8"))
    assert system["resourceType"] == "CodeSystem" and system["url"] == "https://fevir.net/resources/CodeSystem/179423"

    def concepts(items: list[dict]) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in items:
            out[item["code"]] = item.get("display", "")
            out |= concepts(item.get("concept", []))
        return out

    known = concepts(system["concept"])
    # codes the real IG profiles fix by pattern (tests/oracle/ebm-ig-r5, sha256-checked by the oracle):
    # 'groups', 'variables' and 'results' of evidence-table-report-package are not in the code system
    # as the examples ship it
    fixed: dict[str, str] = {}
    for profile in sorted((ROOT / "tests" / "oracle" / "ebm-ig-r5").glob("StructureDefinition-*.json")):
        for element in json.loads(profile.read_text(encoding="utf-8")).get("differential", {}).get("element", []):
            for key in ("patternCoding", "fixedCoding"):
                coding = element.get(key)
                if coding and coding.get("system") == system["url"]:
                    fixed.setdefault(coding["code"], coding.get("display", ""))
    assert {"groups", "variables", "results"} <= set(fixed)
    known = {**fixed, **known}
    found: list[tuple[str, str, str]] = []

    def scan(value: object, where: str) -> None:
        if isinstance(value, dict):
            if value.get("system") == system["url"]:
                found.append((where, str(value.get("code")), str(value.get("display"))))
            for v in value.values():
                scan(v, where)
        elif isinstance(value, list):
            for v in value:
                scan(v, where)

    for file in sorted((ROOT / "output" / "r5" / "resources").glob("*.json")):
        scan(json.loads(file.read_text(encoding="utf-8")), file.name)
    assert {code for _, code, _ in found} >= {"EvidenceReport", "SummaryOfFindings", "outcome-measures"}
    wrong = [(where, code, display, known.get(code)) for where, code, display in found if known.get(code) != display]
    assert not wrong, wrong[:5]


def test_study_reports_have_a_coded_type() -> None:
    import json

    from conftest import ROOT

    for file in sorted((ROOT / "output" / "r5" / "resources").glob("Composition-*.json")):
        report = json.loads(file.read_text(encoding="utf-8"))
        assert report["type"]["coding"][0]["system"] == "https://fevir.net/resources/CodeSystem/179423", file.name
