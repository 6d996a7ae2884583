"""The authoring model: what a study definition (YAML) may say.

This is the *source* model (SUSHI's ``fshtypes``); FHIR resources are built
from it in :mod:`evidencekit.compile` and never from raw YAML. Every field
documented here appears in the JSON Schema (``evidencekit schema``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema,
                      model_validator)

__all__ = [
    "Assessment", "Citation", "Recommendation", "Study", "Result", "Variable", "decimal_of",
]

_ID = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
_DOI = re.compile(r"^10\.\d{4,9}/[^\s]+$")
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_DECIMAL = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")


def _decimal_text(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError("expected a number, got true/false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        return value.strip()
    raise ValueError("expected a decimal number such as 83 or 0.80 (no exponent, no units)")


def _valid_date(value: str) -> str:
    if not _DATE.match(value):
        raise ValueError("expected a date as YYYY, YYYY-MM or YYYY-MM-DD")
    if len(value) == 10:
        import datetime

        datetime.date.fromisoformat(value)  # rejects 2018-02-30
    return value


def _valid_doi(value: str) -> str:
    if not _DOI.match(value):
        raise ValueError("expected a DOI like 10.1111/ced.13607 (no https://doi.org/ prefix)")
    return value


def decimal_of(text: str) -> Decimal:
    """The exact value of an authored decimal text."""
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - guarded by DecimalText
        raise ValueError(text) from exc


#: A number kept as authored text, so "0.80" keeps two decimals end to end.
DecimalText = Annotated[str, BeforeValidator(_decimal_text), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _DECIMAL.pattern}],
     "description": "a decimal number; its written precision is kept"})]
DateText = Annotated[str, AfterValidator(_valid_date), WithJsonSchema(
    {"type": "string", "pattern": _DATE.pattern, "description": "YYYY, YYYY-MM or YYYY-MM-DD"})]
Id = Annotated[str, Field(pattern=_ID, description="lower-case letters, digits and '-', max 40")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)


class Provenance(Model):
    """Where in a source a fact comes from."""

    source: Id = Field(description="id of an entry in `sources`")
    locator: Text | None = Field(None, description="where in the source, e.g. 'paragraph 3'")
    quote: Text = Field(description="the exact words of the source that state the fact")


class Source(Model):
    """A document that facts are taken from."""

    id: Id
    title: Text
    path: Text | None = Field(None, description="local copy, relative to this file; quotes are checked against it")
    url: Text | None = None


class Count(Model):
    """An integer fact with its provenance."""

    value: StrictInt = Field(ge=0)
    provenance: list[Provenance] = Field(min_length=1)


class Author(Model):
    family: Text
    initials: Annotated[str, Field(pattern=r"^[A-Z]{1,4}$")]


class Issn(Model):
    value: Annotated[str, Field(pattern=r"^\d{4}-\d{3}[\dX]$")]
    medium: Literal["electronic", "print"]


class Journal(Model):
    title: Text
    abbreviation: Text
    issn: list[Issn] = Field(default_factory=list)


class Citation(Model):
    """Bibliographic data of the publication that reports the study."""

    title: Text
    authors: list[Author] = Field(min_length=1)
    journal: Journal
    volume: Text
    issue: Text
    pages: Annotated[str, Field(pattern=r"^[A-Za-z]?\d+(-[A-Za-z]?\d+)?$")]
    epub_date: DateText | None = None
    issue_date: DateText
    doi: Annotated[str, AfterValidator(_valid_doi)]
    pmid: Annotated[str, Field(pattern=r"^[1-9]\d{0,9}$")]
    language: Literal["en"] = "en"
    provenance: list[Provenance] = Field(min_length=1)


class Design(Model):
    """How the study was done."""

    summary: Text
    codes: list[str] = Field(min_length=1, description="terminology keys, e.g. sevco:SEVCO:01016")
    setting: Text | None = Field(None, description="omit when the source does not say")
    provenance: list[Provenance] = Field(min_length=1)


class Criterion(Model):
    """One eligibility criterion."""

    description: Text
    concept: str | None = Field(None, description="terminology key")
    comparator: Literal[">=", ">", "<=", "<"] | None = None
    value: DecimalText | None = None
    unit: Text | None = None
    exclude: bool = False
    provenance: list[Provenance] = Field(min_length=1)


class Eligibility(Model):
    id: Id
    title: Text
    description: Text
    criteria: list[Criterion] = Field(min_length=1)


class Subgroup(Model):
    id: Id
    title: Text
    description: Text
    n: Count
    union_of: list[Id] = Field(default_factory=list, description="subgroups this one combines")


class Partition(Model):
    """Subgroups that together make up the whole population, without overlap."""

    id: Id
    title: Text
    subgroups: list[Id] = Field(min_length=2)


class Population(Model):
    id: Id
    title: Text
    description: Text
    n: Count
    eligibility: Eligibility
    subgroups: list[Subgroup] = Field(default_factory=list)
    partitions: list[Partition] = Field(default_factory=list)


class Exposure(Model):
    id: Id
    title: Text
    description: Text
    concepts: list[str] = Field(default_factory=list, description="terminology keys")


class Range(Model):
    """Bounds of possible values of a variable (used by the SD check)."""

    low: DecimalText | None = None
    high: DecimalText | None = None


class Variable(Model):
    """A measured characteristic (outcome or baseline measure)."""

    id: Id
    role: Literal["outcome", "baseline"]
    title: Text
    description: Text
    handling: Literal["continuous", "dichotomous", "ordinal", "polychotomous"]
    unit: Text | None = None
    integer_valued: bool = Field(False, description="values are whole numbers (enables GRIM for means)")
    range: Range | None = None


class Derivation(Model):
    """How the definition author derived a value the source does not state directly."""

    method: Text


class Denominator(Model):
    """Who a statistic is about: a count, the whole population, or unknown."""

    kind: Literal["count", "population", "unknown"]
    value: StrictInt | None = Field(None, ge=1)
    note: Text | None = None
    provenance: list[Provenance] = Field(default_factory=list)


class Result(Model):
    """One reported result."""

    id: Id
    variable: Id
    population: Id = Field(description="the population id or a subgroup id")
    statistic: Literal["proportion", "mean", "finding"]
    value: DecimalText | None = Field(None, description="as reported, e.g. 83 for 83%")
    scale: Literal["percent", "fraction"] | None = None
    unit: Text | None = None
    sd: DecimalText | None = None
    ci_low: DecimalText | None = None
    ci_high: DecimalText | None = None
    ci_level: DecimalText | None = None
    events: StrictInt | None = Field(None, ge=0, description="count reported by the source")
    denominator: Denominator
    text: Text = Field(description="the result in words")
    derived: Derivation | None = None
    provenance: list[Provenance] = Field(min_length=1)


class Limitation(Model):
    id: Id
    text: Text
    provenance: list[Provenance] = Field(min_length=1)


class Judgement(Model):
    """One rated domain with its reasons."""

    type: str = Field(description="terminology key of the domain")
    rating: str = Field(description="terminology key of the rating")
    reason: Text
    limitations: list[Id] = Field(default_factory=list)


class Rating(Model):
    """An overall rating (risk of bias or certainty) with its rated domains."""

    rating: str = Field(description="terminology key of the overall rating")
    summary: Text
    domains: list[Judgement] = Field(min_length=1)


class Assessment(Model):
    """The definition author's appraisal (not a claim of the source)."""

    assessor: Text
    date: DateText
    risk_of_bias: Rating
    certainty: Rating


class Conclusion(Model):
    text: Text
    provenance: list[Provenance] = Field(min_length=1)


class CodeMatch(Model):
    """A code a patient's record is matched against."""

    concept: str = Field(description="terminology key, e.g. icd10cm:M33.1")
    descendants: bool = Field(False, description="also match codes below it (ICD-10-CM: by code prefix; "
                                                 "SNOMED CT: needs a terminology server, else the code itself)")


class Agent(Model):
    """One systemic agent of the medication history; all its codes count as the same agent."""

    id: Id
    display: Text
    concepts: list[str] = Field(min_length=1, description="terminology keys (e.g. RxNorm ingredients)")


class Threshold(Model):
    """A number in the decision rule: from the source (provenance) or a stated business rule (basis)."""

    value: StrictInt = Field(ge=0)
    provenance: list[Provenance] = Field(default_factory=list)
    basis: Text | None = Field(None, description="why, when the number is a rule and not a fact of the source")

    @model_validator(mode="after")
    def _sourced(self) -> "Threshold":
        if not self.provenance and self.basis is None:
            raise ValueError("say where the number comes from: give provenance (source) or basis (rule)")
        return self


class Qualifies(Model):
    """Who the recommendation is for, as data the CDS service evaluates."""

    min_age_years: Threshold
    conditions: list[CodeMatch] = Field(min_length=1, description="an active Condition with one of these")
    excluded_conditions: list[CodeMatch] = Field(default_factory=list,
                                                 description="an active Condition with one of these excludes")
    systemic_agents: list[Agent] = Field(min_length=1)
    min_distinct_agents: Threshold
    not_already_on: list[str] = Field(min_length=1, description="terminology keys of the suggested therapy: "
                                                                "a record of it suppresses the card")


class OverrideReason(Model):
    code: Id
    display: Text


class Card(Model):
    """What the clinician sees (CDS Hooks card)."""

    summary: Annotated[str, Field(min_length=1, max_length=139, description="one sentence, under 140 characters")]
    indicator: Literal["info", "warning", "critical"] = "info"
    safety: Text = Field(description="the safety note shown in every card")
    safety_basis: Text = Field(description="where the safety note comes from")
    source_label: Text
    source_url: Annotated[str, Field(pattern=r"^https://[^\s]+$")] | None = None
    override_reasons: list[OverrideReason] = Field(min_length=1)


class Recommendation(Model):
    """A recommendation derived from the evidence, for decision support."""

    id: Id
    title: Text
    action: Text = Field(description="the suggested action, in words")
    direction: Literal["for", "against"]
    strength: Literal["strong", "conditional"]
    rationale: Text
    justification: list[Id] = Field(min_length=1, description="result ids whose Evidence justifies it")
    hooks: list[Literal["patient-view", "order-select", "order-sign"]] = Field(
        default_factory=lambda: ["patient-view", "order-select", "order-sign"], min_length=1)
    qualifies: Qualifies
    card: Card


class Study(Model):
    """A study definition: one file in ``definitions/``."""

    schema_: str | None = Field(None, alias="$schema")
    id: Id
    title: Text
    date: DateText = Field(description="date of this definition; used as the resources' date")
    status: Literal["draft", "active", "retired"] = "active"
    sources: list[Source] = Field(min_length=1)
    citation: Citation
    design: Design
    population: Population
    exposure: Exposure
    variables: list[Variable] = Field(min_length=1)
    results: list[Result] = Field(min_length=1)
    limitations: list[Limitation] = Field(default_factory=list)
    conclusion: Conclusion | None = None
    assessment: Assessment | None = None
    recommendation: Recommendation | None = None

    def denominator_of(self, result: Result) -> int | None:
        """The N a result is about, or None when the source does not give it."""
        den = result.denominator
        if den.kind == "count":
            return den.value
        if den.kind == "population":
            return self.population_ids().get(result.population)
        return None

    def population_ids(self) -> dict[str, int | None]:
        """Population and subgroup ids with their N."""
        sizes: dict[str, int | None] = {self.population.id: self.population.n.value}
        for sub in self.population.subgroups:
            sizes[sub.id] = sub.n.value
        return sizes
