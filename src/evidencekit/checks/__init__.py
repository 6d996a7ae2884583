"""Consistency checks on study definitions: one documented function per rule.

Each rule's docstring is its documentation: a one-line summary (the message
users see), an explanation, a ``Reference:`` line and **Bad**/**Good**
examples. ``tests/test_check_docs.py`` enforces that shape.
"""

from __future__ import annotations

from ..definitions.loader import LoadedStudy
from ..diagnostics import Diagnostic
from ._base import Rule
from .ek201_grim_proportion import ek201_grim_proportion
from .ek202_proportion_range import ek202_proportion_range
from .ek203_events_exceed_n import ek203_events_exceed_n
from .ek204_subgroup_sums import ek204_subgroup_sums
from .ek205_grim_mean import ek205_grim_mean
from .ek206_sd_plausible import ek206_sd_plausible
from .ek207_ci_contains_estimate import ek207_ci_contains_estimate
from .ek209_quote_in_source import ek209_quote_in_source
from .ek210_number_in_quote import ek210_number_in_quote
from .ek211_subgroup_results import ek211_subgroup_results
from .ek301_terminology import ek301_unknown_code, ek302_unverified_code

__all__ = ["RULES", "run_checks"]

RULES: tuple[Rule, ...] = (
    Rule("EK201", "statistics.grim_proportion", ek201_grim_proportion),
    Rule("EK202", "statistics.proportion_range", ek202_proportion_range),
    Rule("EK203", "statistics.events_exceed_n", ek203_events_exceed_n),
    Rule("EK204", "groups.subgroup_sums", ek204_subgroup_sums),
    Rule("EK205", "statistics.grim_mean", ek205_grim_mean),
    Rule("EK206", "statistics.sd_plausible", ek206_sd_plausible),
    Rule("EK207", "statistics.ci_contains_estimate", ek207_ci_contains_estimate),
    Rule("EK209", "provenance.quote_in_source", ek209_quote_in_source),
    Rule("EK210", "provenance.number_in_quote", ek210_number_in_quote),
    Rule("EK211", "statistics.subgroup_results", ek211_subgroup_results),
    Rule("EK301", "terminology.unknown_code", ek301_unknown_code),
    Rule("EK302", "terminology.unverified_code", ek302_unverified_code),
)


def run_checks(studies: list[LoadedStudy]) -> list[Diagnostic]:
    """Run every rule on every study; diagnostics are returned, never raised."""
    out: list[Diagnostic] = []
    for loaded in studies:
        for rule in RULES:
            out.extend(rule.function(loaded))
    return out
