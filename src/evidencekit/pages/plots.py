"""Forest plots of a question's outcome, drawn by matplotlib's SVG backend.

One panel per kind of estimate, because they cannot share an axis: single-group proportions on
their own (0-100 %), risk differences in percentage points, mean differences in their unit,
ratios on a log axis. A row per study estimate: its point, and its confidence interval where the
output has one (derived CIs drawn dashed); the pooled estimate of a meta-analysis as a diamond.
The SVG is the same bytes on every build (fixed hash salt, no date, text kept as text), carries a
``<title>`` and ``<desc>`` for screen readers, and uses the Okabe-Ito colours, which stay distinct
for the common colour-vision deficiencies. Each CI is the SVG group ``ci-<Evidence id>``, each
point ``estimate-<Evidence id>``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from .read import Estimate, EvidenceView, number

__all__ = ["Panel", "forest_plot", "panels"]

#: Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, black
_BLUE, _VERMILLION, _GREEN, _BLACK = "#0072B2", "#D55E00", "#009E73", "#000000"
_PROPORTION, _RD, _MD, _RATIOS = "C44256", "0000424", "0000457", {"C93152", "C16932", "C93150"}


@dataclass
class Panel:
    label: str
    percent: bool                    # shown in percent (proportions, risk differences: the JSON holds fractions)
    log: bool
    rows: list[tuple[EvidenceView, Estimate]]
    pooled: Estimate | None = None


def _panel_key(estimate: Estimate) -> tuple[str, str, bool, bool]:
    """(key, axis label, in percent, log scale) of the panel an estimate is drawn in."""
    if estimate.code == _PROPORTION:
        return "proportion", "Proportion of patients (single groups), %", True, False
    if estimate.code == _RD:
        return "rd", "Risk difference, percentage points", True, False
    if estimate.code in _RATIOS:
        return estimate.code, f"{estimate.kind} (log scale)", False, True
    unit = f", {estimate.unit}" if estimate.unit else ""
    return f"{estimate.code}|{estimate.unit}", f"{estimate.kind}{unit}", False, False


def panels(evidence: list[EvidenceView], synthesis: EvidenceView | None) -> list[Panel]:
    """The study estimates grouped by what they measure, in the order the body of evidence lists them."""
    found: dict[str, Panel] = {}
    for view in evidence:
        for estimate in view.estimates:
            if estimate.value is None:
                continue
            key, label, percent, log = _panel_key(estimate)
            found.setdefault(key, Panel(label, percent, log, [])).rows.append((view, estimate))
    if synthesis is not None:
        for estimate in synthesis.estimates:
            if estimate.value is not None and _panel_key(estimate)[0] in found:
                found[_panel_key(estimate)[0]].pooled = estimate
    return list(found.values())


def _study_label(view: EvidenceView) -> str:
    return f"{view.study or ''}: {view.title}"


def _wrap(text: str, width: int = 58) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:3])


def forest_plot(title: str, panel: Panel, plot_id: str) -> str:
    """One panel as an SVG document (a string), accessible and byte-stable."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    rows = panel.rows + ([(None, panel.pooled)] if panel.pooled is not None else [])
    height = 0.9 + 0.55 * len(rows)
    with matplotlib.rc_context({"svg.hashsalt": "evidencekit", "svg.fonttype": "none", "font.size": 9,
                                "font.family": "sans-serif", "axes.spines.top": False,
                                "axes.spines.right": False}):
        figure = Figure(figsize=(8.4, height))
        axes = figure.add_axes((0.50, 0.9 / height * 0.75, 0.46, 1 - 0.9 / height))
        labels = []
        factor = Decimal(100) if panel.percent else Decimal(1)
        for y, (view, estimate) in enumerate(reversed(rows)):
            value = float(estimate.value * factor) if estimate.value is not None else 0.0
            ident = view.id if view is not None else "pooled"
            if estimate.low is not None and estimate.high is not None:
                low, high = float(estimate.low * factor), float(estimate.high * factor)
                (line,) = axes.plot([low, high], [y, y], color=_BLUE if view is not None else _BLACK, linewidth=1.6,
                                    linestyle="--" if estimate.ci_derived else "-")
                line.set_gid(f"ci-{ident}")
            if view is None:
                half = 0.22
                lo = float(estimate.low * factor) if estimate.low is not None else value
                hi = float(estimate.high * factor) if estimate.high is not None else value
                (diamond,) = axes.fill([lo, value, hi, value], [y, y + half, y, y - half], color=_BLACK)
                diamond.set_gid("estimate-pooled")
                labels.append("Pooled estimate")
            else:
                (point,) = axes.plot([value], [y], marker="s", color=_VERMILLION, markersize=6, linestyle="none")
                point.set_gid(f"estimate-{ident}")
                labels.append(_wrap(_study_label(view)))
        axes.set_yticks(range(len(rows)), labels)
        axes.set_ylim(-0.7, len(rows) - 0.3)
        if panel.log:
            axes.set_xscale("log")
            axes.axvline(1, color=_GREEN, linewidth=0.8)
        elif panel.label.startswith(("Risk difference", "Mean", "Absolute")):
            axes.axvline(0, color=_GREEN, linewidth=0.8)
        if panel.label.startswith("Proportion"):
            axes.set_xlim(0, 100)
        axes.set_xlabel(panel.label)
        axes.grid(axis="x", color="#dddddd", linewidth=0.5)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _accessible(buffer.getvalue(), title, _description(panel), plot_id)


def _description(panel: Panel) -> str:
    """The plot in words, for screen readers: each estimate with its interval."""
    parts = []
    for view, estimate in panel.rows:
        value = _shown(estimate.value, panel.percent)
        interval = (f" (95% CI {_shown(estimate.low, panel.percent)} to {_shown(estimate.high, panel.percent)}"
                    + (", derived" if estimate.ci_derived else "") + ")"
                    if estimate.low is not None and estimate.high is not None else " (no confidence interval)")
        parts.append(f"{_study_label(view)}: {value}{interval}")
    if panel.pooled is not None:
        parts.append(f"Pooled: {_shown(panel.pooled.value, panel.percent)}")
    return f"{panel.label}. " + "; ".join(parts) + "."


def _shown(value: Decimal | None, percent: bool) -> str:
    return number(value, percent) if value is not None else "not given"


def _accessible(svg: str, title: str, description: str, plot_id: str) -> str:
    """The document without its XML prologue, with role, title and description for assistive technology."""
    svg = svg[svg.index("<svg"):]
    head_end = svg.index(">") + 1
    head = svg[:head_end]
    head = re.sub(r'\s(width|height)="[^"]*"', "", head, count=2)  # scales with the page (viewBox stays)
    head = head[:-1] + (f' role="img" aria-labelledby="{plot_id}-title {plot_id}-desc" id="{plot_id}">')
    return (head + f'<title id="{plot_id}-title">{escape(title)}</title>'
            + f'<desc id="{plot_id}-desc">{escape(description)}</desc>' + svg[head_end:])
