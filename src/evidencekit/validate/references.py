"""Layer 2: reference integrity inside the output (references, canonicals, fullUrls)."""

from __future__ import annotations

from typing import Any, Iterator

from ..diagnostics import Diagnostic
from ._base import OutputSet, ResourceIndex, canonical_of, key_of

__all__ = ["validate_references"]


def _walk(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object below ``value`` with its FHIR path (iterative: resources can be deep)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            yield where, node
            for k, v in node.items():
                if isinstance(v, (dict, list)):
                    stack.append((f"{where}.{k}", v))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, (dict, list)):
                    stack.append((f"{where}[{i}]", v))


def validate_references(output: OutputSet) -> Iterator[Diagnostic]:
    """Every Reference resolves to a resource in the output (or a contained one); no dangling urn:uuid."""
    context = output.context
    fresh = ResourceIndex()
    for resource in output.resources:
        k = key_of(resource)
        fresh.add([resource])
        if fresh.keys[k] + context.keys.get(k, 0) == 2:
            yield output.diag(k, "EK404", f"resource {k} occurs more than once", k)
    keys = set(fresh.keys) | context.keys.keys()
    canonicals = set(fresh.canonicals) | context.canonicals.keys()
    bases = set(fresh.bases) | context.bases.keys()
    prefixes = tuple(b + "/" for b in sorted(bases))
    listed = {id(r) for r in output.resources}
    for name, bundle in output.bundles.items():
        seen: set[str] = set()
        for i, entry in enumerate(bundle.get("entry", [])):
            full = entry.get("fullUrl")
            if full in seen:
                yield output.diag(name, "EK404", f"bundle {name}: fullUrl {full} occurs twice",
                                  f"Bundle.entry[{i}].fullUrl")
            seen.add(full)
        # Resources that are also validated on their own are walked below; the rest here.
        pruned = dict(bundle)
        pruned["entry"] = [e if not isinstance(e, dict) or id(e.get("resource")) not in listed
                           else {k: v for k, v in e.items() if k != "resource"}
                           for e in bundle.get("entry", []) or []]
        urns = seen if any(str(u).startswith("urn:uuid:") for u in seen) else set()
        for path, node in _walk(pruned, "Bundle"):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith("urn:uuid:") and ref not in urns:
                yield output.diag(name, "EK402", f"bundle {name}: {ref} matches no entry fullUrl", path)
    full_urls = {e.get("fullUrl") for b in output.bundles.values() for e in b.get("entry", []) or []
                 if isinstance(e, dict)}
    for resource in output.resources:
        k = key_of(resource)
        rtype = str(resource.get("resourceType"))
        contained = {f"#{c.get('id')}" for c in resource.get("contained", []) or [] if isinstance(c, dict)}
        own = canonical_of(resource)
        for path, node in _walk({k2: v for k2, v in resource.items() if k2 != "contained"}, rtype):
            ref = node.get("reference")
            if isinstance(ref, str):
                if ref.startswith("#"):
                    if ref != "#" and ref not in contained:
                        yield output.diag(k, "EK402", f"{k}: {ref} matches no contained resource", path)
                elif ref.startswith("urn:uuid:"):
                    if ref not in full_urls:
                        yield output.diag(k, "EK402", f"{k}: {ref} matches no bundle entry fullUrl", path)
                elif "://" in ref:
                    base = next((b for b in bases if ref.startswith(b + "/")), None)
                    if base is not None and ref[len(base) + 1:] not in keys:
                        yield output.diag(k, "EK402", f"{k}: {ref} does not resolve inside the output", path)
                elif ref not in keys:
                    yield output.diag(k, "EK402", f"{k}: reference {ref} does not resolve inside the output",
                                      path, hint="every referenced resource must be part of the build")
            for field, value in node.items():
                if (isinstance(value, str) and prefixes and value.startswith(prefixes) and value != own
                        and field != "url" and value not in canonicals):
                    yield output.diag(k, "EK402", f"{k}: canonical {value} does not resolve inside the output",
                                      f"{path}.{field}")
