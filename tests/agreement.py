"""Agreement of `evidencekit validate` with the HL7 validator on the mutation corpus.

    python tests/agreement.py            # prints the per-category table (needs Java, Maven, npm)

Recall = of the mutants the HL7 validator rejects (any error), the share we also reject.
"Ours only" = mutants we reject and it accepts (each category's reason is in
docs/conformance.md). False positives = valid seed resources we reject (must be 0).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidencekit.diagnostics import Severity  # noqa: E402
from evidencekit.validate import LAYERS, OutputSet, validate_output  # noqa: E402
from mutations import CATEGORIES, Mutant, all_mutants  # noqa: E402

PER_RESOURCE = ["models", "structure", "primitives", "cardinality", "bindings", "invariants", "target-types",
                "profiles"]


def ours_rejects(mutant: Mutant, valid: list[dict[str, Any]], without: tuple[str, ...] = ()) -> list[str]:
    """Error messages our validator reports for the mutated resource or bundle."""
    layers = [name for name in LAYERS if name not in without]
    if mutant.is_bundle:
        resources = [e["resource"] for e in mutant.data["entry"]]
        output = OutputSet(resources, {mutant.target: mutant.data}, bundle_files={mutant.target: mutant.target})
        return [d.message for d in validate_output(output, layers) if d.severity is Severity.ERROR]
    key = f"{mutant.data.get('resourceType')}/{mutant.data.get('id')}"
    others = [r for r in valid if f"{r['resourceType']}/{r['id']}" != mutant.target]
    single = OutputSet([mutant.data], where={key: ("MUTANT", 0, 0)})
    found = [d for d in validate_output(single, [n for n in PER_RESOURCE if n not in without])]
    whole = OutputSet([mutant.data, *others], where={key: ("MUTANT", 0, 0)})
    found += LAYERS["references"](whole)
    return [d.message for d in found if d.severity is Severity.ERROR and d.file == "MUTANT"]


def oracle_rejects(mutant: Mutant, oracle: Any, directory: Path) -> list[str]:
    path = directory / "mutant.json"
    path.write_text(json.dumps(mutant.data), encoding="utf-8")
    outcome = oracle.validate(path)
    return [i.get("diagnostics", "") for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")]


def measure(output: Path, oracle: Any, without: tuple[str, ...] = ()) -> dict[str, Any]:
    valid = [json.loads(p.read_text()) for p in sorted((output / "resources").glob("*.json"))]
    mutants = all_mutants(output)
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    disagreements: list[dict[str, Any]] = []
    false_positives = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for resource in valid:
            mutant = Mutant("valid", "unchanged", f"{resource['resourceType']}/{resource['id']}", resource)
            if ours_rejects(mutant, valid, without):
                false_positives.append(mutant.target)
            if oracle_rejects(mutant, oracle, directory):
                false_positives.append(f"oracle rejects {mutant.target}")
        for mutant in mutants:
            ours, theirs = ours_rejects(mutant, valid, without), oracle_rejects(mutant, oracle, directory)
            row = table[mutant.category]
            row["mutants"] += 1
            row["oracle_rejects"] += bool(theirs)
            row["we_reject"] += bool(ours)
            row["both"] += bool(ours and theirs)
            row["oracle_only"] += bool(theirs and not ours)
            row["ours_only"] += bool(ours and not theirs)
            if bool(ours) != bool(theirs):
                disagreements.append({"category": mutant.category, "mutant": mutant.name, "target": mutant.target,
                                      "ours": ours[:2], "oracle": theirs[:2]})
    total = {k: sum(r[k] for r in table.values()) for k in ("mutants", "oracle_rejects", "both", "ours_only",
                                                           "oracle_only", "we_reject")}
    return {"categories": {c: dict(table[c]) for c in CATEGORIES if c in table}, "total": total,
            "valid_resources": len(valid), "false_positives": false_positives,
            "disagreements": disagreements}


def recall(row: dict[str, int]) -> float | None:
    return row["both"] / row["oracle_rejects"] if row.get("oracle_rejects") else None


def markdown(result: dict[str, Any]) -> str:
    lines = ["| category | mutants | HL7 rejects | we reject | both | recall | HL7 only | ours only |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in [*result["categories"].items(), ("**all**", result["total"])]:
        r = recall(row)
        lines.append(f"| {name} | {row['mutants']} | {row['oracle_rejects']} | {row['we_reject']} | {row['both']} | "
                     f"{'n/a' if r is None else f'{r:.1%}'} | {row['oracle_only']} | {row['ours_only']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    from fhir_oracle import Oracle

    args = [a for a in sys.argv[1:] if not a.startswith("--without=")]
    without = tuple(n for a in sys.argv[1:] if a.startswith("--without=") for n in a.split("=", 1)[1].split(","))
    target = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "output" / "r5"
    with Oracle() as running:
        result = measure(target, running, without)
    print(markdown(result))
    print(f"\nvalid resources: {result['valid_resources']}, false positives: {result['false_positives']}")
    for item in result["disagreements"]:
        print(json.dumps(item)[:400])
