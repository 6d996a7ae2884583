"""JSON serialization that writes decimals exactly as authored.

``json`` cannot emit a raw number from a ``Decimal``; fhir.resources turns
"0.80" into 0.8. We let the C encoder emit a per-process marker string for
each Decimal and then replace the quoted marker by the plain decimal digits.
The marker contains a random nonce, so no user text can collide with it.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "dumps_line"]

_NONCE = secrets.token_hex(8)
_MARK = f"@@ekdec{_NONCE}:"
_PATTERN = re.compile(rf'"{re.escape(_MARK)}(-?[0-9]+(?:\.[0-9]+)?)"')


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value} cannot be written to FHIR JSON")
        return _MARK + format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """Pretty JSON (2-space indent, UTF-8, trailing newline), decimals verbatim."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_default)
    return _PATTERN.sub(r"\1", text) + "\n"


def dumps_line(obj: Any) -> str:
    """Compact one-line JSON for NDJSON, decimals verbatim."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_default)
    return _PATTERN.sub(r"\1", text)


def loads(text: str) -> Any:
    """Parse FHIR JSON keeping decimals as ``Decimal`` (so "0.80" stays 0.80)."""
    return json.loads(text, parse_float=Decimal)
