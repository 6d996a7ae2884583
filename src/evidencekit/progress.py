"""Progress of the phases of a build or a push, and a summary table at the end.

The pipeline and push report to a :class:`Reporter`: ``with reporter.phase("load", total) as
advance: ... advance(1)``. :data:`QUIET` records nothing and draws nothing (the default);
:class:`Phases` records each phase's count and seconds for the summary; :func:`rich_reporter`
also draws a live rich progress display on a terminal.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["Phases", "QUIET", "Reporter", "rich_reporter"]

Advance = Callable[[int], None]


class Reporter:
    """Receives phases; this base records nothing (quiet)."""

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "") -> Iterator[Advance]:
        yield _ignore


def _ignore(n: int = 1) -> None:
    return None


QUIET = Reporter()


@dataclass
class PhaseRecord:
    name: str
    done: int = 0
    total: int | None = None
    unit: str = ""
    seconds: float = 0.0


@dataclass
class Phases(Reporter):
    """Records every phase (count, seconds) and, given a rich ``Progress``, draws it live."""

    bar: Any = None  # a started rich.progress.Progress, or None for records only
    records: list[PhaseRecord] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "") -> Iterator[Advance]:
        record = PhaseRecord(name, total=total, unit=unit)
        self.records.append(record)
        task = self.bar.add_task(name, total=total) if self.bar is not None else None
        started = time.perf_counter()

        def advance(n: int = 1) -> None:
            record.done += n
            if task is not None:
                self.bar.advance(task, n)

        try:
            yield advance
        finally:
            record.seconds = time.perf_counter() - started
            if task is not None:
                final = total if total is not None else max(record.done, 1)
                self.bar.update(task, completed=final, total=final)

    def table(self, title: str) -> Any:
        """A rich Table of the phases: what each did and how long it took."""
        from rich.table import Table

        table = Table(title=title)
        for column, justify in (("phase", "left"), ("done", "right"), ("seconds", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for r in self.records:
            done = f"{r.done:,}" + (f" {r.unit}" if r.unit else "") if r.done or r.total else ""
            table.add_row(r.name, done, f"{r.seconds:.2f}")
        table.add_row("total", "", f"{sum(r.seconds for r in self.records):.2f}")
        return table


@contextlib.contextmanager
def rich_reporter(console: Any) -> Iterator[Phases]:
    """Phases drawn live on ``console`` (a rich Console), removed when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        yield Phases(bar)
