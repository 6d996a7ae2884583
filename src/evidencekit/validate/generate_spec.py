"""Generate ``data/r5-spec.json``: the slice of FHIR R5 that evidencekit's validator needs.

For every resource type evidencekit emits (and every datatype reachable from them) it
records each element's cardinality, types, required binding and FHIRPath constraints,
taken from the StructureDefinition snapshots of ``hl7.fhir.r5.core`` 5.0.0; and the codes
of every required value set, expanded from the code systems of that package and of
``hl7.terminology.r5``. Run it with `make r5-spec` (which fetches the pinned packages
with npm); the output is committed, and its header records the packages and their sha256.

    python -m evidencekit.validate.generate_spec --core hl7.fhir.r5.core-5.0.0.tgz \\
        --terminology hl7.terminology.r5-7.0.1.tgz -o src/evidencekit/validate/data/r5-spec.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

RESOURCES = ("ArtifactAssessment", "Bundle", "Citation", "Composition", "Evidence", "EvidenceVariable",
             "Group", "Practitioner", "PlanDefinition", "ActivityDefinition", "ValueSet", "CodeSystem")
#: Constraints every element carries that other layers already enforce (see spec.py).
NATIVE = {"ele-1": "empty elements are rejected by the fhir.resources models (layer models)",
          "ext-1": "extension value/extension exclusivity is enforced by the fhir.resources models"}


def _read_package(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".json") or "/other/" in member.name:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            try:
                data = json.load(io.TextIOWrapper(handle, encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(data, dict) and "url" in data and data.get("resourceType") in (
                    "StructureDefinition", "ValueSet", "CodeSystem"):
                out.setdefault(data["url"], data)
    return out


def _codes(concepts: list[dict[str, Any]]) -> list[str]:
    out = []
    for concept in concepts:
        out.append(concept["code"])
        out.extend(_codes(concept.get("concept", [])))
    return out


def _expand(url: str, defs: dict[str, dict[str, Any]], seen: set[str]) -> list[list[str]] | None:
    """[[system, code], ...] of a value set, or None when it cannot be expanded offline."""
    url = url.split("|")[0]
    vs = defs.get(url)
    if vs is None or url in seen:
        return None
    seen = seen | {url}
    result: list[list[str]] = []
    for include in vs.get("compose", {}).get("include", []):
        if include.get("filter"):
            return None
        system = include.get("system")
        if include.get("valueSet"):
            for inner in include["valueSet"]:
                expanded = _expand(inner, defs, seen)
                if expanded is None:
                    return None
                result.extend(expanded)
        if system is None:
            continue
        if include.get("concept"):
            result.extend([system, c["code"]] for c in include["concept"])
        else:
            cs = defs.get(system)
            if cs is None or cs.get("content") not in (None, "complete"):
                return None
            result.extend([system, code] for code in _codes(cs.get("concept", [])))
    excluded = {(e.get("system"), c["code"]) for e in vs.get("compose", {}).get("exclude", [])
                for c in e.get("concept", [])}
    return sorted({tuple(x) for x in result if (x[0], x[1]) not in excluded})  # type: ignore[misc]


def _type_code(type_: dict[str, Any]) -> str:
    """FHIR type of an element type; System.String ids etc. carry it in an extension."""
    for ext in type_.get("extension", []):
        if ext.get("url") == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type":
            return str(ext.get("valueUrl") or ext.get("valueUri"))
    return str(type_["code"])


def generate(core: Path, terminology: Path) -> dict[str, Any]:
    defs = _read_package(terminology)
    defs.update(_read_package(core))  # the core package wins for its own definitions
    all_types = {d["type"]: d for d in defs.values()
                 if d.get("resourceType") == "StructureDefinition" and d.get("derivation") == "specialization"}
    sd_by_type = {t: d for t, d in all_types.items() if d.get("kind") in ("resource", "complex-type")}
    primitives = {}
    for t, d in sorted(all_types.items()):
        if d.get("kind") != "primitive-type":
            continue
        for el in d["snapshot"]["element"]:
            if el["path"] == f"{t}.value":
                regex = [x.get("valueString") for ty in el.get("type", []) for x in ty.get("extension", [])
                         if x.get("url") == "http://hl7.org/fhir/StructureDefinition/regex"]
                primitives[t] = regex[0] if regex else None
    domain_root = [c for c in all_types["DomainResource"]["snapshot"]["element"][0].get("constraint", [])]
    bound_systems: set[str] = set()
    types: dict[str, dict[str, Any]] = {}
    valuesets: dict[str, Any] = {}
    unexpandable: list[str] = []
    todo = list(RESOURCES)
    while todo:
        name = todo.pop()
        if name in types or name not in sd_by_type:
            continue
        elements = {}
        sd = sd_by_type[name]
        for el in sd["snapshot"]["element"]:
            el_types = [_type_code(t) for t in el.get("type", [])]
            if el["path"] == name and sd.get("kind") == "resource" and name not in ("Bundle", "Resource"):
                # canonical resources' snapshots omit DomainResource's dom-* constraints; validators apply them
                have = {c["key"] for c in el.get("constraint", [])}
                el = {**el, "constraint": el.get("constraint", []) + [c for c in domain_root if c["key"] not in have]}
            targets = sorted({p.rsplit("/", 1)[-1] for t in el.get("type", []) if t.get("code") == "Reference"
                              for p in t.get("targetProfile", [])})
            binding = el.get("binding", {})
            if binding.get("valueSet"):
                vs = defs.get(binding["valueSet"].split("|")[0])
                for include in (vs or {}).get("compose", {}).get("include", []):
                    if include.get("system"):
                        bound_systems.add(include["system"])
            required = binding.get("valueSet", "").split("|")[0] if binding.get("strength") == "required" else None
            if required and required not in valuesets and required not in unexpandable:
                expanded = _expand(required, defs, set())
                if expanded is None:
                    unexpandable.append(required)
                else:
                    valuesets[required] = expanded
            constraints = [[c["key"], c["severity"], c.get("expression", ""), c.get("human", "")]
                           for c in el.get("constraint", []) if c["key"] not in NATIVE]
            elements[el["path"]] = {"min": el.get("min", 0), "max": el.get("max", "*"), "types": el_types,
                                    **({"targets": targets} if targets else {}),
                                    **({"ref": el["contentReference"].lstrip("#")} if "contentReference" in el else {}),
                                    **({"binding": required} if required else {}),
                                    **({"constraints": constraints} if constraints else {})}
            for t in el_types:
                if t[:1].isupper() and t not in types:
                    todo.append(t)
        types[name] = elements
    codesystems = {}
    for system in sorted(bound_systems):
        cs = defs.get(system)
        if cs and cs.get("resourceType") == "CodeSystem" and cs.get("content") in (None, "complete") \
                and cs.get("concept"):
            codesystems[system] = sorted(set(_codes(cs["concept"])))
    return {"generated_from": {}, "resources": list(RESOURCES), "native_constraints": NATIVE,
            "unexpandable_valuesets": sorted(unexpandable),
            "primitives": primitives,
            "types": {k: types[k] for k in sorted(types)},
            "valuesets": {k: valuesets[k] for k in sorted(valuesets)},
            "codesystems": codesystems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core", type=Path, required=True)
    parser.add_argument("--terminology", type=Path, required=True)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    table = generate(args.core, args.terminology)
    table["generated_from"] = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (args.core, args.terminology)}
    args.output.write_text(json.dumps(table, indent=1, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(table['types'])} types, {len(table['valuesets'])} value sets")


if __name__ == "__main__":
    main()
