"""What every consistency rule gets, and the registry type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..definitions.loader import LoadedStudy
from ..definitions.model import Result
from ..diagnostics import Diagnostic

__all__ = ["Rule", "denominator_of", "results_with_index"]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    function: Callable[[LoadedStudy], Iterator[Diagnostic]]

    @property
    def doc(self) -> str:
        return self.function.__doc__ or ""


def denominator_of(loaded: LoadedStudy, result: Result) -> int | None:
    """The N a result is about, or None when the source does not give it."""
    return loaded.study.denominator_of(result)


def results_with_index(loaded: LoadedStudy, statistic: str) -> Iterator[tuple[int, Result]]:
    for i, result in enumerate(loaded.study.results):
        if result.statistic == statistic:
            yield i, result
