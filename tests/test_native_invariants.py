"""Native invariant implementations agree with fhirpathpy evaluating the spec's expression."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evidencekit.validate.native_invariants import NATIVE, WITHOUT_REFERENCE, per_1, rng_2, txt_1, txt_2
from evidencekit.validate.spec import Spec


@pytest.fixture(scope="module")
def specs() -> tuple[Spec, Spec]:
    native, reference = Spec.load(), Spec.load()
    reference.use_native = False
    return native, reference


def _findings(spec: Spec, resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((f.code, f.fhir_path, f.message) for f in spec.check(resource) if f.layer == "invariants")


def _variants(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The resource plus edits that flip each natively implemented invariant."""
    out = [resource]

    def edit(change: Any) -> None:
        clone = copy.deepcopy(resource)
        if change(clone) is not False:
            out.append(clone)

    edit(lambda r: r.update(name="lower case name"))                       # cnl-0
    edit(lambda r: r.update(url="http://x.org/a|1.0") if "url" in r else False)   # cnl-1
    edit(lambda r: r.pop("text", None))                                   # dom-6
    edit(lambda r: r.setdefault("contained", []).append(
        {"resourceType": "Practitioner", "id": "orphan", "meta": {"versionId": "1", "security": [{"code": "x"}]},
         "contained": [{"resourceType": "Practitioner", "id": "deeper"}]}))  # dom-2..5
    edit(lambda r: r.update(relatedArtifact=[{"type": "citation", "resourceReference": {"reference": "#nope"}},
                                             {"type": "citation", "resourceReference": {"id": "x"}}]))  # ref-1, ref-2

    def coding(r: dict[str, Any]) -> Any:
        for value in _dicts(r):
            if "code" in value and "system" in value and "display" in value:
                del value["code"]                                          # cod-1
                return None
        return False

    def quantity(r: dict[str, Any]) -> Any:
        for value in _dicts(r):
            if "value" in value and "unit" in value:
                value["code"] = "d"                                        # qty-3 (code without system)
                value.pop("system", None)
                return None
        return False

    def section(r: dict[str, Any]) -> Any:
        if r.get("resourceType") != "Composition":
            return False
        r["section"][0] = {"title": "empty"}                               # cmp-1
        r["section"].append({"title": "both", "emptyReason": {"text": "x"},
                             "entry": [{"reference": "Citation/galimberti-2018-citation"}]})  # cmp-2
        return None

    def identifier(r: dict[str, Any]) -> Any:
        if "identifier" not in r.get("citedArtifact", {}):
            return False
        r["citedArtifact"]["identifier"].append({"system": "https://doi.org"})  # ident-1
        return None

    for change in (coding, quantity, section, identifier):
        edit(change)
    return out


def _dicts(value: Any) -> Any:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _dicts(v)


def test_native_equals_fhirpathpy(seed_build: Path, specs: tuple[Spec, Spec]) -> None:
    native, reference = specs
    flipped: set[str] = set()
    checked = 0
    for path in sorted((seed_build / "resources").glob("*.json")):
        for resource in _variants(json.loads(path.read_text())):
            got, want = _findings(native, resource), _findings(reference, resource)
            assert got == want, (path.name, got, want)
            flipped.update(message.split(":", 1)[0] for _, _, message in want)
            checked += 1
    assert checked > 150
    # every native invariant was exercised failing at least once, so the comparison means something
    missing = set(NATIVE) - WITHOUT_REFERENCE - flipped
    assert not missing, f"never failed: {sorted(missing)}"


def test_native_keys_match_spec_expressions(specs: tuple[Spec, Spec]) -> None:
    native, _ = specs
    seen = {c[0] for els in native.types.values() for el in els.values() for c in el.get("constraints", [])}
    assert set(NATIVE) <= seen


@pytest.mark.parametrize("start,end,ok", [
    ("2018-06-01", "2018-12", True), ("2018-12", "2018-06-01", False), ("2018", "2018", True),
    ("2018-06-01T10:00:00Z", "2018-06-01T09:00:00Z", False), ("2018-06-01T10:00:00+02:00", "2018-06-01T09:00:00Z", True),
    ("2018-06-02", "2018-06-01", False), ("2018-06-01", "2018-06-01T00:00:00Z", True),
])
def test_per_1(start: str, end: str, ok: bool) -> None:
    assert per_1({"start": start, "end": end}, {}) is ok
    assert per_1({"start": start}, {}) is True


# FHIRPath boundaries widen by half a unit of the last digit: low 2 / high 1 gives 1.5 <= 1.5,
# which satisfies rng-2 as written; 3 / 1 (2.5 > 1.5) does not.
@pytest.mark.parametrize("low,high,ok", [(1, 2, True), (2, 1, True), (3, 1, False), ("1.5", "1.5", True),
                                          ("1.6", "1.5", True), ("1.7", "1.5", False)])
def test_rng_2(low: object, high: object, ok: bool) -> None:
    assert rng_2({"low": {"value": low}, "high": {"value": high}}, {}) is ok


@pytest.mark.parametrize("div,ok1,ok2", [
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p>text</p></div>', True, True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>', False, True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>', False, True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">a</a></div>', False, True),
    ('<div><p>no namespace</p></div>', False, True),
    ('<div xmlns="http://www.w3.org/1999/xhtml"><p>unclosed</div>', False, True),
    ('<div xmlns="http://www.w3.org/1999/xhtml">  <p> </p></div>', True, False),
    ('<!DOCTYPE x [<!ENTITY a "b">]><div xmlns="http://www.w3.org/1999/xhtml">&a;</div>', False, True),
])
def test_txt(div: str, ok1: bool, ok2: bool) -> None:
    assert (txt_1(div, {}), txt_2(div, {})) == (ok1, ok2)
