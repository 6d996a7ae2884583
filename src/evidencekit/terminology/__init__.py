"""The codes evidencekit may emit, as data with their sources and status.

Definitions refer to concepts by key (``sct:396230008``). A key that is not
here is an error (EK301: no invented codes); a concept whose status is
``corroborated`` or ``unverified`` is reported as a warning by ``check`` (EK302).

Status: ``hl7`` — in an HL7 code system of ``hl7.fhir.r5.core`` 5.0.0 (code and display
checked against the package; ``tests/test_terminology.py`` re-checks the codes);
``ig-example`` — used verbatim in the EBM IG R5 examples (SEVCO example code system,
not published as a package); ``verified`` / ``corroborated`` / ``unverified`` — as the
project reference's terminology table marks them.
Sources cite ``shared/reference/fhir-modeling.md`` ("REF §n"), ``shared/reference/cds-hooks.md``
("CDS REF §n") and the EBM IG
R5 examples ("IG-R5 example <file>").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CONCEPTS", "Concept", "DESIGN_KINDS", "DURATION_UNITS", "GRADE", "SYSTEMS", "codeable", "concept", "duration_unit"]

Status = Literal["hl7", "ig-example", "verified", "corroborated", "unverified"]


@dataclass(frozen=True)
class Concept:
    key: str
    system: str
    code: str
    display: str
    status: Status
    source: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


SYSTEMS = {
    "sct": "http://snomed.info/sct",
    "ncit": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
    "atc": "http://www.whocc.no/atc",
    "mesh": "https://meshb.nlm.nih.gov/",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "study-design": "http://hl7.org/fhir/study-design",
    "sevco": "https://fevir.net/resources/CodeSystem/181513",
    "certainty-type": "http://hl7.org/fhir/certainty-type",
    "certainty-rating": "http://hl7.org/fhir/certainty-rating",
}

_IG_ROB = "IG-R5 example StructureDefinition-risk-of-bias-assessment-of-critically-appr-example.json; REF §2"
_RXNORM = "CDS REF §7.2: ingredient RxCUI cross-checked only against public code files, not RxNav"
_R5 = "hl7.fhir.r5.core 5.0.0 CodeSystem-{}.json; REF §2"

_ROWS: list[tuple[str, str, str, Status, str]] = [
    # prefix, code, display, status, source
    ("sct", "396230008", "Dermatomyositis", "corroborated",
     "REF §4: several public code files map 396230008 to Dermatomyositis; not checked against a SNOMED CT release"),
    ("mesh", "D003882", "Dermatomyositis", "verified", "REF §4: NLM MeSH D003882"),
    ("mesh", "D016756", "Immunoglobulins, Intravenous", "unverified", "REF §4: no source found"),
    ("ncit", "C2701", "Therapeutic Immune Globulin", "verified",
     "REF §4: ncit.nci.nih.gov ConceptReport C2701; system URI from THO CodeSystem v3-nciThesaurus"),
    ("atc", "J06BA02", "Immunoglobulins, normal human, for intravascular adm.", "corroborated",
     "REF §4: several public drug tables; not checked against WHOCC"),
    # REF §4 saw these on diseasedb.com pages, not in an ICD-10-CM release: corroborated.
    # M33.11 and M33.19 are UNVERIFIED there and have no title in the reference: left out.
    ("icd10cm", "M33.1", "Other dermatomyositis", "corroborated", "REF §4: diseasedb.com/icd10 pages"),
    ("icd10cm", "M33.10", "Other dermatomyositis, organ involvement unspecified", "corroborated",
     "REF §4: diseasedb.com/icd10 pages"),
    ("icd10cm", "M33.12", "Other dermatomyositis with myopathy", "corroborated", "REF §4: diseasedb.com/icd10 pages"),
    ("icd10cm", "M33.13", "Other dermatomyositis without myopathy", "corroborated",
     "REF §4: seen indirectly (mirahealth.care M33.03 page)"),
    ("icd10cm", "M33.9", "Dermatopolymyositis, unspecified", "corroborated", "REF §4: diseasedb.com/icd10 pages"),
    # CDS REF §7.2 names M33.0x as juvenile DM (excluded) but gives no title for M33.0.
    ("icd10cm", "M33.0", "Juvenile dermatomyositis", "unverified",
     "CDS REF §7.2: 'Exclude juvenile M33.0x'; the code title is not in the reference"),
    # CDS REF §7.2: "RxCUIs were cross-checked only against public code files; verify them with RxNav."
    ("rxnorm", "6851", "methotrexate", "corroborated", _RXNORM),
    ("rxnorm", "68149", "mycophenolate mofetil", "corroborated", _RXNORM),
    ("rxnorm", "5521", "hydroxychloroquine", "corroborated", _RXNORM),
    ("rxnorm", "1256", "azathioprine", "corroborated", _RXNORM),
    ("study-design", "SEVCO:01002", "Observational research", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01016", "Uncontrolled cohort design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01039", "Real world data collection from healthcare records", "hl7",
     _R5.format("study-design")),
    ("study-design", "SEVCO:01028", "Longitudinal data collection", "hl7", _R5.format("study-design")),
    # design codes of comparative studies; each also checked (code, display ignoring case) against the
    # IG-R5 SEVCO example code system (tests/test_terminology.py)
    ("study-design", "SEVCO:01001", "Interventional research", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01003", "randomized assignment", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01005", "Non-randomized assignment", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01010", "Comparative study design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01011", "Parallel cohort design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01012", "Crossover cohort design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01024", "Controlled crossover cohort design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01023", "Non-comparative study design", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01029", "Clinical trial", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01035", "Phase 3 Trial", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01043", "Multicentric", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01060", "Blinding of study participants", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01061", "Blinding of intervention providers", "hl7", _R5.format("study-design")),
    ("study-design", "SEVCO:01062", "Blinding of outcome assessors", "hl7", _R5.format("study-design")),
    ("sevco", "SEVCO:00001", "Bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00003", "Participant Selection Bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00016", "Confounding Covariate Bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00020", "Detection Bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00186", "Low risk of bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00189", "Serious risk of bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00190", "Critical risk of bias", "ig-example", _IG_ROB),
    ("sevco", "SEVCO:00192", "Unclear risk of bias", "ig-example", _IG_ROB),
    ("certainty-type", "Overall", "Overall certainty", "hl7", _R5.format("certainty-type")),
    ("certainty-type", "RiskOfBias", "Risk of bias", "hl7", _R5.format("certainty-type")),
    ("certainty-type", "Inconsistency", "Inconsistency", "hl7", _R5.format("certainty-type")),
    ("certainty-type", "Indirectness", "Indirectness", "hl7", _R5.format("certainty-type")),
    ("certainty-type", "Imprecision", "Imprecision", "hl7", _R5.format("certainty-type")),
    ("certainty-type", "PublicationBias", "Publication bias", "hl7", _R5.format("certainty-type")),
    ("certainty-rating", "high", "High quality", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "moderate", "Moderate quality", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "low", "Low quality", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "very-low", "Very low quality", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "no-concern", "no serious concern", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "serious-concern", "serious concern", "hl7", _R5.format("certainty-rating")),
    ("certainty-rating", "very-serious-concern", "very serious concern", "hl7", _R5.format("certainty-rating")),
]

#: GRADE's symbols and words for the certainty-rating codes (GRADE Handbook §5; summary-of-findings tables)
GRADE = {"high": "⊕⊕⊕⊕ High", "moderate": "⊕⊕⊕◯ Moderate", "low": "⊕⊕◯◯ Low", "very-low": "⊕◯◯◯ Very low"}

CONCEPTS: dict[str, Concept] = {
    f"{prefix}:{code}": Concept(f"{prefix}:{code}", SYSTEMS[prefix], code, display, status, source)
    for prefix, code, display, status, source in _ROWS
}


#: What each design kind of the definitions format means in SEVCO terms (study-design codes):
#: every code of ``requires`` must be among a study's codes (one of each inner tuple), and none
#: of ``forbids``. Source: the SEVCO hierarchy of hl7.fhir.r5.core 5.0.0 CodeSystem-study-design
#: (01003 randomized assignment and 01005 non-randomized assignment are children of 01001
#: interventional research; 01011 parallel and 01012 crossover cohort design of 01010 comparative
#: study design; 01016 uncontrolled cohort design of 01023 non-comparative study design).
_COMPARATIVE = ("SEVCO:01010", "SEVCO:01011", "SEVCO:01012", "SEVCO:01024", "SEVCO:01013", "SEVCO:01014",
                "SEVCO:01015")
DESIGN_KINDS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "single-group": {"requires": (("SEVCO:01023", "SEVCO:01016", "SEVCO:01017"),),
                     "forbids": (_COMPARATIVE + ("SEVCO:01003",),)},
    "parallel-randomized": {"requires": (("SEVCO:01003",), ("SEVCO:01011",)),
                            "forbids": (("SEVCO:01005", "SEVCO:01012", "SEVCO:01023", "SEVCO:01016"),)},
    "crossover-randomized": {"requires": (("SEVCO:01003",), ("SEVCO:01012", "SEVCO:01024")),
                             "forbids": (("SEVCO:01005", "SEVCO:01011", "SEVCO:01023", "SEVCO:01016"),)},
    "non-randomized-comparative": {"requires": (_COMPARATIVE,),
                                   "forbids": (("SEVCO:01003", "SEVCO:01023", "SEVCO:01016"),)},
}

#: UCUM codes of the units a timepoint may use (hl7.fhir.r5.core 5.0.0 ValueSet-units-of-time).
DURATION_UNITS = {"days": "d", "weeks": "wk", "months": "mo", "years": "a"}


def duration_unit(unit: str) -> str:
    """The UCUM code for a duration unit of the definitions format ('weeks' -> 'wk')."""
    return DURATION_UNITS[unit]


def concept(key: str) -> Concept | None:
    """The concept for a key such as ``sct:396230008``, or None if unknown."""
    return CONCEPTS.get(key)


def codeable(key: str) -> dict[str, object]:
    """A CodeableConcept for a key (text only for a key `check` has already reported as unknown)."""
    found = concept(key)
    return {"coding": [found.coding()]} if found else {"text": key}
