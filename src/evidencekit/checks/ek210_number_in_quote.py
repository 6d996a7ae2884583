from __future__ import annotations

import re
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from .ek209_quote_in_source import normalize


def _mentions(quotes: list[str], number: str) -> bool:
    pattern = re.compile(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)")
    return any(pattern.search(normalize(q)) for q in quotes)


def ek210_number_in_quote(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Reported number does not appear in its provenance quote.

    Every authored number of a result (value, SD, CI bounds, events) and every
    N must be written, as authored, in one of the quotes that back it, so a
    reader can see where it came from.

    Reference: evidencekit design, "Truth to the source".

    **Bad**::

        value: 84
        provenance: [{source: news, quote: "Overall, 83% of patients experienced ..."}]

    **Good**::

        value: 83
        provenance: [{source: news, quote: "Overall, 83% of patients experienced ..."}]
    """
    study = loaded.study
    for i, result in enumerate(study.results):
        quotes = [p.quote for p in result.provenance]
        for field in ("value", "sd", "ci_low", "ci_high", "events"):
            number = getattr(result, field)
            if number is not None and not _mentions(quotes, str(number)):
                yield loaded.diag("EK210", Severity.ERROR,
                                  f"result '{result.id}': {field} {number} is not in its provenance quotes",
                                  "results", i, field,
                                  hint="quote the sentence of the source that states this number")
    counts = [(("population", "n"), study.population.n)]
    counts += [(("population", "subgroups", i, "n"), s.n) for i, s in enumerate(study.population.subgroups)]
    for path, count in counts:
        if not _mentions([p.quote for p in count.provenance], str(count.value)):
            yield loaded.diag("EK210", Severity.ERROR, f"N {count.value} is not in its provenance quotes",
                              *path, "value", hint="quote the sentence of the source that states this number")
    for i, crit in enumerate(study.population.eligibility.criteria):
        if crit.value is not None and not _mentions([p.quote for p in crit.provenance], crit.value):
            yield loaded.diag("EK210", Severity.ERROR,
                              f"criterion value {crit.value} is not in its provenance quotes",
                              "population", "eligibility", "criteria", i, "value")
