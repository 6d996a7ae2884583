from __future__ import annotations

from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...diagnostics import Diagnostic, Severity

#: ratings that do not rate down (certainty-rating codes of hl7.fhir.r5.core)
_NO_CONCERN = {"certainty-rating:no-concern", "certainty-rating:no-change", "certainty-rating:absent",
               "certainty-rating:upcode1", "certainty-rating:upcode2", "certainty-rating:present"}


def ek232_rating_without_reason(question: LoadedQuestion, studies: dict[str, LoadedStudy]) -> Iterator[Diagnostic]:
    """Certainty or directness rated down without a reason.

    GRADE asks for an explicit reason for every decision to rate down: each
    certainty domain and each study's directness that is not "no serious
    concern" says why in `reason`.

    Reference: Guyatt GH, et al. GRADE guidelines: 1. J Clin Epidemiol
    2011;64(4):383-394; GRADE Handbook section 5 (footnotes explain every
    rating down in a summary of findings).

    **Bad**::

        domains: [{type: certainty-type:Indirectness, rating: certainty-rating:serious-concern}]

    **Good**::

        domains: [{type: certainty-type:Indirectness, rating: certainty-rating:serious-concern,
                   reason: the trial enrolled patients with muscle disease}]
    """
    for i, outcome in enumerate(question.question.outcomes):
        for j, cited in enumerate(outcome.results):
            if cited.directness.rating not in _NO_CONCERN and not cited.directness.reason:
                yield question.diag("EK232", Severity.ERROR,
                                    f"outcome '{outcome.id}': directness of '{cited.study}/{cited.result}' is rated "
                                    "down without a reason", "outcomes", i, "results", j, "directness", "rating",
                                    hint="say why in `reason`")
        if outcome.certainty is None:
            continue
        for j, domain in enumerate(outcome.certainty.domains):
            if domain.rating not in _NO_CONCERN and not domain.reason:
                yield question.diag("EK232", Severity.ERROR,
                                    f"outcome '{outcome.id}': {domain.type} is rated down without a reason",
                                    "outcomes", i, "certainty", "domains", j, "rating", hint="say why in `reason`")
