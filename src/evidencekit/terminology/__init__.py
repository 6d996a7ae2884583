"""The codes evidencekit may emit, as data with their sources and status.

Definitions refer to concepts by key (``sct:396230008``). A key that is not
here is an error (EK301: no invented codes); a concept whose status is
``corroborated`` or ``unverified`` is reported as a warning by ``check`` (EK302).

Status: ``hl7`` — in an HL7 code system of ``hl7.fhir.r5.core`` 5.0.0 (code and display
checked against the package; ``tests/test_terminology.py`` re-checks the codes);
``ig-example`` — used verbatim in the EBM IG R5 examples (SEVCO example code system,
not published as a package); ``verified`` — checked against the code system's release
(ICD-10-CM against the CMS tabular shipped in ``simple-icd-10-cm``, re-checked by the tests);
``corroborated`` / ``unverified`` — seen only in secondary sources, or not checked.
Every source is something a reader can follow: a release, a package and file, or a URL.

A project adds its own concepts, code systems and reviews in a ``kind: terminology`` file
among its definitions (:class:`Terminology`); :func:`using` makes them visible to
:func:`concept` while one build checks and compiles.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator, Literal

__all__ = ["CONCEPTS", "Concept", "DESIGN_KINDS", "GRADE", "SYSTEMS", "Terminology", "UCUM", "UNITS", "Unit", "codeable",
           "concept", "icd10cm_title", "quantity_unit", "terminology", "using"]

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

_IG_ROB = ("EBM IG R5 example StructureDefinition-risk-of-bias-assessment-of-critically-appr-example.json "
           "(HL7 EBM IG, R5 FSH input/examples)")
_RXNORM = ("ingredient RxCUI seen in public code files, not checked on RxNav: "
           "https://mor.nlm.nih.gov/RxNav/search?searchBy=RXCUI&searchTerm={}")
_R5 = "hl7.fhir.r5.core 5.0.0 package, CodeSystem-{}.json"
#: the CMS release the ICD-10-CM rows are checked against (tests/test_terminology.py; `check` for project codes)
ICD10CM_RELEASE = ("CMS ICD-10-CM tabular, April 1, 2026 (icd10c-tabular-April-1-2026.xml, as shipped in the "
                   "PyPI package simple-icd-10-cm 1.5.0)")

_ROWS: list[tuple[str, str, str, Status, str]] = [
    # prefix, code, display, status, source
    ("sct", "396230008", "Dermatomyositis", "corroborated",
     "several public ICD-10 M33 to SNOMED CT code maps give 396230008 Dermatomyositis; not checked in a SNOMED CT "
     "release: https://browser.ihtsdotools.org/?perspective=full&conceptId1=396230008"),
    ("mesh", "D003882", "Dermatomyositis", "verified", "NLM MeSH D003882: https://meshb.nlm.nih.gov/record/ui?ui=D003882"),
    ("mesh", "D016756", "Immunoglobulins, Intravenous", "unverified",
     "not found in a source the project checked: https://meshb.nlm.nih.gov/record/ui?ui=D016756"),
    ("ncit", "C2701", "Therapeutic Immune Globulin", "verified",
     "NCI Thesaurus C2701: https://ncit.nci.nih.gov/ncitbrowser/ConceptReport.jsp?dictionary=NCI_Thesaurus"
     "&code=C2701; system URI from THO CodeSystem v3-nciThesaurus"),
    ("atc", "J06BA02", "Immunoglobulins, normal human, for intravascular adm.", "corroborated",
     "several national drug tables (German, Spanish, French); not checked in the WHOCC index: "
     "https://atcddd.fhi.no/atc_ddd_index/?code=J06BA02"),
    ("icd10cm", "M33.0", "Juvenile dermatomyositis", "verified", ICD10CM_RELEASE),
    ("icd10cm", "M33.1", "Other dermatomyositis", "verified", ICD10CM_RELEASE),
    ("icd10cm", "M33.10", "Other dermatomyositis, organ involvement unspecified", "verified", ICD10CM_RELEASE),
    ("icd10cm", "M33.12", "Other dermatomyositis with myopathy", "verified", ICD10CM_RELEASE),
    ("icd10cm", "M33.13", "Other dermatomyositis without myopathy", "verified", ICD10CM_RELEASE),
    ("icd10cm", "M33.9", "Dermatopolymyositis, unspecified", "verified", ICD10CM_RELEASE),
    ("rxnorm", "6851", "methotrexate", "corroborated", _RXNORM.format("6851")),
    ("rxnorm", "68149", "mycophenolate mofetil", "corroborated", _RXNORM.format("68149")),
    ("rxnorm", "5521", "hydroxychloroquine", "corroborated", _RXNORM.format("5521")),
    ("rxnorm", "1256", "azathioprine", "corroborated", _RXNORM.format("1256")),
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

UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Unit:
    """A unit as definitions write it ('days') and its UCUM code ('d'), with where the code was read."""

    text: str
    code: str
    source: str


_UNITS_OF_TIME = "hl7.fhir.r5.core 5.0.0 package, ValueSet-units-of-time.json (UCUM codes)"
#: the units every project knows: the units of time of FHIR's units-of-time value set, and percent
UNITS: dict[str, Unit] = {
    **{text: Unit(text, code, _UNITS_OF_TIME) for text, code in (
        ("seconds", "s"), ("minutes", "min"), ("hours", "h"), ("days", "d"), ("weeks", "wk"), ("months", "mo"),
        ("years", "a"))},
    "%": Unit("%", "%", "UCUM 2.1, dimensionless units, 'percent': https://ucum.org/ucum"),
}


@dataclass
class Terminology:
    """The built-in concepts plus a project's own (from its ``kind: terminology`` files)."""

    concepts: dict[str, Concept] = field(default_factory=lambda: dict(CONCEPTS))
    systems: dict[str, str] = field(default_factory=lambda: dict(SYSTEMS))
    #: keys the project has reviewed: `check` no longer reports their uses
    reviewed: set[str] = field(default_factory=set)
    #: unit text -> its UCUM code (the built-in units plus the project's ``units:``)
    units: dict[str, Unit] = field(default_factory=lambda: dict(UNITS))

    def get(self, key: str) -> Concept | None:
        return self.concepts.get(key)

    def unchecked(self, key: str) -> Concept | None:
        """The concept if it is only corroborated or unverified and the project has not reviewed it."""
        found = self.concepts.get(key)
        return found if found is not None and found.status in ("corroborated", "unverified") \
            and key not in self.reviewed else None


_BUILT_IN = Terminology()
_active: ContextVar[Terminology] = ContextVar("evidencekit_terminology", default=_BUILT_IN)


def terminology() -> Terminology:
    """The terminology of the build in progress (the built-in library outside one)."""
    return _active.get()


@contextlib.contextmanager
def using(active: Terminology) -> Iterator[Terminology]:
    """Make a project's terminology the one :func:`concept` reads, for the duration of a build."""
    token = _active.set(active)
    try:
        yield active
    finally:
        _active.reset(token)


def concept(key: str) -> Concept | None:
    """The concept for a key such as ``sct:396230008``, or None if unknown."""
    return _active.get().get(key)


def quantity_unit(text: str) -> dict[str, str]:
    """A Quantity's unit elements: the authored text, and the UCUM system and code when the build's
    terminology knows the unit (otherwise text only; `check` reports it as EK305)."""
    found = _active.get().units.get(text)
    return {"unit": text} if found is None else {"unit": text, "system": UCUM, "code": found.code}


def icd10cm_title(code: str) -> str | None:
    """The title of an ICD-10-CM code in the CMS release (``ICD10CM_RELEASE``), or None if it has none."""
    import simple_icd_10_cm as cms

    return cms.get_description(code) if cms.is_valid_item(code) else None


def codeable(key: str) -> dict[str, object]:
    """A CodeableConcept for a key (text only for a key `check` has already reported as unknown)."""
    found = concept(key)
    return {"coding": [found.coding()]} if found else {"text": key}
