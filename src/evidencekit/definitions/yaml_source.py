"""Read one YAML definition file safely, keeping the position of every value.

Hostile input is expected: the file is size-checked before parsing, must be
UTF-8, may not use tabs for indentation, duplicate keys, anchors/aliases (no
"billion laughs") or custom tags. Parsing uses libyaml's composer (C) when
available; composed nodes carry line/column marks, which we keep per value
path so later stages can report ``file:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re

import yaml

from ..diagnostics import Diagnostic, Severity

__all__ = ["Authored", "Located", "MAX_FILE_BYTES", "Position", "read_yaml"]

#: Definitions are small hand-written files; anything bigger is refused unread.
MAX_FILE_BYTES = 2 * 1024 * 1024
_MAX_DEPTH = 64

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

#: what YAML 1.1 allows in a stream (§5.1, c-printable): tab, LF, CR, printable ASCII, NEL and the
#: printable rest of Unicode. Anything else (C0/C1 control characters, DEL, surrogates, U+FFFE/F)
#: makes libyaml's reader fail before it knows a line, so it is found and located here first.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class Authored(str):
    """A YAML number kept as the text the author wrote ("0.80" stays "0.80")."""


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class Located:
    """Parsed data plus the position of every value (and every mapping key)."""

    file: str
    data: Any
    # (line, column) tuples: building a Position per YAML node is measurably slower
    values: dict[tuple[object, ...], tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple[object, ...], tuple[int, int]] = field(default_factory=dict)

    def position(self, path: tuple[object, ...], *, key: bool = False) -> Position:
        """Position of ``path``, or of its nearest ancestor that exists."""
        if key and path in self.keys:
            return Position(*self.keys[path])
        while path:
            if path in self.values:
                return Position(*self.values[path])
            path = path[:-1]
        return Position(*self.values.get((), (1, 1)))


class _Reject(Exception):
    def __init__(self, code: str, message: str, line: int, column: int, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column, self.hint = code, message, line, column, hint


def read_yaml(path: Path, display: str) -> tuple[Located | None, list[Diagnostic]]:
    """Load ``path``; on any problem return ``None`` and one located diagnostic."""

    def fail(code: str, message: str, line: int = 0, column: int = 0, hint: str = "") -> tuple[None, list[Diagnostic]]:
        return None, [Diagnostic(display, line, column, code, Severity.ERROR, message, hint=hint)]

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return fail("EK006", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", 1, 1,
                        "a study definition is a small hand-written file; split or trim it")
        raw = path.read_bytes()
    except OSError as exc:
        return fail("EK009", f"cannot read file: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:  # the file grew between stat and read
        return fail("EK006", f"file is larger than {MAX_FILE_BYTES:,} bytes", 1, 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return fail("EK001", f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
                    line, column, "save the file as UTF-8")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return fail("EK007", "file is empty (no YAML content)", 1, 1,
                    "write a study definition, or delete the file")
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        return fail("EK012", f"control character U+{ord(bad.group()):04X} is not allowed in a definition",
                    line, column, "delete it; to mean a special character in a string, write it out in words "
                    "(a YAML escape such as \"\\x07\" is refused too)")
    for number, line_text in enumerate(text.splitlines(), start=1):
        stripped = line_text.lstrip(" ")
        if stripped.startswith("\t"):
            return fail("EK003", "tab character used for indentation", number,
                        len(line_text) - len(stripped) + 1, "YAML indentation must use spaces")
    try:
        too_deep = _too_deep(text)
    except yaml.YAMLError:
        too_deep = None  # a syntax error: compose below reports it, located
    if too_deep is not None:
        return fail("EK002", f"nesting deeper than {_MAX_DEPTH} levels", *too_deep,
                    "a study definition needs a few levels; flatten the structure")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or str(exc)
        if "\t" in problem or "'\\t'" in problem:
            return fail("EK003", "tab character where YAML does not allow one", line, column,
                        "YAML indentation must use spaces")
        return fail("EK002", f"YAML syntax error: {problem}", line, column,
                    (exc.context or "check indentation, colons and quotes near this line"))
    except yaml.YAMLError as exc:
        return fail("EK002", f"YAML syntax error: {exc}", 1, 1)
    except RecursionError:
        return fail("EK002", "YAML nesting is too deep", 1, 1)
    if root is None:
        return fail("EK007", "file is empty (no YAML content)", 1, 1)
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        return fail("EK008", f"the top level is {kind}, not a mapping of fields", root.start_mark.line + 1,
                    root.start_mark.column + 1, "start the file with `id: <study-id>` and the other fields")
    located = Located(display, None)
    try:
        located.data = _convert(root, (), located, set(), 0)
    except _Reject as exc:
        if exc.code == "EK005":
            exc.line, exc.column = _first_alias(text) or (exc.line, exc.column)
        return fail(exc.code, exc.message, exc.line, exc.column, exc.hint)
    return located, []


_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where nesting first goes deeper than ``_MAX_DEPTH``, from the token stream.

    The scanner is a loop; the composer and constructors recurse per level (libyaml's binding
    overflowed the C stack at a million levels in a 2 MB file), so depth is measured before them.
    """
    depth = 0
    for token in yaml.scan(text, Loader=_Loader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > _MAX_DEPTH:
                return token.start_mark.line + 1, token.start_mark.column + 1
        elif isinstance(token, _CLOSE):
            depth -= 1
    return None


def _first_alias(text: str) -> tuple[int, int] | None:
    """Where the first alias is used (composed nodes only know where the anchor is)."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            return event.start_mark.line + 1, event.start_mark.column + 1
    return None


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _mark(node: yaml.Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


def _convert(node: yaml.Node, path: tuple[object, ...], out: Located, seen: set[int], depth: int) -> Any:
    if id(node) in seen:
        p = _pos(node)
        raise _Reject("EK005", "YAML alias (*name) is not allowed in definitions", p.line, p.column,
                      "write the value out in full; anchors and aliases are refused to prevent alias bombs")
    seen.add(id(node))
    if depth > _MAX_DEPTH:
        p = _pos(node)
        raise _Reject("EK002", f"nesting deeper than {_MAX_DEPTH} levels", p.line, p.column)
    out.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            raise _tag_error(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MAP_TAG:
                p = _pos(key_node)
                raise _Reject("EK002", "mapping keys must be plain strings", p.line, p.column)
            if key_node.tag == "tag:yaml.org,2002:merge":
                p = _pos(key_node)
                raise _Reject("EK005", "YAML merge keys (<<) are not allowed in definitions", p.line, p.column)
            key = key_node.value
            if _NOT_PRINTABLE.search(key):
                _scalar(key_node)  # raises the located EK012
            if key in result:
                p = _pos(key_node)
                first = out.keys[path + (key,)]
                raise _Reject("EK004", f"duplicate key '{key}' (first defined at line {first[0]})",
                              p.line, p.column, "remove or rename one of the two entries")
            out.keys[path + (key,)] = _mark(key_node)
            result[key] = _convert(value_node, path + (key,), out, seen, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            raise _tag_error(node)
        return [_convert(item, path + (i,), out, seen, depth + 1) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    tag, text = node.tag, node.value
    bad = _NOT_PRINTABLE.search(text) if isinstance(text, str) else None
    if bad is not None:  # written as an escape ("\x07", "\ud800") in a double-quoted string
        p = _pos(node)
        raise _Reject("EK012", f"control character U+{ord(bad.group()):04X} (written as an escape) is not allowed "
                      "in a definition", p.line, p.column, "delete the escape; FHIR strings cannot carry it")
    if tag == _STR_TAG:
        return text
    if tag == _INT_TAG:
        try:
            return int(text.replace("_", ""), 0) if not text.lstrip("+-").isdigit() else int(text)
        except ValueError:
            return Authored(text)
    if tag == _FLOAT_TAG:
        return Authored(text)
    if tag == _BOOL_TAG:
        return text.lower() in ("true", "yes", "on", "y")
    if tag == _NULL_TAG:
        return None
    if tag in ("tag:yaml.org,2002:timestamp",):
        return text  # dates stay text; the model validates their format
    raise _tag_error(node)


def _tag_error(node: yaml.Node) -> _Reject:
    p = _pos(node)
    return _Reject("EK002", f"YAML tag '{node.tag}' is not allowed", p.line, p.column,
                   "remove the explicit !tag; definitions use plain YAML values")
