"""The evidence report site: static HTML pages people read, generated from the FHIR output.

``build_site(output, site)`` reads ``output/r5`` (resources and source map, :mod:`.read`), draws
the forest plots (:mod:`.plots`), previews each recommendation's CDS card as an EHR shows it
(:mod:`.cards`) and renders the Jinja2 templates in ``templates/``: an index, a page per study,
a page per question. The site is written atomically (like ``build``) and is the same bytes on
every build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..publish.writer import commit, discard, stage
from .read import Estimate, Site, grade, number, read_output

__all__ = ["SiteResult", "build_site", "render_site"]


@dataclass
class SiteResult:
    pages: list[str] = field(default_factory=list)
    plots: int = 0
    seconds: float = 0.0


def _is_percent(estimate: Estimate) -> bool:
    return estimate.code in ("C44256", "0000424")


def _shown(estimate: Estimate, value: Decimal | None) -> str:
    """A value as people read it: proportions and risk differences in percent (the JSON holds fractions)."""
    if value is None:
        return ""
    if _is_percent(estimate):
        return number(value, percent=True) + ("%" if estimate.code == "C44256" else " points")
    return number(value) + (f" {estimate.unit}" if estimate.unit else "")


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("evidencekit.pages", "templates"), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(grade=grade, shown=_shown, number=number)
    return env


def render_site(site: Site, diagnostics: list[Any] | None = None) -> tuple[dict[str, bytes], SiteResult]:
    """Every file of the site (relative path -> bytes)."""
    from markupsafe import Markup

    from .cards import card_previews
    from .plots import panels

    env = _environment()
    result = SiteResult()
    files: dict[str, bytes] = {}
    by_file: dict[str, list[Any]] = {}
    for d in diagnostics or []:
        by_file.setdefault(d.file, []).append(d)
    for study in site.studies:
        study.diagnostics = [{"code": d.code, "severity": d.severity.value, "line": d.line, "column": d.column,
                              "message": d.message} for d in by_file.get(study.file, [])]
    cards = card_previews(site.directory)
    jobs = [(outcome.id, (f"Forest plot: {outcome.title} ({panel.label})", panel, f"plot-{outcome.id}-{i}"))
            for question in site.questions for outcome in question.outcomes
            for i, panel in enumerate(panels(outcome.evidence, outcome.synthesis))]
    plots: dict[str, list[Markup]] = {o.id: [] for q in site.questions for o in q.outcomes}
    for (outcome_id, _), svg in zip(jobs, _draw([job for _, job in jobs])):
        plots[outcome_id].append(Markup(svg))
    result.plots = len(jobs)
    pages = {"index.html": env.get_template("index.html.j2").render(site=site, root="")}
    for study in site.studies:
        pages[f"studies/{study.id}.html"] = env.get_template("study.html.j2").render(
            study=study, site=site, root="../")
    for question in site.questions:
        pages[f"questions/{question.id}.html"] = env.get_template("question.html.j2").render(
            question=question, site=site, plots=plots, cards=cards.get(question.sof_id, []), root="../")
    for name, text in pages.items():
        files[name] = text.encode("utf-8")
        result.pages.append(name)
    files["style.css"] = env.get_template("style.css").render().encode("utf-8")
    return files, result


def _plot(job: tuple[str, Any, str]) -> str:
    from .plots import forest_plot

    return forest_plot(*job)


def _draw(jobs: list[tuple[str, Any, str]]) -> list[str]:
    """Every plot, in order; many are drawn by a process per core (matplotlib draws one at a time)."""
    import os

    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < 40 or workers < 2:
        return [_plot(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_plot, jobs, chunksize=8))


def build_site(output: Path, site: Path, diagnostics: list[Any] | None = None) -> SiteResult:
    """Read ``output`` (``output`` or ``output/r5``), render the site and swap it in place of ``site``."""
    started = time.perf_counter()
    files, result = render_site(read_output(output), diagnostics)
    staging = stage(files, site)
    try:
        commit(staging, site)
    except BaseException:
        discard(staging)
        raise
    result.seconds = time.perf_counter() - started
    return result
