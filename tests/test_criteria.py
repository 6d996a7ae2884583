"""Typed decision criteria (issue 11, point 5): age range, condition present / absent, medication
history (k distinct agents within a look-back), current medication, observation threshold in a
UCUM unit — compiled to PlanDefinition inputs and FHIRPath conditions with no hard-coded names,
and evaluated by `serve` at their boundaries."""

from __future__ import annotations

import datetime
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

import cds_client as ehr
from conftest import DEFINITIONS
from patient_panel import years_ago
from evidencekit.config import Config
from evidencekit.pipeline import build
from evidencekit.serve import Settings, create_app, load_knowledge
from evidencekit.terminology import CONCEPTS, Concept

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

QUESTION = DEFINITIONS / "ivig-refractory-cdm-question.yaml"
#: a code system made up for this test only (not emitted by the real knowledge base)
TEST_SYSTEM = "http://example.org/evidencekit-test/observations"
CRITERIA = """  qualifies:
    - id: adult
      age:
        min: {value: 18, basis: "Test rule: adults."}
        max: {value: 79, basis: "Test rule: under 80, as ProDERM enrolled."}
    - id: dm
      condition:
        codes: [{concept: icd10cm:M33.1, descendants: true}]
    - id: juvenile
      condition: {present: false, codes: [{concept: icd10cm:M33.0, descendants: true}]}
    - id: history
      medication_history:
        agents:
          - {id: methotrexate, display: methotrexate, concepts: [rxnorm:6851]}
          - {id: azathioprine, display: azathioprine, concepts: [rxnorm:1256]}
          - {id: mycophenolate, display: mycophenolate mofetil, concepts: [rxnorm:68149]}
        at_least: {value: 2, basis: "Test rule."}
        look_back: {value: 5, unit: years}
    - id: ivig
      medication: {present: false, concepts: [atc:J06BA02]}
    - id: ck
      observation:
        codes: [{concept: test:ck}]
        comparator: ">="
        value: 2.5
        unit: "mg/dL"
        basis: "Test rule."
        look_back: {value: 90, unit: days}
"""


def _days_ago(days: int) -> str:
    return (datetime.date.today() - datetime.timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("criteria")
    definitions = work / "definitions"
    shutil.copytree(DEFINITIONS, definitions)
    text = QUESTION.read_text(encoding="utf-8")
    start, end = text.index("  qualifies:\n"), text.index("  card:\n")
    # comments inside the replaced block go too; the rest of the recommendation stays
    (definitions / QUESTION.name).write_text(text[:start] + CRITERIA + text[end:], encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setitem(CONCEPTS, "test:ck", Concept("test:ck", TEST_SYSTEM, "ck", "Creatine kinase (test code)", "verified",
                                            "tests/test_criteria.py (a test-only code)"))
    try:
        result = build(definitions, work / "out", config=Config())
        assert result.ok, [d.format_text() for d in result.diagnostics if d.severity.value == "error"]
    finally:
        mp.undo()
    knowledge = load_knowledge(work / "out" / "r5")
    service = next(s for s in knowledge.services.values() if s.hook == "patient-view")
    app = create_app(knowledge, Settings(public_url="http://testserver", trust=None))
    return TestClient(app), service


def _observation(pid: str, value: float, unit: str = "mg/dL", when: str | None = None, status: str = "final") -> Any:
    return {"resourceType": "Observation", "id": f"{pid}-ck", "status": status, "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": TEST_SYSTEM, "code": "ck"}]}, "effectiveDateTime": when or _days_ago(10),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _patient(pid: str, **over: Any) -> dict[str, Any]:
    data = ehr.qualifying(pid)
    recent = years_ago(1)
    data["MedicationRequest"] = [ehr.agent_request(pid, "methotrexate", 1, authored=recent),
                                 ehr.agent_request(pid, "azathioprine", 2, authored=recent)]
    data["Observation"] = [_observation(pid, 3.1)]
    data.update(over)
    return data


def _cards(client: Any, pid: str, data: dict[str, Any]) -> int:
    app, service = client
    prefetch = ehr.prefetch_for(data)
    prefetch["observations"] = ehr.bundle(data.get("Observation", []))
    response = app.post(f"/cds-services/{service.id}", json=ehr.hook_request("patient-view", pid, prefetch))
    assert response.status_code == 200, response.text
    return len(response.json()["cards"])


def test_compiled_without_hard_coded_names(client: Any) -> None:
    _, service = client
    variables = {i.ident for i in service.rule.inputs}
    assert variables == {"dm", "juvenile", "ivigOrders", "ivigStatements", "ck",
                         *(f"history{a}{kind}" for a in ("Methotrexate", "Azathioprine", "Mycophenolate")
                           for kind in ("Orders", "Statements"))}
    assert "Observation" in service.rule.types() and "observations" in service.prefetch()
    descriptions = [d for d, _ in service.rule.conditions]
    assert descriptions[:2] == ["Age 18 to 79 years (a business rule, not a finding of the evidence: Test rule: adults. "
                                "Test rule: under 80, as ProDERM enrolled.)", "An active diagnosis: dm"]
    rule = " (a business rule, not a finding of the evidence: Test rule.)"  # each threshold's basis, in the FHIR
    assert "At least 2 distinct agents in the medication history in the last 5 years" + rule in descriptions
    assert "An observation >= 2.5 mg/dL in the last 90 days" + rule in descriptions


@pytest.mark.parametrize("case, expected", [
    ("qualifies", 1),
    ("aged 79, the last day before 80", 1),
    ("aged 80 today", 0),
    ("aged 18 today", 1),
    ("a day short of 18", 0),
    ("agents 6 years ago", 0),
    ("one agent recent, one 6 years ago", 0),
    ("observation below the threshold", 0),
    ("observation at the threshold", 1),
    ("observation in another unit", 0),
    ("observation older than 90 days", 0),
    ("observation preliminary", 0),
    ("no observation", 0),
    ("on IVIG", 0),
    ("juvenile DM too", 0),
])
def test_each_criterion_at_its_boundary(client: Any, case: str, expected: int) -> None:
    pid = "p-" + case.replace(" ", "-").replace(",", "")[:40]
    data = _patient(pid)
    person = data["Patient"][0]
    if case == "aged 79, the last day before 80":
        person["birthDate"] = years_ago(80, -1)
    elif case == "aged 80 today":
        person["birthDate"] = years_ago(80)
    elif case == "aged 18 today":
        person["birthDate"] = years_ago(18)
    elif case == "a day short of 18":
        person["birthDate"] = years_ago(18, -1)
    elif case.startswith("agents 6 years ago"):
        for request in data["MedicationRequest"]:
            request["authoredOn"] = years_ago(6)
    elif case.startswith("one agent recent"):
        data["MedicationRequest"][1]["authoredOn"] = years_ago(6)
    elif case == "observation below the threshold":
        data["Observation"] = [_observation(pid, 2.4)]
    elif case == "observation at the threshold":
        data["Observation"] = [_observation(pid, 2.5)]
    elif case == "observation in another unit":
        data["Observation"] = [_observation(pid, 250, unit="mg/L")]
    elif case == "observation older than 90 days":
        data["Observation"] = [_observation(pid, 3.1, when=_days_ago(120))]
    elif case == "observation preliminary":
        data["Observation"] = [_observation(pid, 3.1, status="preliminary")]
    elif case == "no observation":
        data["Observation"] = []
    elif case == "on IVIG":
        data["MedicationRequest"].append(ehr.ivig_request(pid))
    elif case == "juvenile DM too":
        data["Condition"].append(ehr.condition(pid, f"{pid}-jdm", ehr.ICD10CM, "M33.00", "Juvenile DM"))
    assert _cards(client, pid, data) == expected, case


BAD = [
    ("two kinds in one criterion", "    - id: adult\n      age:\n",
     "    - id: adult\n      condition: {codes: [{concept: icd10cm:M33.1}]}\n      age:\n", "EK104", "- id: adult"),
    ("min above max", "        max: {value: 79,", "        max: {value: 17,", "EK104", "min: {value: 18"),
    ("a criterion id twice", "    - id: juvenile\n", "    - id: dm\n", "EK105", "- id: dm"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_criteria_are_located_errors(case: tuple[str, str, str, str, str], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evidencekit.cli import main

    _, old, new, code, line_contains = case
    text = QUESTION.read_text(encoding="utf-8")
    start, end = text.index("  qualifies:\n"), text.index("  card:\n")
    criteria = CRITERIA.replace("        codes: [{concept: test:ck}]", "        codes: [{concept: icd10cm:M33.1}]")
    assert criteria.count(old) == 1, old
    definitions = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, definitions)
    (definitions / QUESTION.name).write_text(text[:start] + criteria.replace(old, new) + text[end:], encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(definitions), "--format", "json"])
    assert result.exit_code == 1, result.output
    lines = (definitions / QUESTION.name).read_text(encoding="utf-8").splitlines()
    errors = [d for d in json.loads(result.output) if d["severity"] == "error"]
    assert any(d["code"] == code and line_contains in lines[d["line"] - 1] for d in errors), errors


def test_order_hooks_need_a_medication_history(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from evidencekit.cli import main

    text = QUESTION.read_text(encoding="utf-8")
    start, end = text.index("  qualifies:\n"), text.index("  card:\n")
    only_age = "  qualifies:\n    - id: adult\n      age: {min: {value: 18, basis: rule}}\n"
    definitions = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, definitions)
    (definitions / QUESTION.name).write_text(text[:start] + only_age + text[end:], encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(definitions), "--format", "json"])
    assert result.exit_code == 1
    assert any(d["code"] == "EK106" and "medication history" in d["message"] for d in json.loads(result.output))
