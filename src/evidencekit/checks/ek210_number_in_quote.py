from __future__ import annotations

import re
from typing import Iterator

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic, Severity
from .ek209_quote_in_source import normalize


_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(number: str) -> list[str]:
    """How a source may write a whole number from 0 to 99 in words ('none' and 'zero' for 0,
    'twenty-one' or 'twenty one'); none for other numbers."""
    if not number.isdigit() or int(number) > 99:
        return []
    n = int(number)
    if n == 0:
        return ["none", "zero"]
    if n < 20:
        return [_ONES[n]]
    tens, ones = divmod(n, 10)
    return [_TENS[tens - 2]] if ones == 0 else [f"{_TENS[tens - 2]}-{_ONES[ones]}", f"{_TENS[tens - 2]} {_ONES[ones]}"]


def _mentions(quotes: list[str], number: str) -> bool:
    """The number, as digits or (a whole number below 100) in words, stands in one of the quotes."""
    pattern = re.compile(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)")
    words = [re.compile(rf"(?i)(?<![\w-]){re.escape(w)}(?![\w-])") for w in number_words(number)]
    return any(pattern.search(text) or any(w.search(text) for w in words) for text in map(normalize, quotes))


def ek210_number_in_quote(loaded: LoadedStudy) -> Iterator[Diagnostic]:
    """Reported number does not appear in its provenance quote.

    Every authored number of a result (value, SD, SE, CI, IQR and range bounds, patients affected, event count) and every
    N must be written, as authored, in one of the quotes that back it, so a
    reader can see where it came from. A whole number below 100 may stand in words ("Nineteen
    patients", "none had major improvement"); a word inside another ("seventeen") does not count.
    An N, a duration or a result's value or count the author derived (``derived: {method: ...}``)
    says how instead and is not looked for.

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
        for field in ("value", "sd", "se", "ci_low", "ci_high", "iqr_low", "iqr_high", "range_low", "range_high", "affected", "event_count"):
            number = getattr(result, field)
            if result.derived is not None and field in ("value", "affected"):
                continue  # the author derived it and says how (`derived.method`)
            if number is not None and not _mentions(quotes, str(number)):
                yield loaded.diag("EK210", Severity.ERROR,
                                  f"result '{result.id}': {field} {number} is not in its provenance quotes",
                                  "results", i, field,
                                  hint="quote the sentence of the source that states this number")
        if result.p_value is not None:
            bare = result.p_value.lstrip("<>=")
            if not _mentions(quotes, bare) and not _mentions(quotes, bare.lstrip("0")):
                yield loaded.diag("EK210", Severity.ERROR,
                                  f"result '{result.id}': p_value {result.p_value} is not in its provenance quotes",
                                  "results", i, "p_value",
                                  hint="quote the sentence of the source that states this number")
    counts = [(("population", "n"), study.population.n)]
    counts += [(("population", "subgroups", i, "n"), s.n) for i, s in enumerate(study.population.subgroups)]
    counts += [(("arms", i, "n"), a.n) for i, a in enumerate(study.arms)]
    for i, aset in enumerate(study.analysis_sets):
        counts.append((("analysis_sets", i, "n"), aset.n))
        counts += [(("analysis_sets", i, "includes", j, "n"), inc.n) for j, inc in enumerate(aset.includes)
                   if inc.n is not None]
    for path, count in counts:
        if count.derived is None and not _mentions([p.quote for p in count.provenance], str(count.value)):
            yield loaded.diag("EK210", Severity.ERROR, f"N {count.value} is not in its provenance quotes",
                              *path, "value", hint="quote the sentence of the source that states this number")
    for kind, items in (("periods", study.periods), ("timepoints", study.timepoints)):
        for i, item in enumerate(items):
            quotes = [p.quote for p in item.provenance]
            for field in ("at", "start", "end"):
                duration = getattr(item, field, None)
                if duration is not None and duration.derived is None and not _mentions(quotes, duration.value):
                    yield loaded.diag("EK210", Severity.ERROR,
                                      f"{kind[:-1]} '{item.id}': {field} {duration.value} is not in its provenance "
                                      "quotes", kind, i, field, "value",
                                      hint="quote the sentence of the source that states this time")
    for i, reg in enumerate(study.design.registrations):
        if not any(reg.value in p.quote for p in reg.provenance):
            yield loaded.diag("EK210", Severity.ERROR,
                              f"registration {reg.value} is not in its provenance quotes",
                              "design", "registrations", i, "value")
    for i, crit in enumerate(study.population.eligibility.criteria):
        if crit.value is not None and not _mentions([p.quote for p in crit.provenance], crit.value):
            yield loaded.diag("EK210", Severity.ERROR,
                              f"criterion value {crit.value} is not in its provenance quotes",
                              "population", "eligibility", "criteria", i, "value")
