"""A synthetic patient panel whose qualifying status is known by construction (issue 11, point 9).

Each patient is drawn from the features below (seeded, so the panel is the same on every run)
and its expected answer is computed from those features by the rule in words — adult (18 or
more today), an active adult DM diagnosis (ICD-10-CM M33.1x or M33.9x, or SNOMED CT
396230008), no active juvenile DM (M33.0x), at least 2 distinct systemic agents among
methotrexate, mycophenolate mofetil, hydroxychloroquine and azathioprine in the medication
history, and no IVIG being given — never by evaluating the service's FHIRPath:

* ages at the boundaries: two days short of 18, 18 today, 19, 45, 80, 95 (two days, not one: the
  panel is built before the calls, and a run that crosses midnight would turn "a day short" 18;
  the exact day is tested in-process by tests/test_criteria.py);
* diagnoses at the code boundaries: M33.1 itself and M33.10/.12/.13/.19, M33.9, SNOMED CT
  396230008; juvenile M33.00/M33.03; polymyositis M33.2 and systemic sclerosis M34.9
  (neither qualifies); clinical status active, recurrence, relapse, inactive, resolved,
  remission; entered-in-error verification;
* 0 to 4 agents, each ordered (intent order or plan; status completed, active, stopped) or
  stated; repeats of an agent; orders that do not count (intent proposal, status cancelled or
  entered-in-error); agents coded as a product whose Medication lists the ingredient (counts)
  and product-only codes with no ingredient (do not count offline, where nothing maps them;
  count with the site expansion of ``cds_client.expansion_bundle``: ``expected_expanded``);
* IVIG: an active or draft order or a statement (suppress), a completed order (does not);
* R5 records (for the FHIR server) and the same patient in R4 shape (for prefetch).
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from typing import Any

from cds_client import AGENTS, ATC, CLINICAL, ICD10CM, RXNORM, SCT, product

Json = dict[str, Any]

AGES = {"two days short of 18": (18, -2), "18 today": (18, 0), "19": (19, 0), "45": (45, 0), "80": (80, 0),
        "95": (95, 0)}
#: (system, code, display, adult DM?, juvenile DM?); a display only where the project's terminology table
#: or reference gives the title (test input: the service never reads displays)
DIAGNOSES = [
    (ICD10CM, "M33.1", "Other dermatomyositis", True, False),
    (ICD10CM, "M33.10", "Other dermatomyositis, organ involvement unspecified", True, False),
    (ICD10CM, "M33.12", "Other dermatomyositis with myopathy", True, False),
    (ICD10CM, "M33.13", "Other dermatomyositis without myopathy", True, False),
    (ICD10CM, "M33.19", None, True, False),
    (ICD10CM, "M33.9", "Dermatopolymyositis, unspecified", True, False),
    (SCT, "396230008", "Dermatomyositis", True, False),
    (ICD10CM, "M33.00", None, False, True),
    (ICD10CM, "M33.03", "Juvenile dermatomyositis without myopathy", False, True),
    (ICD10CM, "M33.2", None, False, False),  # outside M33.0x, M33.1x and M33.9x: not DM for the rule
    (ICD10CM, "M34.9", None, False, False),
]
ACTIVE_STATUS = {"active", "recurrence", "relapse"}
STATUSES = ["active", "recurrence", "relapse", "inactive", "resolved", "remission"]
#: weights of the draws: every feature appears often, and about a third of the panel qualifies
_AGE_WEIGHTS = [1, 1, 2, 5, 2, 1]
_DX_WEIGHTS = [2, 2, 2, 3, 2, 2, 3, 1, 1, 1, 1]
_STATUS_WEIGHTS = [12, 1, 1, 1, 1, 1]
_KINDS = ["order", "plan", "statement", "product", "product-only", "proposal", "cancelled", "entered-in-error"]
_KIND_WEIGHTS = [6, 1, 2, 2, 1, 1, 1, 1]


def years_ago(years: int, days: int = 0) -> str:
    """The date ``years`` years (and ``days`` days) before today (28 February for 29 February)."""
    today = datetime.date.today()
    try:
        then = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        then = today.replace(year=today.year - years, day=28)
    return (then - datetime.timedelta(days=days)).isoformat()


@dataclass
class PanelPatient:
    pid: str
    expected: bool
    features: list[str]
    r5: list[Json] = field(default_factory=list)  # every resource, R5 shape
    r4: dict[str, list[Json]] = field(default_factory=dict)  # by type, R4 shape (prefetch)
    expected_expanded: bool = False  # the answer with the site's product expansion


def _medication_r5(concept: Json | None, reference: str | None) -> Json:
    if reference is not None:
        return {"reference": {"reference": reference}}
    return {"concept": concept}


def make_patient(index: int, rng: random.Random) -> PanelPatient:
    pid = f"panel-{index:04d}"
    features: list[str] = []
    r5: list[Json] = []
    r4: dict[str, list[Json]] = {"Condition": [], "MedicationRequest": [], "MedicationStatement": [], "Medication": []}
    age = rng.choices(list(AGES), _AGE_WEIGHTS)[0]
    features.append(f"age {age}")
    years, days = AGES[age]
    patient = {"resourceType": "Patient", "id": pid, "birthDate": years_ago(years, days)}
    r5.append(patient)
    adult = years > 18 or (years == 18 and days >= 0)

    adult_dm = juvenile = False
    for n in range(rng.choices([0, 1, 2], [1, 6, 2])[0]):
        system, code, display, is_adult_dm, is_juvenile = rng.choices(DIAGNOSES, _DX_WEIGHTS)[0]
        status = rng.choices(STATUSES, _STATUS_WEIGHTS)[0]
        error = rng.random() < 0.05
        features.append(f"dx {code} {status}" + (" entered-in-error" if error else ""))
        condition = {"resourceType": "Condition", "id": f"{pid}-c{n}", "subject": {"reference": f"Patient/{pid}"},
                     "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
                     "code": {"coding": [{"system": system, "code": code,
                                          **({"display": display} if display else {})}]}}
        if error:
            condition["verificationStatus"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}
        r5.append(condition)
        r4["Condition"].append(condition)
        if status in ACTIVE_STATUS and not error:
            adult_dm |= is_adult_dm
            juvenile |= is_juvenile

    counted: set[str] = set()
    by_expansion: set[str] = set()
    names = list(AGENTS)
    chosen = rng.sample(names, rng.choices([0, 1, 2, 3, 4], [1, 2, 5, 3, 2])[0])
    for n, name in enumerate(chosen + ([chosen[0]] if chosen and rng.random() < 0.1 else [])):
        kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
        features.append(f"{name} {kind}")
        coding = {"system": RXNORM, "code": AGENTS[name], "display": name}
        reference = None
        if kind in ("product", "product-only"):
            medication: Json = {"resourceType": "Medication", "id": f"{pid}-med{n}",
                                "code": {"coding": [product(name)]}}
            if kind == "product":
                medication["ingredient"] = [{"item": {"concept": {"coding": [coding]}}}]
            r5.append(medication)
            r4["Medication"].append({**medication, "ingredient": [{"itemCodeableConcept": {"coding": [coding]}}]}
                                    if kind == "product" else medication)
            reference = f"Medication/{medication['id']}"
        if kind == "statement":
            statement = {"resourceType": "MedicationStatement", "id": f"{pid}-ms{n}", "status": "recorded",
                         "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2023-02-01",
                         "medication": {"concept": {"coding": [coding]}}}
            r5.append(statement)
            r4["MedicationStatement"].append({**{k: v for k, v in statement.items() if k != "medication"},
                                              "status": "completed", "medicationCodeableConcept": {"coding": [coding]}})
            counted.add(name)
            continue
        status = {"cancelled": "cancelled", "entered-in-error": "entered-in-error"}.get(
            kind, rng.choice(["completed", "active", "stopped"]))
        intent = {"plan": "plan", "proposal": "proposal"}.get(kind, "order")
        request = {"resourceType": "MedicationRequest", "id": f"{pid}-mr{n}", "status": status, "intent": intent,
                   "subject": {"reference": f"Patient/{pid}"}, "authoredOn": "2023-01-10",
                   "medication": _medication_r5({"coding": [coding]}, reference)}
        r5.append(request)
        shaped = {k: v for k, v in request.items() if k != "medication"}
        if reference is not None:
            shaped["medicationReference"] = {"reference": reference}
        else:
            shaped["medicationCodeableConcept"] = {"coding": [coding]}
        r4["MedicationRequest"].append(shaped)
        if kind in ("order", "plan", "product"):
            counted.add(name)
        elif kind == "product-only" and status not in ("cancelled", "entered-in-error"):
            by_expansion.add(name)  # counts once a site's expansion maps the product to its agent

    on_ivig = False
    ivig = rng.choices([None, "active", "draft", "completed", "statement"], [12, 1, 1, 1, 1])[0]
    if ivig is not None:
        features.append(f"IVIG {ivig}")
        coding = {"system": ATC, "code": "J06BA02", "display": "Immunoglobulins, normal human, for intravascular adm."}
        if ivig == "statement":
            statement = {"resourceType": "MedicationStatement", "id": f"{pid}-ivig", "status": "recorded",
                         "subject": {"reference": f"Patient/{pid}"}, "medication": {"concept": {"coding": [coding]}}}
            r5.append(statement)
            r4["MedicationStatement"].append({"resourceType": "MedicationStatement", "id": f"{pid}-ivig",
                                              "status": "active", "subject": {"reference": f"Patient/{pid}"},
                                              "medicationCodeableConcept": {"coding": [coding]}})
        else:
            request = {"resourceType": "MedicationRequest", "id": f"{pid}-ivig", "status": ivig, "intent": "order",
                       "subject": {"reference": f"Patient/{pid}"}, "medication": {"concept": {"coding": [coding]}}}
            r5.append(request)
            r4["MedicationRequest"].append({**{k: v for k, v in request.items() if k != "medication"},
                                            "medicationCodeableConcept": {"coding": [coding]}})
        on_ivig = ivig in ("active", "draft", "statement")

    expected = adult and adult_dm and not juvenile and len(counted) >= 2 and not on_ivig
    expected_expanded = adult and adult_dm and not juvenile and len(counted | by_expansion) >= 2 and not on_ivig
    r4["Patient"] = [patient]
    return PanelPatient(pid, expected, features, r5, r4, expected_expanded)


def make_panel(size: int, seed: int = 20261203) -> list[PanelPatient]:
    """``size`` patients; the same panel for the same seed."""
    rng = random.Random(seed)
    return [make_patient(i, rng) for i in range(size)]


def r4_prefetch(patient: PanelPatient) -> Json:
    """The patient's record as an R4 EHR prefetches it (Medications ride along in the request bundle)."""
    from cds_client import bundle

    records = patient.r4
    return {"patient": records["Patient"][0], "conditions": bundle(records["Condition"]),
            "medicationRequests": bundle(records["MedicationRequest"] + records["Medication"]),
            "medicationStatements": bundle(records["MedicationStatement"])}
