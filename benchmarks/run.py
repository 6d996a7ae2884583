"""evidencekit benchmarks: `make bench` writes benchmarks/results.md.

1. Cold `evidencekit build` of definitions/ (new process each time; median of 5).
2. Throughput on a synthetic corpus of 1,000 studies: build+validate+write in
   resources/s, next to raw fhir.resources ``model_validate`` on the same
   resources in the same process; peak memory of that process.
3. Time to reject bad input (the bad-input corpus's worst cases), median of 3.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_corpus import generate  # noqa: E402

EVIDENCEKIT = Path(sys.executable).parent / "evidencekit"

_THROUGHPUT = r"""
import gc, json, sys, time
from pathlib import Path
from evidencekit.config import Config
from evidencekit.pipeline import build
from fhir.resources import get_fhir_model_class

corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
start = time.perf_counter()
result = build(corpus, out, config=Config())
elapsed = time.perf_counter() - start
assert result.ok, [d.format_text() for d in result.diagnostics if d.severity.value == "error"][:5]
resources = result.compiled.resources
gc.collect()
start = time.perf_counter()
for resource in resources:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
raw = time.perf_counter() - start
files = sum(1 for p in (out / "r5").rglob("*") if p.is_file())
size = sum(p.stat().st_size for p in (out / "r5").rglob("*") if p.is_file())
print(json.dumps({"studies": len(result.studies), "resources": len(resources), "build_s": elapsed,
                  "raw_s": raw, "files": files, "bytes": size}))
"""


def _run(args: list[str], **kwargs: object) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """(wall seconds, peak RSS in KiB, completed process) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close(); proc.stderr.close()  # type: ignore[union-attr]  # noqa: E702
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss, subprocess.CompletedProcess(args, code, out, err)


def cold_builds(work: Path, runs: int) -> dict[str, float]:
    times, peaks = [], []
    for i in range(runs):
        wall, peak, proc = _run([str(EVIDENCEKIT), "build", str(ROOT / "definitions"), "-o", str(work / f"cold{i}"),
                                 "--config", str(ROOT / "evidencekit.yaml")])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        times.append(wall)
        peaks.append(peak)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "peak_rss_mib": max(peaks) / 1024}


def throughput(work: Path, count: int) -> dict[str, float]:
    corpus = work / "corpus"
    generate(corpus, count)
    wall, peak, proc = _run([sys.executable, "-c", _THROUGHPUT, str(corpus), str(work / "corpus-out")])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    data["peak_rss_mib"] = peak / 1024
    data["process_wall_s"] = wall
    return data


def bad_inputs(work: Path, runs: int) -> list[tuple[str, float]]:
    seed = (ROOT / "definitions" / "galimberti-2018-ivig-cutaneous-dm.yaml").read_text()
    cases: dict[str, bytes] = {
        "50 MB file": seed.encode() + b"# pad\n" * (50 * 1024 * 1024 // 6),
        "alias bomb": b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n".encode() for i in range(8)),
        "malformed YAML": seed.replace("title: IVIG for", "title: [IVIG for").encode(),
        "percentage over 100": seed.replace("    value: 83\n", "    value: 183\n").encode(),
    }
    out = []
    for name, content in cases.items():
        directory = work / "bad" / name.replace(" ", "-")
        shutil.copytree(ROOT / "definitions" / "sources", directory / "sources")
        (directory / "bad.yaml").write_bytes(content)
        times = []
        for _ in range(runs):
            wall, _, proc = _run([str(EVIDENCEKIT), "build", str(directory), "-o", str(work / "bad-out")])
            assert proc.returncode == 1, proc.stdout + proc.stderr
            times.append(wall)
        out.append((name, statistics.median(times)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evidencekit-bench-") as tmp:
        work = Path(tmp)
        cold = cold_builds(work, args.runs)
        print(f"cold build: median {cold['median_s']:.3f} s", flush=True)
        corpus = throughput(work, args.studies)
        ours = corpus["resources"] / corpus["build_s"]
        raw = corpus["resources"] / corpus["raw_s"]
        print(f"corpus: {ours:,.0f} resources/s vs raw model_validate {raw:,.0f}/s", flush=True)
        bad = bad_inputs(work, 3)
    ratio = ours / raw
    lines = [
        "# evidencekit benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/run.py`) on {time.strftime('%Y-%m-%d')}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}.",
        "",
        "## Cold build of definitions/ (seed study)",
        "",
        f"`evidencekit build definitions -o <tmp>` in a new process, {args.runs} runs "
        "(includes interpreter start-up and imports).",
        "",
        "| median | min | max | peak RSS | goal |",
        "|---|---|---|---|---|",
        f"| {cold['median_s']:.3f} s | {cold['min_s']:.3f} s | {cold['max_s']:.3f} s | "
        f"{cold['peak_rss_mib']:.0f} MiB | ≤ 1.0 s: {'met' if cold['median_s'] <= 1.0 else 'NOT met'} |",
        "",
        f"## Synthetic corpus: {corpus['studies']:,} studies",
        "",
        "`benchmarks/generate_corpus.py` makes each study from the seed (own id and title), so every check, "
        "resource kind and provenance lookup runs. Build = load YAML, check, compile, validate (models, "
        "references, profiles), render every output and write it to a new directory "
        f"({corpus['files']:,} files, {corpus['bytes'] / 2**20:,.0f} MiB). Raw = `model_validate` of the same "
        "resources with fhir.resources, in the same process right after.",
        "",
        "| resources | build+validate+write | raw model_validate | ratio | peak RSS | goal |",
        "|---|---|---|---|---|---|",
        f"| {corpus['resources']:,} | {corpus['build_s']:.1f} s = {ours:,.0f} resources/s | "
        f"{corpus['raw_s']:.1f} s = {raw:,.0f} resources/s | {ratio:.2f} | {corpus['peak_rss_mib']:,.0f} MiB | "
        f"≥ 0.33: {'met' if ratio >= 1 / 3 else 'NOT met'} |",
        "",
        "## Rejecting bad input",
        "",
        "`evidencekit build` on one bad file, new process (start-up included), median of 3; exit code 1.",
        "",
        "| input | time |",
        "|---|---|",
        *[f"| {name} | {seconds:.3f} s |" for name, seconds in bad],
        "",
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
