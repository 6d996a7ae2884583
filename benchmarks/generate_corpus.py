"""Generate a synthetic corpus of N study definitions (for benchmarks).

Half the studies are copies of the seed (a single-group cohort), half copies of ProDERM
(a parallel randomized trial), alternating; each has its own id and title, so every rule,
resource kind, recomputation and provenance check runs exactly as for the real studies.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "definitions" / "galimberti-2018-ivig-cutaneous-dm.yaml"
TRIAL = ROOT / "definitions" / "aggarwal-2022-proderm.yaml"
#: (file, its study id line, its title line) of each template
TEMPLATES = ((SEED, "\nid: galimberti-2018\n", "\ntitle: IVIG for refractory"),
             (TRIAL, "\nid: aggarwal-2022\n", "\ntitle: IVIG vs placebo"))


def generate(target: Path, count: int, prefix: str = "synthetic", comparative: bool = True) -> list[Path]:
    """``count`` studies; with ``comparative``, every second one is a randomized trial."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(SEED.parent / "sources", target / "sources")
    texts = [(path.read_text(encoding="utf-8"), id_line, title) for path, id_line, title in TEMPLATES]
    for text, id_line, title in texts:
        assert text.count(id_line) == 1 and text.count(title) == 1
    paths = []
    for i in range(count):
        text, id_line, title = texts[i % 2 if comparative else 0]
        study = text.replace(id_line, f"\nid: {prefix}-{i:05d}\n").replace(
            title, f"\ntitle: Synthetic study {i:05d} - {title.removeprefix(chr(10) + 'title: ')}")
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
