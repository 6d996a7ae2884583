"""Each rule's docstring is its documentation: summary, Reference, Bad before Good."""

from __future__ import annotations

import pytest

from evidencekit.checks import RULES
from evidencekit.checks.questions import QUESTION_RULES
from evidencekit.diagnostics import CODES


@pytest.mark.parametrize("rule", [*RULES, *QUESTION_RULES], ids=[r.code for r in [*RULES, *QUESTION_RULES]])
def test_rule_docstring_shape(rule) -> None:  # type: ignore[no-untyped-def]
    doc = rule.doc
    summary = doc.strip().splitlines()[0]
    assert summary.rstrip(".").lower() == CODES[rule.code].lower(), "first line must be the code's title"
    assert "Reference:" in doc
    assert doc.index("**Bad**") < doc.index("**Good**")
    assert doc.count("::") >= 2, "Bad and Good each need an example block"
    assert rule.function.__name__.startswith(rule.code.lower())


def test_codes_are_unique_and_named() -> None:
    rules = [*RULES, *QUESTION_RULES]
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)
    assert all(r.code in CODES for r in rules)
