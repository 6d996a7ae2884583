"""Authoring benchmarks (issue 12): `build --watch` on the 1,000-study corpus and the cost of the
progress display.

* watch: a full build, then one changed file rebuilt, validated and written (`Workspace.update`),
  for a study no question cites and for one a question cites (the question is rebuilt too), five
  times each; then the whole-corpus refresh (`Workspace.refresh`). Goal: an update at most 0.5 s.
* progress: a 300-study corpus built three ways in one run — quiet (no reporter), recording phases
  only, and drawing the rich display into a terminal-like buffer — three times each, in rotated
  order; the fastest of each and the ratios to quiet (run-to-run noise is about ±20%).

Writes a JSON results file (`make bench`: benchmarks/watch-results.json), read by run.py.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_corpus import generate  # noqa: E402

from evidencekit.config import Config  # noqa: E402
from evidencekit.pipeline import build  # noqa: E402
from evidencekit.progress import QUIET, Phases, rich_reporter  # noqa: E402
from evidencekit.watch import Workspace  # noqa: E402


def _updates(workspace: Workspace, path: Path, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\ntitle: ", f"\ntitle: edit {i} ", 1), encoding="utf-8")
        update = workspace.update({path})
        if not update.ok:
            raise SystemExit(f"update failed: {[d.format_text() for d in update.diagnostics][:3]}")
        out.append(update.seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "watch-results.json")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--progress-studies", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # the progress display first, in a fresh process: quiet, phases recorded, display drawn, three
        # times each in rotated order; the fastest of each is compared
        small = work / "small"
        generate(small, args.progress_studies, questions=args.progress_studies // 10)

        def timed(progress: object) -> float:
            shutil.rmtree(work / "small-out", ignore_errors=True)
            started = time.perf_counter()
            result = build(small, work / "small-out", config=Config(), progress=progress)  # type: ignore[arg-type]
            assert result.ok
            return time.perf_counter() - started

        from rich.console import Console

        builds: dict[str, list[float]] = {"quiet": [], "phases": [], "drawn": []}
        for order in (("quiet", "phases", "drawn"), ("phases", "drawn", "quiet"), ("drawn", "quiet", "phases")):
            for kind in order:  # each kind first, second and third once: order effects cancel
                if kind == "drawn":
                    with rich_reporter(Console(file=io.StringIO(), force_terminal=True, width=100)) as reporter:
                        builds[kind].append(timed(reporter))
                else:
                    builds[kind].append(timed(QUIET if kind == "quiet" else Phases()))
        quiet, recorded, drawn = (min(builds[k]) for k in ("quiet", "phases", "drawn"))

        corpus = work / "definitions"
        generate(corpus, args.studies, questions=args.studies // 10)
        workspace = Workspace(corpus, work / "out", Config())
        first = workspace.full_build()
        assert first.ok
        cited = {c.study for q in workspace.questions.values() for o in q.question.outcomes for c in o.results}
        by_id = {s.study.id: s.path for s in workspace.studies.values()}
        lone = next(path for ident, path in sorted(by_id.items()) if ident not in cited)
        quoted = next(path for ident, path in sorted(by_id.items()) if ident in cited)
        lone_times = _updates(workspace, lone, args.runs)
        cited_times = _updates(workspace, quoted, args.runs)
        started = time.perf_counter()
        workspace.refresh()
        refresh = time.perf_counter() - started
    results = {
        "studies": args.studies, "resources": first.written, "machine": platform.machine(),
        "full_build_seconds": round(first.seconds, 2),
        "update_lone_seconds": [round(t, 3) for t in lone_times],
        "update_cited_seconds": [round(t, 3) for t in cited_times],
        "update_lone_median": round(statistics.median(lone_times), 3),
        "update_cited_median": round(statistics.median(cited_times), 3),
        "refresh_seconds": round(refresh, 2),
        "progress_studies": args.progress_studies,
        "builds_seconds": {k: [round(t, 2) for t in v] for k, v in builds.items()},
        "build_quiet_seconds": round(quiet, 2), "build_phases_seconds": round(recorded, 2),
        "build_progress_seconds": round(drawn, 2),
        "progress_ratio": round(drawn / quiet, 3), "phases_ratio": round(recorded / quiet, 3),
        "written": time.strftime("%Y-%m-%d"),
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
