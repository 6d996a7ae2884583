"""Plan transactions in reference order: cycles kept together, waves of independent chunks."""

from __future__ import annotations

from ...validate._base import reference_strings
from .model import Json

__all__ = ["plan_chunks"]


def _key(resource: Json) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _references(resource: Json) -> set[str]:
    """Relative references (``Type/id``) a resource makes to other resources."""
    return {ref for ref in reference_strings(resource) if ref.count("/") == 1 and not ref.startswith("#")}


def _components(keys: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components in dependency order (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in keys:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.append(item)
                    if item == node:
                        break
                out.append(sorted(component))
    return out  # Tarjan emits a component after everything it depends on


def plan_chunks(resources: list[Json], size: int) -> list[list[Json]]:
    """Transactions of at most ``size`` resources (larger only to keep a cycle together),
    in an order where each only references earlier ones, itself, or resources not sent."""
    by_key = {_key(r): r for r in resources}
    edges = {k: {ref for ref in _references(r) if ref in by_key and ref != k} for k, r in by_key.items()}
    chunks: list[list[Json]] = []
    current: list[Json] = []
    for component in _components(sorted(by_key), edges):
        if current and len(current) + len(component) > size:
            chunks.append(current)
            current = []
        current.extend(by_key[k] for k in component)
    if current:
        chunks.append(current)
    return chunks


def _waves(chunks: list[list[Json]]) -> list[list[int]]:
    """Group chunk indexes so a chunk only depends on chunks of earlier waves."""
    where = {_key(r): i for i, chunk in enumerate(chunks) for r in chunk}
    level: list[int] = []
    for i, chunk in enumerate(chunks):
        deps = {where[ref] for r in chunk for ref in _references(r) if ref in where and where[ref] != i}
        level.append(1 + max((level[d] for d in deps), default=-1))
    waves: dict[int, list[int]] = {}
    for i, lvl in enumerate(level):
        waves.setdefault(lvl, []).append(i)
    return [waves[k] for k in sorted(waves)]
