"""The authoring model of a question definition (`kind: question`): a clinical question, its
outcomes and, per outcome, the study results that answer it, with the author's judgement of
their directness, how they are synthesised, and the certainty of the body of evidence.

A question is the definition author's appraisal of several studies, not a claim of any source;
the numbers it uses stay in the study definitions (it refers to them by study and result id).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .model import DateText, Id, Model, Recommendation, Source, Text

__all__ = ["Question", "QuestionOutcome", "StudyResult"]


class Element(Model):
    """One part of the question (population, intervention, comparator)."""

    description: Text
    concepts: list[str] = Field(default_factory=list, description="terminology keys")


class Pico(Model):
    population: Element
    intervention: Element
    comparator: Element | None = Field(None, description="omit for a question about one treatment's effects")
    setting: Text | None = None


class Judgement(Model):
    """A rated judgement with its reason (a rating down always says why)."""

    rating: str = Field(description="terminology key, e.g. certainty-rating:serious-concern")
    reason: Text | None = None


class StudyResult(Model):
    """A result of a study definition that answers the outcome, and how directly."""

    study: Id = Field(description="the study definition's id")
    result: Id = Field(description="the result's id in that study")
    directness: Judgement


class Synthesis(Model):
    """How the results of an outcome are combined: only when asked for, and only when combinable."""

    method: Literal["narrative", "meta-analysis"] = "narrative"
    model: Literal["random", "fixed"] = "random"
    tau: Literal["dl", "pm"] = Field("dl", description="DerSimonian-Laird or Paule-Mandel")
    reason: Text | None = Field(None, description="why this method (e.g. why the results are not pooled)")


class Domain(Model):
    type: str = Field(description="terminology key of the GRADE domain, e.g. certainty-type:Imprecision")
    rating: str = Field(description="terminology key of the rating, e.g. certainty-rating:serious-concern")
    reason: Text | None = Field(None, description="required when the domain rates down")


class Certainty(Model):
    """Certainty of the body of evidence for one outcome (GRADE)."""

    rating: str = Field(description="terminology key, e.g. certainty-rating:low")
    summary: Text
    domains: list[Domain] = Field(min_length=1)


class QuestionOutcome(Model):
    id: Id
    title: Text
    importance: Literal["critical", "important", "not-important"]
    handling: Literal["continuous", "dichotomous", "ordinal", "polychotomous"] = Field(
        description="how the outcome is measured across the studies (EvidenceVariable.handling)")
    results: list[StudyResult] = Field(default_factory=list)
    synthesis: Synthesis = Field(default_factory=Synthesis)
    certainty: Certainty | None = None


class Question(Model):
    """A question definition: one file in ``definitions/`` with ``kind: question``."""

    schema_: str | None = Field(None, alias="$schema")
    kind: Literal["question"]
    id: Id
    title: Text
    date: DateText
    status: Literal["draft", "active", "retired"] = "active"
    assessor: Text = Field(description="who judged directness and certainty (not the studies' investigators)")
    sources: list[Source] = Field(default_factory=list, description="documents the recommendation's "
                                                                    "provenance quotes cite")
    question: Pico
    outcomes: list[QuestionOutcome] = Field(min_length=1)
    recommendation: Recommendation | None = Field(
        None, description="decision support justified by this body of evidence (its summary of findings)")

    @model_validator(mode="after")
    def _unique_outcomes(self) -> "Question":
        ids = [o.id for o in self.outcomes]
        if len(ids) != len(set(ids)):
            raise ValueError("outcome ids must be unique in the question")
        return self
