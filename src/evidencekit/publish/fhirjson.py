"""JSON serialization that writes decimals exactly as authored.

fhir.resources turns "0.80" into 0.8, and neither ``json`` nor ``orjson`` can
emit a raw number from a ``Decimal``. We let orjson emit a per-process marker
string for each Decimal and then replace the quoted marker by the plain
decimal digits. The marker contains a random nonce, so no user text can
collide with it. Pretty output is byte-identical to ``json.dumps(indent=2,
ensure_ascii=False)``.
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "dumps_line", "loads"]

_NONCE = secrets.token_hex(8)
_OPEN = f"@@ekdec{_NONCE}<"
_CLOSE = f">{_NONCE}@@"
_QUOTED_OPEN = b'"' + _OPEN.encode()
_QUOTED_CLOSE = _CLOSE.encode() + b'"'


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value} cannot be written to FHIR JSON")
        return _OPEN + format(value, "f") + _CLOSE
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_bytes(obj: Any, *, pretty: bool = True) -> bytes:
    """UTF-8 JSON bytes; pretty = 2-space indent plus a trailing newline."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    # Two plain replaces (C speed) turn '"<open>0.80<close>"' into '0.80'.
    data = orjson.dumps(obj, default=_default, option=option)
    if _QUOTED_OPEN in data:
        data = data.replace(_QUOTED_OPEN, b"").replace(_QUOTED_CLOSE, b"")
    return data + b"\n" if pretty else data


def dumps_bundle(bundle: dict[str, Any], resources: list[bytes]) -> bytes:
    """Pretty bytes of ``bundle`` whose i-th entry holds the resource pretty-printed as ``resources[i]``.

    Equal to ``dumps_bytes(bundle)`` but reuses each resource's serialization,
    re-indented, instead of encoding it again (bundles hold every resource).
    """
    shell = dict(bundle)
    shell["entry"] = [{**entry, "resource": f"{_OPEN}{i}{_CLOSE}"} for i, entry in enumerate(bundle["entry"])]
    text = orjson.dumps(shell, default=_default, option=orjson.OPT_INDENT_2)
    parts = text.split(_QUOTED_OPEN)
    out = [parts[0]]
    for part in parts[1:]:
        index, _, rest = part.partition(_QUOTED_CLOSE)
        if index.isdigit():
            # entry objects sit at depth 3 in a Bundle: 6 spaces of indentation
            out.append(resources[int(index)].rstrip(b"\n").replace(b"\n", b"\n      "))
        else:  # a decimal inside the bundle shell itself
            out.append(index)
        out.append(rest)
    return b"".join(out) + b"\n"


def dumps(obj: Any) -> str:
    """Pretty JSON (2-space indent, UTF-8, trailing newline), decimals verbatim."""
    return dumps_bytes(obj).decode("utf-8")


def dumps_line(obj: Any) -> str:
    """Compact one-line JSON for NDJSON, decimals verbatim."""
    return dumps_bytes(obj, pretty=False).decode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse FHIR JSON keeping decimals as ``Decimal`` (so "0.80" stays 0.80)."""
    return json.loads(text, parse_float=Decimal)
