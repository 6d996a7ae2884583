"""Consistency checks on question definitions: one documented function per rule.

A question rule gets the question and every study of the definitions, by id (a question
refers to study results; it holds no numbers of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...diagnostics import Diagnostic
from .ek230_unknown_result import ek230_unknown_result
from .ek231_not_combinable import ek231_not_combinable
from .ek232_rating_without_reason import ek232_rating_without_reason
from .ek233_outcome_without_result import ek233_outcome_without_result
from .ek234_reason_numbers import ek234_reason_numbers

__all__ = ["QUESTION_RULES", "QuestionRule", "run_question_checks"]

Studies = dict[str, LoadedStudy]


@dataclass(frozen=True)
class QuestionRule:
    code: str
    name: str
    function: Callable[[LoadedQuestion, Studies], Iterator[Diagnostic]]

    @property
    def doc(self) -> str:
        return self.function.__doc__ or ""


QUESTION_RULES: tuple[QuestionRule, ...] = (
    QuestionRule("EK230", "questions.unknown_result", ek230_unknown_result),
    QuestionRule("EK231", "questions.not_combinable", ek231_not_combinable),
    QuestionRule("EK232", "questions.rating_without_reason", ek232_rating_without_reason),
    QuestionRule("EK233", "questions.outcome_without_result", ek233_outcome_without_result),
    QuestionRule("EK234", "questions.reason_numbers", ek234_reason_numbers),
)


def run_question_checks(questions: list[LoadedQuestion], studies: list[LoadedStudy]) -> list[Diagnostic]:
    by_id = {s.study.id: s for s in studies}
    out: list[Diagnostic] = []
    from ..ek209_quote_in_source import ek209_quote_in_source
    from ..ek301_terminology import ek301_unknown_code, ek302_unverified_code

    for question in questions:
        for rule in QUESTION_RULES:
            out.extend(rule.function(question, by_id))
        out.extend(ek209_quote_in_source(question))  # a recommendation's quotes are checked too
        out.extend(ek301_unknown_code(question))  # the terminology rules read questions too
        out.extend(ek302_unverified_code(question))
    return out
