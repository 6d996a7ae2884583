from __future__ import annotations

import re
from typing import Iterator

from ..definitions.loader import LoadedQuestion, LoadedStudy
from ..diagnostics import Diagnostic, Severity

_MAX_SOURCE_BYTES = 5 * 1024 * 1024


def normalize(text: str) -> str:
    """Whitespace collapsed; markdown emphasis, typographic quotes and minus signs made plain."""
    text = text.replace("**", "").replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    text = text.replace("\u2212", "-")  # the minus sign of typeset numbers ("\u22129.36") is a hyphen-minus
    return re.sub(r"\s+", " ", text).strip()


def _sources(loaded: LoadedStudy | LoadedQuestion) -> list:  # type: ignore[type-arg]
    return loaded.study.sources if isinstance(loaded, LoadedStudy) else loaded.question.sources


def _source_texts(loaded: LoadedStudy | LoadedQuestion) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    base = loaded.path.parent.resolve()
    for source in _sources(loaded):
        if source.path is None:
            continue
        path = (base / source.path).resolve()
        try:
            if not path.is_relative_to(base) or path.stat().st_size > _MAX_SOURCE_BYTES:
                texts[source.id] = None
                continue
            texts[source.id] = normalize(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):  # ValueError: a path the OS cannot name
            texts[source.id] = None
    return texts


def ek209_quote_in_source(loaded: LoadedStudy | LoadedQuestion) -> Iterator[Diagnostic]:
    """Provenance quote not found in the source document.

    When a source has a local copy (`path`, inside the definitions directory),
    every quote citing it must occur in it word for word (whitespace and
    markdown emphasis ignored). A missing or unreadable source file is an error.

    Reference: evidencekit design, "Truth to the source" (every definition number
    records where in the source it came from).

    **Bad**::

        provenance: [{source: news, quote: "84% of patients improved"}]

    **Good**::

        provenance: [{source: news, quote: "Overall, 83% of patients experienced cutaneous DM improvement"}]
    """
    texts = _source_texts(loaded)
    for i, source in enumerate(_sources(loaded)):
        if source.id in texts and texts[source.id] is None:
            yield loaded.diag("EK209", Severity.ERROR,
                              f"source '{source.id}': cannot read {source.path} as UTF-8 text inside "
                              "the definitions directory", "sources", i, "path",
                              hint="keep a UTF-8 copy of the source next to the definition")
    for path, prov in loaded.provenances:
        text = texts.get(prov.source)
        if text and normalize(prov.quote) not in text:
            yield loaded.diag("EK209", Severity.ERROR,
                              f"quote not found in source '{prov.source}': \"{prov.quote[:60]}\"",
                              *path, "quote", hint="copy the words exactly as the source writes them")
