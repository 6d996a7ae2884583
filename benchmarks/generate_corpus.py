"""Generate a synthetic corpus of N study definitions from the seed (for benchmarks).

Each study is the seed with its own id and title, so every rule, resource kind
and provenance check runs exactly as for the real study.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "definitions" / "galimberti-2018-ivig-cutaneous-dm.yaml"


def generate(target: Path, count: int, prefix: str = "synthetic") -> list[Path]:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(SEED.parent / "sources", target / "sources")
    text = SEED.read_text(encoding="utf-8")
    assert text.count("\nid: galimberti-2018\n") == 1
    paths = []
    for i in range(count):
        study = text.replace("\nid: galimberti-2018\n", f"\nid: {prefix}-{i:05d}\n").replace(
            "\ntitle: IVIG for refractory", f"\ntitle: Synthetic study {i:05d} - IVIG for refractory")
        path = target / f"{prefix}-{i:05d}.yaml"
        path.write_text(study, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    generate(args.target, args.count)
    print(f"wrote {args.count} definitions to {args.target}")


if __name__ == "__main__":
    main()
