"""Consistency checks on study definitions: one documented function per rule.

Each rule's docstring is its documentation: a one-line summary (the message
users see), an explanation, a ``Reference:`` line and **Bad**/**Good**
examples. ``tests/test_check_docs.py`` enforces that shape.
"""

from __future__ import annotations

from typing import Callable

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
from .ek212_scale_missing import ek212_scale_missing
from .ek213_design_kind import ek213_design_kind
from .ek214_arm_sizes import ek214_arm_sizes
from .ek215_unused_arm import ek215_unused_arm
from .ek216_self_comparison import ek216_self_comparison
from .ek217_ratio_positive import ek217_ratio_positive
from .ek218_p_value_range import ek218_p_value_range
from .ek219_effect_from_arms import ek219_effect_from_arms
from .ek220_ci_reproduced import ek220_ci_reproduced
from .ek221_p_value_ci import ek221_p_value_ci
from .ek222_p_value_test import ek222_p_value_test
from .ek223_effect_direction import ek223_effect_direction
from .ek224_timepoint_missing import ek224_timepoint_missing
from .ek226_shared_patients import ek226_shared_patients
from .ek227_reason_numbers import ek227_reason_numbers
from .ek301_terminology import ek301_unknown_code, ek302_unverified_code
from .ek305_unit_without_code import ek305_unit_without_code

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
    Rule("EK212", "statistics.scale_missing", ek212_scale_missing),
    Rule("EK213", "design.kind", ek213_design_kind),
    Rule("EK214", "groups.arm_sizes", ek214_arm_sizes),
    Rule("EK215", "groups.unused_arm", ek215_unused_arm),
    Rule("EK216", "comparisons.self_comparison", ek216_self_comparison),
    Rule("EK217", "comparisons.ratio_positive", ek217_ratio_positive),
    Rule("EK218", "statistics.p_value_range", ek218_p_value_range),
    Rule("EK219", "comparisons.effect_from_arms", ek219_effect_from_arms),
    Rule("EK220", "comparisons.ci_reproduced", ek220_ci_reproduced),
    Rule("EK221", "comparisons.p_value_ci", ek221_p_value_ci),
    Rule("EK222", "comparisons.p_value_test", ek222_p_value_test),
    Rule("EK223", "comparisons.effect_direction", ek223_effect_direction),
    Rule("EK224", "design.timepoint_missing", ek224_timepoint_missing),
    Rule("EK226", "comparisons.shared_patients", ek226_shared_patients),
    Rule("EK227", "assessment.reason_numbers", ek227_reason_numbers),
    Rule("EK301", "terminology.unknown_code", ek301_unknown_code),
    Rule("EK302", "terminology.unverified_code", ek302_unverified_code),
    Rule("EK305", "terminology.unit_without_code", ek305_unit_without_code),
)


def run_checks(studies: list[LoadedStudy], on_study: Callable[[int], None] | None = None) -> list[Diagnostic]:
    """Run every rule on every study; diagnostics are returned, never raised."""
    out: list[Diagnostic] = []
    for loaded in studies:
        for rule in RULES:
            out.extend(rule.function(loaded))
        if on_study is not None:
            on_study(1)
    return out
