from __future__ import annotations

import difflib
from typing import Iterator

from ...definitions.loader import LoadedQuestion, LoadedStudy
from ...diagnostics import Diagnostic, Severity


def ek230_unknown_result(question: LoadedQuestion, studies: dict[str, LoadedStudy]) -> Iterator[Diagnostic]:
    """Question cites a study or result that is not defined.

    Every result a question's outcome uses names a study definition (its `id`)
    and one of that study's results with a statistic (a `finding` is words only and
    compiles to no Evidence); the numbers stay in the study definition.

    Reference: GRADE Handbook section 5 (a summary of findings rests on the
    studies' own results); evidencekit design, "Truth to the source".

    **Bad**::

        results: [{study: aggarwal-2022, result: tis20-diff, ...}]

    **Good**::

        results: [{study: aggarwal-2022, result: tis20-difference, ...}]
    """
    for i, outcome in enumerate(question.question.outcomes):
        for j, cited in enumerate(outcome.results):
            path = ("outcomes", i, "results", j)
            loaded = studies.get(cited.study)
            if loaded is None:
                close = difflib.get_close_matches(cited.study, sorted(studies), n=1)
                yield question.diag("EK230", Severity.ERROR, f"study '{cited.study}' is not defined", *path, "study",
                                    hint=f"did you mean '{close[0]}'?" if close else
                                    f"defined studies: {', '.join(sorted(studies)) or 'none'}")
                continue
            results = [r.id for r in loaded.study.results]
            finding = next((r for r in loaded.study.results if r.id == cited.result and r.in_words), None)
            if finding is not None:
                yield question.diag("EK230", Severity.ERROR,
                                    f"study '{cited.study}' result '{cited.result}' is a finding (words, no "
                                    "statistic): it compiles to no Evidence a body of evidence can cite", *path,
                                    "result", hint="cite a result with a statistic; the study's outcome-measure "
                                                   "report states the finding")
            elif cited.result not in results:
                close = difflib.get_close_matches(cited.result, results, n=1)
                yield question.diag("EK230", Severity.ERROR,
                                    f"study '{cited.study}' has no result '{cited.result}'", *path, "result",
                                    hint=f"did you mean '{close[0]}'?" if close else
                                    f"its results are defined in {loaded.file}")
