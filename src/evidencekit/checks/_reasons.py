"""What the reason rules share: the numbers a certainty reason states."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["stated_numbers"]

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w]|\.\d)")
_UNIT = r"(?:days?|weeks?|months?|years?)"
#: a time, not a count: "week 16", "weeks 0 to 40", "16 weeks", "three months"
_TIME_BEFORE = re.compile(rf"(?i)\b{_UNIT}\s+(?:\d+(?:\.\d+)?\s*(?:to|-|–)\s*)?$")
_TIME_AFTER = re.compile(rf"(?i)^(?:\s*(?:to|-|–)\s*\d+(?:\.\d+)?)?\s*{_UNIT}\b")


def stated_numbers(text: str) -> list[Decimal]:
    """The counts a reason states, as written ('45 and 43 patients' -> 45, 43); not times ('from
    week 16', '40 weeks') nor numbers inside words ('TIS20')."""
    return [Decimal(m.group()) for m in _NUMBER.finditer(text)
            if not _TIME_BEFORE.search(text[:m.start()]) and not _TIME_AFTER.match(text[m.end():])]
