"""The evidence report site (issue 14) on the 1,000-study corpus: the FHIR build against the site.

Generates the synthetic corpus (1,000 studies, half randomized, 100 questions), times
`evidencekit build` and then `evidencekit report` on its output, each in a fresh process (wall
time, as a user sees it, interpreter start-up included), in one run on the same machine.
Goal: the site takes less time than the FHIR build. Writes benchmarks/site-results.json (read by
run.py for results.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_corpus import generate  # noqa: E402

EVIDENCEKIT = [str(Path(sys.executable).parent / "evidencekit")]


def _timed(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "site-results.json")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        generate(corpus, args.studies, questions=args.questions)
        out = work / "out"
        build_s, _ = _timed([*EVIDENCEKIT, "build", str(corpus), "-o", str(out), "-q"])
        resources = len(list((out / "r5" / "resources").glob("*.json")))
        # the site alone (no `check` of the definitions): what it costs to turn the FHIR output into pages
        site_s, said = _timed([*EVIDENCEKIT, "report", str(out), "-o", str(work / "site"),
                               "--definitions", str(work / "none")])
        pages = len(list((work / "site").rglob("*.html")))
        plots = sum(p.read_text(encoding="utf-8").count("<figure>") for p in (work / "site" / "questions").glob("*.html"))
        site_bytes = sum(p.stat().st_size for p in (work / "site").rglob("*") if p.is_file())
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {_cores()} cores",
              "studies": args.studies, "questions": args.questions, "resources": resources,
              "build_s": round(build_s, 1), "site_s": round(site_s, 1), "ratio": round(site_s / build_s, 2),
              "pages": pages, "plots": plots, "site_mib": round(site_bytes / 2**20, 1), "report_said": said.strip()}
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
