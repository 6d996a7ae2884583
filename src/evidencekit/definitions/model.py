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
    "AnalysisSet", "Arm", "Article", "Assessment", "COMPARATIVE_STATISTICS", "Citation", "GROUP_STATISTICS", "NOT_ESTIMABLE",
    "PRIMARY_REPORT", "RATIO_STATISTICS", "Recommendation", "RegistryRecord", "Report", "Result", "Study", "Timepoint",
    "Variable", "WebPage", "decimal_of", "p_value_parts",
]

_ID = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
_DOI = re.compile(r"^10\.\d{4,9}/[^\s]+$")
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
#: at most 12 digits before the point and 10 after: no reported number needs more, and Decimal
#: arithmetic (28 significant digits) stays exact for every check
_DECIMAL = re.compile(r"^-?(0|[1-9]\d{0,11})(\.\d{1,10})?$")


def _decimal_text(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError("expected a number, got true/false")
    if isinstance(value, int) and abs(value) < 10**12:
        return str(value)
    if isinstance(value, str) and len(value) <= 40 and _DECIMAL.match(value.strip()):
        return value.strip()
    raise ValueError("expected a decimal number such as 83 or 0.80 (no exponent, no units; at most 12 digits "
                     "before the point and 10 after)")


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


def _exactly_one(model: BaseModel, kinds: tuple[str, ...]) -> None:
    """A model that is one of several kinds, each a field: exactly one of them is given."""
    given = [k for k in kinds if getattr(model, k) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(kinds)} (got {', '.join(given) or 'none'})")


class Provenance(Model):
    """Where in a source a fact comes from."""

    source: Id = Field(description="id of an entry in `sources`")
    locator: Text | None = Field(None, description="where in the source, e.g. 'paragraph 3'")
    quote: Text = Field(description="the exact words of the source that state the fact")
    report: Id | None = Field(None, description="the study's publication the fact was read in: the `citation`'s id "
                                                "or a `reports` id (default: the citation); a study's facts only")


class Source(Model):
    """A document that facts are taken from."""

    id: Id
    title: Text
    path: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = Field(
        None, description="local copy, relative to this file; quotes are checked against it (no control characters)")
    url: Text | None = None


class Derivation(Model):
    """How the definition author derived a value the source does not state directly."""

    method: Text


class Count(Model):
    """An integer fact with its provenance (a size or count the author derived says how: `derived`)."""

    value: StrictInt = Field(ge=0, le=10**9)
    provenance: list[Provenance] = Field(min_length=1, description="the quotes it is read or derived from")
    derived: Derivation | None = Field(None, description="how the author derived it when the source does not "
                                                          "state it (e.g. 95 exposed minus 47 randomized to IVIG); "
                                                          "then its quotes need not contain it")


#: the largest group a definition may describe: beyond any trial or registry a source reports, and small
#: enough that every check over 1..N stays bounded
MAX_GROUP_SIZE = 10_000_000


class Size(Count):
    """The number of participants in a group: at least 1, at most MAX_GROUP_SIZE."""

    value: StrictInt = Field(ge=1, le=MAX_GROUP_SIZE)


class Author(Model):
    family: Text
    initials: Annotated[str, Field(pattern=r"^[A-Z]{1,4}$")]


class Issn(Model):
    value: Annotated[str, Field(pattern=r"^\d{4}-\d{3}[\dX]$")]
    medium: Literal["electronic", "print"]


class Journal(Model):
    title: Text | None = Field(None, description="the journal's full title, when a source gives it")
    abbreviation: Text | None = Field(None, description="the journal's ISO abbreviation, when a source gives it")
    issn: list[Issn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named(self) -> "Journal":
        if self.title is None and self.abbreviation is None:
            raise ValueError("name the journal: give `title`, `abbreviation` or both")
        return self

    @property
    def name(self) -> str:
        """The journal as a citation names it: the abbreviation, else the title."""
        return self.abbreviation or self.title or ""


#: the report id of a study's `citation` when it names none
PRIMARY_REPORT = "primary"


class Article(Model):
    """Bibliographic data of a journal article that reports the study (omit what the sources do not give)."""

    id: Id | None = Field(None, description="names this publication in provenance `report:` (the study's "
                                            f"`citation` defaults to '{PRIMARY_REPORT}')")
    title: Text | None = Field(None, description="the article's title, when a source gives it")
    authors: list[Author] = Field(min_length=1)
    authors_complete: bool = Field(True, description="false when only some authors are listed (e.g. the first "
                                                     "author, when the full byline is not verified)")
    journal: Journal
    volume: Text | None = None
    issue: Text | None = None
    pages: Annotated[str, Field(pattern=r"^[A-Za-z]?\d+(-[A-Za-z]?\d+)?$")] | None = None
    epub_date: DateText | None = None
    issue_date: DateText
    doi: Annotated[str, AfterValidator(_valid_doi)] | None = None
    pmid: Annotated[str, Field(pattern=r"^[1-9]\d{0,9}$")] | None = Field(
        None, description="PubMed id, when the publication has one (most journal articles do)")
    language: Literal["en"] | None = Field(None, description="the language of the text, only when a source states it")
    mesh: list[Annotated[str, Field(pattern=r"^mesh:[A-Z]\d{6,9}$")]] = Field(
        default_factory=list, description="MeSH descriptors (terminology keys, e.g. mesh:D003882) the knowledge "
                                          "base files this citation under; only verified ones are emitted")
    provenance: list[Provenance] = Field(min_length=1)


class Citation(Article):
    """The study's main publication: a journal article whose title a source gives."""

    title: Text = Field(description="the article's title")


_HTTPS = r"^https://[^\s]+$"


class RegistryRecord(Model):
    """A trial registry's record of the study, read as a report (e.g. its posted results)."""

    registry: Text = Field(description="the registry, e.g. ClinicalTrials.gov")
    identifier: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")] = Field(
        description="the record's accession in the registry, e.g. NCT02728752")
    system: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = Field(
        None, description="the registry's identifier system URI, when one is established (e.g. https://clinicaltrials.gov)")
    title: Text = Field(description="what the record is, e.g. 'ClinicalTrials.gov results record NCT02728752'")
    url: Annotated[str, Field(pattern=_HTTPS)] | None = None
    provenance: list[Provenance] = Field(min_length=1)


class WebPage(Model):
    """A web page that reports the study's results: a guideline or regulatory summary, a sponsor's page."""

    title: Text
    site: Text = Field(description="the website or the work it belongs to, e.g. 'EBM Guidelines (Duodecim)'")
    url: Annotated[str, Field(pattern=_HTTPS)] | None = Field(None, description="its address, when a source gives "
                                                                               "it whole")
    address: Text | None = Field(None, description="its address as a source gives it when not whole (e.g. "
                                                   "shortened with '…'); shown as text, never as a link")
    provenance: list[Provenance] = Field(min_length=1)

    @model_validator(mode="after")
    def _located(self) -> "WebPage":
        if self.url is None and self.address is None:
            raise ValueError("say where the page is: give `url`, or `address` as the source gives it")
        return self


REPORT_KINDS = ("article", "registry_record", "web_page")


class Report(Model):
    """A further publication of the study besides its `citation`, each compiled to its own Citation:
    give exactly one of `article`, `registry_record`, `web_page`."""

    id: Id = Field(description="names the report in provenance `report:`")
    description: Text | None = Field(None, description="what it is to the study, e.g. 'the safety paper'")
    article: Article | None = Field(None, description="a journal article (as `citation`; its title only when a "
                                                      "source gives it)")
    registry_record: RegistryRecord | None = None
    web_page: WebPage | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Report":
        _exactly_one(self, REPORT_KINDS)
        if self.article is not None and self.article.id not in (None, self.id):
            raise ValueError("the article's `id` is the report's: leave it out")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in REPORT_KINDS if getattr(self, k) is not None)

    @property
    def title(self) -> str:
        """What the report is called: its title, else (an article whose title no source gives) its
        description or authors, journal and year."""
        if self.registry_record is not None:
            return self.registry_record.title
        if self.web_page is not None:
            return self.web_page.title
        assert self.article is not None
        if self.article.title is not None:
            return self.article.title
        first = self.article.authors[0]
        return self.description or (f"{first.family} {first.initials}{'' if len(self.article.authors) == 1 else ' et al'}, "
                                    f"{self.article.journal.name} {self.article.issue_date[:4]}")


DesignKind = Literal["single-group", "parallel-randomized", "crossover-randomized", "non-randomized-comparative"]


class Registration(Model):
    """A trial registry entry (ClinicalTrials.gov, EudraCT, ...)."""

    registry: Text = Field(description="the registry's name, e.g. ClinicalTrials.gov")
    system: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = Field(
        None, description="the registry's identifier system URI, when one is established (e.g. https://clinicaltrials.gov)")
    value: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
    provenance: list[Provenance] = Field(min_length=1)


class Design(Model):
    """How the study was done."""

    kind: DesignKind = Field("single-group", description="single-group (cohort, case series) or a comparative design "
                                                         "with `arms`; the codes must agree with it (EK213)")
    summary: Text
    codes: list[str] = Field(min_length=1, description="terminology keys, e.g. study-design:SEVCO:01016")
    setting: Text | None = Field(None, description="omit when the source does not say")
    registrations: list[Registration] = Field(default_factory=list)
    provenance: list[Provenance] = Field(min_length=1)

    @property
    def comparative(self) -> bool:
        return self.kind != "single-group"


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
    defined_by: Text = Field("Subgroup", description="what the subgroup is defined by, e.g. 'Disease presentation'")
    n: Size
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
    n: Size
    eligibility: Eligibility
    subgroups: list[Subgroup] = Field(default_factory=list)
    partitions: list[Partition] = Field(default_factory=list)


class Exposure(Model):
    id: Id
    title: Text
    description: Text
    concepts: list[str] = Field(default_factory=list, description="terminology keys")


class Arm(Model):
    """One arm (treatment group) of a comparative study."""

    id: Id
    role: Literal["intervention", "comparator"]
    title: Text
    description: Text
    concepts: list[str] = Field(default_factory=list, description="terminology keys of what was given")
    n: Size = Field(description="participants assigned to the arm (randomized, for a randomized design)")


class Inclusion(Model):
    """Members of an analysis set that come from another arm (e.g. switchers)."""

    arm: Id
    n: Size | None = Field(None, description="how many, when a source gives it (or the author derives it from "
                                             "what the sources give); left out, it stays unknown")
    reason: Text = Field(description="why they are in this set, e.g. 'switched to IVIG after deterioration'")


class AnalysisSet(Model):
    """A set of participants a result is analysed in, with its own N (per-protocol, safety set, ...)."""

    id: Id
    arm: Id = Field(description="the arm this set is analysed as")
    title: Text
    description: Text = Field(description="what the set is, e.g. 'analysed for CDASI at week 16'")
    n: Size
    includes: list[Inclusion] = Field(default_factory=list, description="members from other arms (a set that "
                                                                        "crosses arms); required when N exceeds the arm's")
    received: Id | None = Field(None, description="the arm whose treatment the set received, when not its own arm's "
                                                  "(e.g. placebo-first patients on IVIG in an open-label extension, "
                                                  "still analysed by their original randomization)")


class Duration(Model):
    """A length of time from the start of the study (randomization or first treatment)."""

    value: DecimalText
    unit: Literal["days", "weeks", "months", "years"]
    derived: Derivation | None = Field(None, description="how the author worked it out when the source does not "
                                                          "state it (e.g. three months plus three more)")


class Period(Model):
    """A phase of the study (double-blind period, open-label extension, ...)."""

    id: Id
    title: Text
    description: Text
    start: Duration | None = None
    end: Duration | None = None
    codes: list[str] = Field(default_factory=list, description="the study design codes that hold in this period "
                             "when they differ from the study's (e.g. an open-label extension: no randomized "
                             "assignment, no blinding); its results' Evidence carry these")
    provenance: list[Provenance] = Field(min_length=1)


def _weeks(duration: Duration) -> Decimal:
    """A duration in weeks (months and years as 30.4375 and 365.25 days: only to compare periods)."""
    days = {"days": Decimal(1), "weeks": Decimal(7), "months": Decimal("30.4375"), "years": Decimal("365.25")}
    return Decimal(duration.value) * days[duration.unit] / 7


def _overlaps(point: "Timepoint", period: Period) -> bool:
    """Whether a timepoint (a time, or a window) falls in a period, by their durations; a period
    without bounds is open on that side."""
    low = point.at or point.start
    high = point.at or point.end
    if low is None or high is None:
        return False
    starts, ends = _weeks(low), _weeks(high)
    after = period.start is None or ends > _weeks(period.start) or (point.at is not None and ends == _weeks(period.start))
    before = period.end is None or starts < _weeks(period.end) or (point.at is not None and starts == _weeks(period.end))
    return after and before


class Timepoint(Model):
    """When a result was measured: at a time, or over a window, within a period."""

    id: Id
    title: Text
    at: Duration | None = Field(None, description="a point in time, e.g. {value: 16, unit: weeks}")
    start: Duration | None = Field(None, description="the start of a window (with `end`)")
    end: Duration | None = None
    period: Id | None = Field(None, description="the period it falls in")
    provenance: list[Provenance] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_shape(self) -> "Timepoint":
        if self.at is not None and (self.start is not None or self.end is not None):
            raise ValueError("give either `at` or `start`/`end`, not both")
        if self.at is None and self.end is None:
            raise ValueError("give `at` (a point in time) or `end` (and `start`) for a window")
        return self


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


class Denominator(Model):
    """Who a statistic is about: a count, the whole population, or unknown."""

    kind: Literal["count", "population", "unknown"]
    value: StrictInt | None = Field(None, ge=1, le=MAX_GROUP_SIZE)
    note: Text | None = None
    provenance: list[Provenance] = Field(default_factory=list)


#: Statistics about one group (an arm, analysis set, population or subgroup).
GROUP_STATISTICS = ("proportion", "mean", "median", "count", "finding")
#: Statistics that compare two groups.
COMPARATIVE_STATISTICS = ("risk-difference", "relative-risk", "odds-ratio", "hazard-ratio", "mean-difference",
                          "median-difference")
RATIO_STATISTICS = ("relative-risk", "odds-ratio", "hazard-ratio")
NOT_ESTIMABLE = "not estimable"
_P_VALUE = re.compile(r"^(<|<=|>|>=|=)?\s*(0|1)?(\.\d+)?$")


def _bound_text(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in (NOT_ESTIMABLE, "ne", "not estimated"):
        return NOT_ESTIMABLE
    return _decimal_text(value)


def _p_value_text(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError("expected a p-value such as 0.03, '<0.001' or '=0.0008'")
    text = str(value).strip().replace(" ", "")
    if not _P_VALUE.match(text) or not any(c.isdigit() for c in text):
        raise ValueError("expected a p-value as reported: 0.03, '<0.001', '=0.0008' (quote it when it starts with <)")
    return text


#: A CI bound as reported: a decimal, or `not estimable` (an open interval).
BoundText = Annotated[str, BeforeValidator(_bound_text), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _DECIMAL.pattern},
               {"const": NOT_ESTIMABLE}], "description": "a decimal number, or 'not estimable'"})]
#: A p-value as reported, possibly an inequality.
PValueText = Annotated[str, BeforeValidator(_p_value_text), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _P_VALUE.pattern}],
     "description": "as reported: 0.03, '<0.001', '=0.0008'"})]


def p_value_parts(text: str) -> tuple[str, Decimal]:
    """('<', Decimal('0.001')) for '<0.001'; '=' when no comparator is written."""
    match = re.match(r"^(<=|>=|<|>|=)?(.*)$", text)
    assert match is not None
    return match.group(1) or "=", Decimal(match.group(2))


class Comparison(Model):
    """The two groups (arms or analysis sets) a comparative result compares."""

    intervention: Id
    comparator: Id
    paired: bool = Field(False, description="the groups are the same patients, or share some (a crossover): the "
                                            "result is a within-patient comparison; required for groups that share "
                                            "patients and refused for disjoint ones (EK226)")


class StatisticalModel(Model):
    """How an adjusted estimate was obtained, as reported (e.g. ANCOVA with baseline as covariate)."""

    description: Text
    adjusted: bool = Field(True, description="the estimate is adjusted (not the raw difference of the arms)")


class Result(Model):
    """One reported result: about one group, or comparing two (`comparison`)."""

    id: Id
    variable: Id
    population: Id | None = Field(None, description="the group it is about: population, subgroup, arm or analysis "
                                                    "set id (not with `comparison`)")
    comparison: Comparison | None = Field(None, description="the two groups a between-group result compares")
    timepoint: Id | None = Field(None, description="when it was measured (a `timepoints` id)")
    statistic: Literal["proportion", "mean", "median", "count", "finding", "risk-difference", "relative-risk",
                       "odds-ratio", "hazard-ratio", "mean-difference", "median-difference"]
    value: DecimalText | None = Field(None, description="as reported, e.g. 83 for 83%")
    scale: Literal["percent", "fraction", "percentage-points"] | None = Field(
        None, description="required for proportions (percent or fraction) and risk differences "
                          "(percentage-points or fraction)")
    unit: Text | None = None
    sd: DecimalText | None = None
    se: DecimalText | None = Field(None, description="standard error, when reported")
    ci_low: BoundText | None = None
    ci_high: BoundText | None = None
    ci_level: DecimalText | None = None
    iqr_low: DecimalText | None = None
    iqr_high: DecimalText | None = None
    range_low: DecimalText | None = None
    range_high: DecimalText | None = None
    p_value: PValueText | None = None
    affected: StrictInt | None = Field(None, ge=0, description="patients with the event, as reported "
                                                               "(FHIR numberAffected)")
    event_count: StrictInt | None = Field(None, ge=0, description="number of events, as reported "
                                                                  "(FHIR numberOfEvents); a patient may have several")
    model: StatisticalModel | None = None
    denominator: Denominator | None = Field(None, description="who a group statistic is about (not with `comparison`)")
    text: Text = Field(description="the result in words")
    derived: Derivation | None = None
    provenance: list[Provenance] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> "Result":
        comparative = self.statistic in COMPARATIVE_STATISTICS
        if comparative:
            if self.comparison is None:
                raise ValueError(f"a {self.statistic} compares two groups: give `comparison: "
                                 "{intervention: <arm>, comparator: <arm>}`")
            for name in ("population", "denominator", "affected", "event_count", "sd", "iqr_low", "iqr_high"):
                if getattr(self, name) is not None:
                    raise ValueError(f"`{name}` belongs to a result about one group, not to a {self.statistic}; "
                                     "give it on each group's own result")
        else:
            if self.comparison is not None:
                raise ValueError(f"a {self.statistic} is about one group: give `population`, not `comparison` "
                                 f"(between-group statistics: {', '.join(COMPARATIVE_STATISTICS)})")
            if self.population is None:
                raise ValueError("say which group the result is about: `population: <id>`")
            if self.denominator is None:
                raise ValueError("give `denominator`: {kind: population}, {kind: count, value: N} or "
                                 "{kind: unknown, note: ...}")
        if self.statistic in ("proportion", "mean", "median", "count") and self.value is None and not (
                self.statistic == "proportion" and self.affected is not None):
            raise ValueError(f"a {self.statistic} needs its `value`" + (" (or `affected`, the count of patients "
                             "with the outcome, when only the count is reported)" if self.statistic == "proportion"
                             else ""))
        if self.statistic != "risk-difference" and self.scale == "percentage-points":
            raise ValueError("`scale: percentage-points` is for a risk difference; a proportion is "
                             "`percent` or `fraction`")
        if self.statistic == "risk-difference" and self.scale == "percent":
            raise ValueError("a risk difference is in `percentage-points` (35 for 35 points) or a `fraction` (0.35)")
        return self

    @property
    def comparative(self) -> bool:
        return self.statistic in COMPARATIVE_STATISTICS

    @property
    def in_words(self) -> bool:
        """A finding with nothing to carry but words: no Evidence, a row of the study's report. A
        finding with a p-value (e.g. 'significant improvement (P<0.018)') is Evidence: the p-value,
        kept as printed, is its statistic's only estimate."""
        return self.statistic == "finding" and self.p_value is None

    @property
    def percent(self) -> bool:
        """Whether value and CI are written per hundred (percent or percentage points)."""
        return self.scale in ("percent", "percentage-points")


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


class OutcomeCertainty(Rating):
    """Certainty of the evidence for some of the study's outcome results (GRADE rates each outcome)."""

    results: list[Id] = Field(min_length=1, description="ids of the results this rating is about; each "
                                                        "becomes a certainty-of-evidence assessment of its Evidence")


class Assessment(Model):
    """The definition author's appraisal (not a claim of the source)."""

    assessor: Text
    date: DateText
    risk_of_bias: Rating
    certainty: list[OutcomeCertainty] = Field(default_factory=list,
                                              description="certainty per outcome result (one entry may rate "
                                                          "several results alike)")


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


class LookBack(Model):
    """How far back in the record a criterion looks (from today)."""

    value: StrictInt = Field(ge=1, le=100000)
    unit: Literal["days", "weeks", "months", "years"]


class AgeRange(Model):
    """Age in whole years on the day of the call, inclusive bounds."""

    min: Threshold | None = Field(None, description="at least this many years old")
    max: Threshold | None = Field(None, description="at most this many years old (e.g. 79 for 'under 80')")

    @model_validator(mode="after")
    def _bounded(self) -> "AgeRange":
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min.value > self.max.value:
            raise ValueError("min is above max")
        return self


class ConditionCriterion(Model):
    """An active Condition with one of these codes is present (or, with ``present: false``, none is)."""

    codes: list[CodeMatch] = Field(min_length=1)
    present: bool = True


class MedicationHistory(Model):
    """At least k distinct agents in the medication history (orders and statements), within a look-back."""

    agents: list[Agent] = Field(min_length=1, description="each agent counts once, whichever of its codes is used")
    at_least: Threshold = Field(description="how many distinct agents")
    look_back: LookBack | None = Field(None, description="only records dated within this time (default: any)")


class CurrentMedication(Model):
    """The medication is (or, with ``present: false``, is not) being given: ordered (active, on hold
    or draft) or recorded in a statement."""

    concepts: list[str] = Field(min_length=1, description="terminology keys of the medication")
    present: bool = False


class ObservationThreshold(Model):
    """A final observation with one of these codes whose quantity, in this UCUM unit, meets the threshold."""

    codes: list[CodeMatch] = Field(min_length=1)
    comparator: Literal[">", ">=", "<", "<="]
    value: DecimalText
    unit: Annotated[str, Field(pattern=r"^[!-~]{1,40}$", description="UCUM code (case-sensitive), e.g. mg/dL")]
    provenance: list[Provenance] = Field(default_factory=list)
    basis: Text | None = Field(None, description="why, when the threshold is a rule and not a fact of the source")
    look_back: LookBack | None = None

    @model_validator(mode="after")
    def _sourced(self) -> "ObservationThreshold":
        if not self.provenance and self.basis is None:
            raise ValueError("say where the threshold comes from: give provenance (source) or basis (rule)")
        return self


CRITERION_KINDS = ("age", "condition", "medication_history", "medication", "observation")


class DecisionCriterion(Model):
    """One typed condition of who the recommendation is for (exactly one kind per criterion)."""

    id: Id = Field(description="names the criterion's FHIRPath variables and ValueSet")
    description: Text | None = Field(None, description="how the card and the PlanDefinition word it")
    age: AgeRange | None = None
    condition: ConditionCriterion | None = None
    medication_history: MedicationHistory | None = None
    medication: CurrentMedication | None = None
    observation: ObservationThreshold | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "DecisionCriterion":
        _exactly_one(self, CRITERION_KINDS)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CRITERION_KINDS if getattr(self, k) is not None)


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


class Suggestion(Model):
    """A draft order the card offers for the EHR to complete (CDS Hooks suggestion, create action).

    It carries no dose: a weight-based order is the prescriber's to write (shared/reference/cds-hooks.md §7.3)."""

    label: Annotated[str, Field(min_length=1, max_length=80, description="the button text")]
    medication: Text = Field(description="the medication in words, e.g. Intravenous immunoglobulin (IVIG)")
    concepts: list[str] = Field(min_length=1, description="terminology keys of the medication")
    note: Text = Field(description="the note on the draft, e.g. that dose, route and schedule are to be completed")


class Recommendation(Model):
    """A recommendation derived from the evidence, for decision support."""

    id: Id
    title: Text
    action: Text = Field(description="the suggested action, in words")
    direction: Literal["for", "against"]
    strength: Literal["strong", "conditional"]
    rationale: Text
    justification: list[Id] = Field(default_factory=list,
                                    description="outcome ids of the question whose body of evidence justifies "
                                                "it (default: every critical outcome)")
    hooks: list[Literal["patient-view", "order-select", "order-sign"]] = Field(
        default_factory=lambda: ["patient-view", "order-select", "order-sign"], min_length=1)
    suggest: Suggestion | None = Field(None, description="a draft order the card offers (no dose)")
    qualifies: list[DecisionCriterion] = Field(min_length=1, description="who the recommendation is for: every "
                                                                 "criterion must hold (in this order)")
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
    reports: list[Report] = Field(default_factory=list, description="further publications of the study's results "
                                  "(later papers, registry records, guideline or regulatory summaries)")
    design: Design
    population: Population
    exposure: Exposure | None = Field(None, description="what a single-group study's population received "
                                                        "(comparative designs give `arms` instead)")
    arms: list[Arm] = Field(default_factory=list, description="the arms of a comparative design")
    analysis_sets: list[AnalysisSet] = Field(default_factory=list)
    periods: list[Period] = Field(default_factory=list)
    timepoints: list[Timepoint] = Field(default_factory=list)
    variables: list[Variable] = Field(min_length=1)
    results: list[Result] = Field(min_length=1)
    limitations: list[Limitation] = Field(default_factory=list)
    conclusion: Conclusion | None = None
    assessment: Assessment | None = None

    @property
    def primary_report(self) -> str:
        """The report id of the study's `citation`."""
        return self.citation.id or PRIMARY_REPORT

    def report_ids(self) -> list[str]:
        """Every report id: the citation's, then the `reports`, as written."""
        return [self.primary_report, *(r.id for r in self.reports)]

    def reported_in(self, provenance: "list[Provenance]") -> list[str]:
        """The reports a fact was read in (each once, as written; the citation when none is named)."""
        out: list[str] = []
        for p in provenance:
            report = p.report or self.primary_report
            if report not in out:
                out.append(report)
        return out or [self.primary_report]

    def design_codes_for(self, result: Result) -> list[str]:
        """The design codes of the study as it was when the result was measured: its period's (a
        window over several periods: the codes all of them share), else the study's."""
        point = next((t for t in self.timepoints if t.id == result.timepoint), None)
        if point is None or not self.periods:
            return list(self.design.codes)
        if point.period is not None:
            periods = [p for p in self.periods if p.id == point.period]
        else:
            periods = [p for p in self.periods if _overlaps(point, p)]
        if not periods:
            return list(self.design.codes)
        shared = [set(p.codes or self.design.codes) for p in periods]
        return [c for c in (periods[0].codes or self.design.codes) if all(c in s for s in shared)]

    def denominator_of(self, result: Result) -> int | None:
        """The N a result is about, or None when the source does not give it."""
        den = result.denominator
        if den.kind == "count":
            return den.value
        if den.kind == "population":
            return self.population_ids().get(result.population)
        return None

    def population_ids(self) -> dict[str, int | None]:
        """Every group a result can be about (population, subgroups, arms, analysis sets) with its N."""
        sizes: dict[str, int | None] = {self.population.id: self.population.n.value}
        for sub in self.population.subgroups:
            sizes[sub.id] = sub.n.value
        for arm in self.arms:
            sizes[arm.id] = arm.n.value
        for aset in self.analysis_sets:
            sizes[aset.id] = aset.n.value
        return sizes

    def compared(self, result: Result) -> tuple[tuple[int, Result] | None, tuple[int, Result] | None]:
        """The (index, result) of each group a between-group result compares: same variable and timepoint."""
        if result.comparison is None:
            return None, None
        sides = (result.comparison.intervention, result.comparison.comparator)
        found: list[tuple[int, Result] | None] = []
        for side in sides:
            found.append(next(((i, r) for i, r in enumerate(self.results) if not r.comparative
                               and r.population == side and r.variable == result.variable
                               and r.timepoint == result.timepoint), None))
        return found[0], found[1]

    def treatment_of(self, group: str) -> "Arm | None":
        """The arm whose treatment a group received: an analysis set's `received` arm, else the arm
        it is or is analysed as."""
        received = next((s.received for s in self.analysis_sets if s.id == group and s.received), None)
        return next((a for a in self.arms if a.id == received), None) if received else self.arm_of(group)

    def numbers_of(self, result: Result) -> set[Decimal]:
        """Every number a result has: its estimates, counts and bounds, its N, and for a comparison
        each group's N and their sum (what a reason about the result may state)."""
        texts = [getattr(result, f) for f in ("value", "sd", "se", "ci_low", "ci_high", "iqr_low", "iqr_high",
                                               "range_low", "range_high")]
        out = {Decimal(t) for t in texts if t is not None and t != NOT_ESTIMABLE}
        out |= {Decimal(k) for k in (result.affected, result.event_count) if k is not None}
        sizes = self.population_ids()
        if result.comparison is not None:
            known = [sizes.get(side) for side in (result.comparison.intervention, result.comparison.comparator)]
            out |= {Decimal(k) for k in known if k is not None}
            if all(k is not None for k in known):
                out.add(Decimal(sum(k for k in known if k is not None)))
        elif (n := self.denominator_of(result)) is not None:
            out.add(Decimal(n))
        return out

    def members_of(self, group: str) -> set[str]:
        """The arms a group's patients were randomized to: an arm itself, an analysis set's arm and
        the arms it includes members of; the population: every arm."""
        if any(a.id == group for a in self.arms):
            return {group}
        for aset in self.analysis_sets:
            if aset.id == group:
                return {aset.arm, *(inc.arm for inc in aset.includes)}
        return {a.id for a in self.arms}

    def shared_patients(self, first: str, second: str) -> str | None:
        """Why two groups may hold the same patients, or None when they are disjoint: a crossover
        design's arms are the same patients; otherwise groups drawn from a common arm may share them."""
        if self.design.kind == "crossover-randomized":
            return "in a crossover design every patient receives both treatments"
        common = self.members_of(first) & self.members_of(second)
        if not common:
            return None
        return f"both hold patients randomized to {', '.join(sorted(common))}"

    def arm_of(self, group: str) -> "Arm | None":
        """The arm a group id is (an arm id) or is analysed as (an analysis set id)."""
        for arm in self.arms:
            if arm.id == group:
                return arm
        for aset in self.analysis_sets:
            if aset.id == group:
                return next((a for a in self.arms if a.id == aset.arm), None)
        return None
