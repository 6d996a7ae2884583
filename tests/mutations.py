"""Deterministic invalid variants of the valid seed output, by category.

Each :class:`Mutant` is one resource (or bundle) with one deliberate defect. The
agreement test has both validators judge every mutant and every valid resource.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

CATEGORIES = ("missing-required", "binding", "dangling-reference", "invariant", "bad-date-or-id",
              "empty-array", "primitive-format", "duplicate-fullurl")


@dataclass
class Mutant:
    category: str
    name: str
    target: str  # "Type/id" of the mutated resource, or the bundle file name
    data: dict[str, Any]
    is_bundle: bool = False


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _delete(data: dict[str, Any], path: tuple[Any, ...]) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


def _mutate(resource: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    clone = copy.deepcopy(resource)
    change(clone)
    return clone


def _elements(resource: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], list[tuple[tuple[Any, ...], Any]]]]:
    """Every present element, in definition order: (path of its key, its R5 definition,
    [(path, value) of each item]) — walked with the R5 tables the validator uses."""
    from evidencekit.validate.spec import spec

    table = spec()

    def visit(node: dict[str, Any], tname: str, base: str, path: tuple[Any, ...]) -> Iterator[Any]:
        for name, elpath, el in table.children.get((tname, base), ()):
            for key in [k for k in node if k == name or (name.endswith("[x]") and k.startswith(name[:-3]))]:
                value = node[key]
                items = ([(path + (key, i), v) for i, v in enumerate(value)] if isinstance(value, list)
                         else [(path + (key,), value)])
                yield path + (key,), el, items
                for here, item in items:
                    if isinstance(item, dict) and (tname, elpath) in table.children:
                        yield from visit(item, tname, elpath, here)
                    elif isinstance(item, dict) and el["types"] and el["types"][0] in table.types and \
                            el["types"][0] not in ("Resource", "Extension"):
                        yield from visit(item, el["types"][0], el["types"][0], here)

    yield from visit(resource, resource["resourceType"], resource["resourceType"], ())


def _required_paths(resource: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths of present elements whose definition has min >= 1."""
    return [path for path, el, _ in _elements(resource) if el["min"] >= 1]


def _required_code_paths(resource: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths of plain `code` values bound to a required value set."""
    from evidencekit.validate.spec import spec

    valuesets = spec().valuesets
    return [here for _, el, items in _elements(resource) if el.get("binding") in valuesets
            for here, item in items if isinstance(item, str)]


def resource_mutants(resource: dict[str, Any]) -> Iterator[Mutant]:
    key = f"{resource['resourceType']}/{resource['id']}"
    # missing required elements (at most 4 per resource, spread over the resource)
    required = _required_paths(resource)
    for path in required[:: max(1, len(required) // 4)][:4]:
        yield Mutant("missing-required", "delete " + ".".join(map(str, path)), key,
                     _mutate(resource, lambda r, p=path: _delete(r, p)))
    # codes outside required bindings (at most 3)
    for path in _required_code_paths(resource)[:3]:
        yield Mutant("binding", "bad code at " + ".".join(map(str, path)), key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "not-a-valid-code")))
    # dangling references (first two relative references)
    refs = [(p, v) for p, v in _paths(resource) if p and p[-1] == "reference" and isinstance(v, str) and "/" in v]
    for path, ref in refs[:2]:  # same target type, a resource that is not in the output
        yield Mutant("dangling-reference", "dangling " + ".".join(map(str, path)), key,
                     _mutate(resource, lambda r, p=path, t=ref.split("/")[0]: _set(r, p, f"{t}/does-not-exist")))
    restricted = [(p, v) for p, v in refs if any(part in ("observed", "subject", "contributor") for part in p)]
    for path, ref in restricted[:1]:  # a target type the element does not allow
        yield Mutant("invariant", "reference to a wrong resource type", key, _mutate(
            resource, lambda r, p=path: (_set(r, p, "Patient/p1"), _set(r, p[:-1] + ("type",), "Patient"))))
    # invariant violations
    yield Mutant("invariant", "Reference with nothing in it (ref-2)", key, _mutate(resource, _add_empty_reference))
    yield Mutant("invariant", "narrative with active content (txt-1)", key, _mutate(
        resource, lambda r: r["text"].__setitem__(
            "div", '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>')))
    codings = [p for p, v in _paths(resource) if isinstance(v, dict) and "code" in v and "display" in v
               and "system" in v]
    if codings:
        yield Mutant("invariant", "display without code (cod-1)", key,
                     _mutate(resource, lambda r, p=codings[0]: _delete(r, p + ("code",))))
    yield Mutant("invariant", "contained resource nobody references (dom-3)", key, _mutate(
        resource, lambda r: r.setdefault("contained", []).append(
            {"resourceType": "Practitioner", "id": "unreferenced", "name": [{"family": "Nobody"}]})))
    # bad dates and ids
    yield Mutant("bad-date-or-id", "id with a space", key, _mutate(resource, lambda r: r.__setitem__("id", "bad id")))
    yield Mutant("bad-date-or-id", "id longer than 64", key,
                 _mutate(resource, lambda r: r.__setitem__("id", "x" * 65)))
    dates = [p for p, v in _paths(resource) if p and p[-1] in ("date", "articleDate", "start", "end")
             and isinstance(v, str)]
    for path in dates[:1]:
        yield Mutant("bad-date-or-id", "impossible date", key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "2026-13-45")))
        yield Mutant("bad-date-or-id", "date in the wrong format", key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "25/11/2026")))
    # empty arrays
    lists = [p for p, v in _paths(resource) if isinstance(v, list) and v and p]
    for path in lists[:: max(1, len(lists) // 2)][:2]:
        yield Mutant("empty-array", "empty " + ".".join(map(str, path)), key,
                     _mutate(resource, lambda r, p=path: _set(r, p, [])))
    # wrong primitive formats
    numbers = [p for p, v in _paths(resource) if isinstance(v, int) and not isinstance(v, bool) and p]
    for path in numbers[:1]:
        yield Mutant("primitive-format", "number as a string", key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "thirty-five")))
    strings = [p for p, v in _paths(resource) if p and p[-1] in ("url", "system") and isinstance(v, str)]
    for path in strings[:1]:
        yield Mutant("primitive-format", "uri with spaces", key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "not a uri at all")))
    booleans = [p for p, v in _paths(resource) if isinstance(v, bool) and p]
    for path in booleans[:1]:
        yield Mutant("primitive-format", "boolean as a string", key,
                     _mutate(resource, lambda r, p=path: _set(r, p, "yes")))


def _add_empty_reference(resource: dict[str, Any]) -> None:
    resource.setdefault("extension", []).append(
        {"url": "http://example.org/fhir/StructureDefinition/test-reference", "valueReference": {"id": "nothing"}})


def bundle_mutants(bundle: dict[str, Any], name: str) -> Iterator[Mutant]:
    for index in (1, 10, 20):
        clone = copy.deepcopy(bundle)
        clone["entry"][index]["fullUrl"] = clone["entry"][0]["fullUrl"]
        yield Mutant("duplicate-fullurl", f"entry {index} repeats entry 0's fullUrl", name, clone, True)
    clone = copy.deepcopy(bundle)
    clone["entry"].append(copy.deepcopy(clone["entry"][5]))
    yield Mutant("duplicate-fullurl", "an entry twice", name, clone, True)


def all_mutants(output: Path) -> list[Mutant]:
    out: list[Mutant] = []
    for path in sorted((output / "resources").glob("*.json")):
        out.extend(resource_mutants(json.loads(path.read_text())))
    for name in ("bundle.json", "transaction.json"):
        out.extend(bundle_mutants(json.loads((output / name).read_text()), name))
    return out
