"""evidencekit benchmarks: `make bench` writes benchmarks/results.md.

1. Cold `evidencekit build` of definitions/ (new process each time; median of 5).
2. Throughput on a synthetic corpus of 1,000 studies: build+validate+write in
   resources/s, next to raw fhir.resources ``model_validate`` on the same
   resources in the same process; peak memory of that process.
3. Time to reject bad input (the bad-input corpus's worst cases), median of 3.
4. `evidencekit validate` vs the HL7 validator (HAPI 8.8.0, warm JVM) on the same files, same
   run: the seed bundle, and the resources of a 100-study sample of the corpus; plus ours on
   all 1,000 studies. Needs Java, Maven and npm (skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
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
print(json.dumps({"studies": len(result.studies), "questions": len(result.questions),
                  "resources": len(resources), "build_s": elapsed,
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


def cold_builds(work: Path, runs: int, source: Path | None = None, name: str = "cold") -> dict[str, float]:
    times, peaks = [], []
    for i in range(runs):
        wall, peak, proc = _run([str(EVIDENCEKIT), "build", str(source or ROOT / "definitions"), "-o",
                                 str(work / f"{name}{i}"), "--config", str(ROOT / "evidencekit.yaml")])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        times.append(wall)
        peaks.append(peak)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "peak_rss_mib": max(peaks) / 1024}


def throughput(work: Path, count: int, questions: int = 0, name: str = "corpus") -> dict[str, float]:
    corpus = work / name
    generate(corpus, count, questions=questions)
    wall, peak, proc = _run([sys.executable, "-c", _THROUGHPUT, str(corpus), str(work / f"{name}-out")])
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


def validation_vs_hl7(work: Path, seed_output: Path, corpus_output: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "tests"))
    from fhir_oracle import Oracle, tools_available

    from evidencekit.pipeline import validate_directory

    ok, why = tools_available()
    if not ok:
        return {"skipped": why}
    sample = work / "sample"
    (sample / "resources").mkdir(parents=True)
    number = re.compile(r"-synthetic-(\d{5})[-.]")
    for path in sorted((corpus_output / "resources").glob("*.json")):
        match = number.search(path.name)
        if match and int(match.group(1)) < 100:
            shutil.copy(path, sample / "resources" / path.name)
    sample_files = sorted((sample / "resources").glob("*.json"))
    full = work / "full"
    (full / "resources").mkdir(parents=True)
    for path in (corpus_output / "resources").glob("*.json"):
        os.link(path, full / "resources" / path.name)
    bundle = seed_output / "bundle.json"

    def timed(function, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
        times, value = [], None
        for _ in range(runs):
            start = time.perf_counter()
            value = function()
            times.append(time.perf_counter() - start)
        return statistics.median(times), value

    from evidencekit.validate import LAYERS

    without_models = [name for name in LAYERS if name != "models"]
    validate_directory(bundle)  # warm-up: imports, R5 tables
    ours_seed, ours_seed_diags = timed(lambda: validate_directory(bundle), 5)
    lean_seed, lean_seed_diags = timed(lambda: validate_directory(bundle, without_models), 5)
    ours_sample, ours_sample_diags = timed(lambda: validate_directory(sample), 3)
    lean_sample, lean_sample_diags = timed(lambda: validate_directory(sample, without_models), 3)
    ours_full, ours_full_diags = timed(lambda: validate_directory(full), 1)
    with Oracle() as oracle:
        oracle.validate(bundle)  # warm-up
        hl7_seed, hl7_seed_outcome = timed(lambda: oracle.validate(bundle), 5)
        hl7_sample, hl7_sample_outcomes = timed(lambda: [oracle.validate(p) for p in sample_files], 1)

    def errors(outcomes: list[dict]) -> int:  # type: ignore[type-arg]
        return sum(1 for o in outcomes for i in o.get("issue", []) if i.get("severity") in ("error", "fatal"))

    def ours_errors(diags) -> int:  # type: ignore[no-untyped-def]
        return sum(1 for d in diags if d.severity.value == "error")

    return {"bundle_resources": len(json.loads(bundle.read_text())["entry"]),
            "seed": (ours_seed, hl7_seed, ours_errors(ours_seed_diags), errors([hl7_seed_outcome])),  # type: ignore[list-item]
            "lean_seed": (lean_seed, ours_errors(lean_seed_diags)),
            "sample": (len(sample_files), ours_sample, hl7_sample, ours_errors(ours_sample_diags),
                       errors(hl7_sample_outcomes)),  # type: ignore[arg-type]
            "lean_sample": (lean_sample, ours_errors(lean_sample_diags)),
            "full": (sum(1 for _ in (full / "resources").glob("*.json")), ours_full, ours_errors(ours_full_diags))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evidencekit-bench-") as tmp:
        work = Path(tmp)
        cold = cold_builds(work, args.runs)
        print(f"cold build: median {cold['median_s']:.3f} s", flush=True)
        seed_cold = cold_builds(work, args.runs, ROOT / "definitions" / "galimberti-2018-ivig-cutaneous-dm.yaml",
                                "seedcold")
        print(f"cold build of the seed alone: median {seed_cold['median_s']:.3f} s", flush=True)
        corpus = throughput(work, args.studies, args.questions)
        # linearity: the same mix at a quarter and a half of the size, in the same run
        scaling = []
        for d in (4, 2):
            scaling.append(throughput(work, args.studies // d, args.questions // d, f"scale{d}"))
            shutil.rmtree(work / f"scale{d}-out", ignore_errors=True)
        scaling.append(corpus)
        ours = corpus["resources"] / corpus["build_s"]
        raw = corpus["resources"] / corpus["raw_s"]
        print(f"corpus: {ours:,.0f} resources/s vs raw model_validate {raw:,.0f}/s", flush=True)
        bad = bad_inputs(work, 3)
        seed_out = work / "cold0" / "r5"
        versus = validation_vs_hl7(work, seed_out, work / "corpus-out" / "r5")
        print(f"validate vs HL7: {versus}", flush=True)
    ratio = ours / raw
    lines = [
        "# evidencekit benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/run.py`) on {time.strftime('%Y-%m-%d')}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}.",
        "",
        "## Cold builds",
        "",
        f"`evidencekit build <input> -o <tmp>` in a new process, {args.runs} runs "
        "(includes interpreter start-up and imports). The goal is for the seed study; the whole of "
        "definitions/ also loads scipy and statsmodels (imported only when a comparative study's "
        "recomputations need them).",
        "",
        "| input | median | min | max | peak RSS | goal |",
        "|---|---|---|---|---|---|",
        f"| the seed study | {seed_cold['median_s']:.3f} s | {seed_cold['min_s']:.3f} s | {seed_cold['max_s']:.3f} s | "
        f"{seed_cold['peak_rss_mib']:.0f} MiB | ≤ 1.0 s: {'met' if seed_cold['median_s'] <= 1.0 else 'NOT met'} |",
        f"| definitions/ (seed, ProDERM, Bounfour) | {cold['median_s']:.3f} s | {cold['min_s']:.3f} s | "
        f"{cold['max_s']:.3f} s | {cold['peak_rss_mib']:.0f} MiB | — |",
        "",
        f"## Synthetic corpus: {corpus['studies']:,} studies",
        "",
        "`benchmarks/generate_corpus.py` makes every other study from the seed (a single-group cohort) and "
        "the rest from ProDERM (a parallel randomized trial: arms, analysis sets, comparisons, with their "
        "statsmodels/scipy recomputations), each with its own id and title, so every check, "
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
        f"The corpus also holds {corpus['questions']:,} question definitions (copies of the IVIG question, "
        "each citing its own seed and trial copies, with its recommendation): syntheses, certainty "
        "assessments, summaries of findings and PlanDefinitions are in the count above.",
        "",
        "**Linearity**: the same mix at a quarter, a half and the full size, in this run (build = load, "
        "check, compile, validate, write).",
        "",
        "| studies + questions | resources | build | per definition | vs the smallest |",
        "|---|---|---|---|---|",
        *[f"| {p['studies']:,} + {p['questions']:,} | {p['resources']:,} | {p['build_s']:.1f} s | "
          f"{p['build_s'] / (p['studies'] + p['questions']) * 1000:.1f} ms | "
          f"{(p['build_s'] / (p['studies'] + p['questions'])) / (scaling[0]['build_s'] / (scaling[0]['studies'] + scaling[0]['questions'])):.2f}× |"
          for p in scaling],
        "",
        "## Rejecting bad input",
        "",
        "`evidencekit build` on one bad file, new process (start-up included), median of 3; exit code 1.",
        "",
        "| input | time |",
        "|---|---|",
        *[f"| {name} | {seconds:.3f} s |" for name, seconds in bad],
        "",
        "## `evidencekit validate` vs the HL7 validator",
        "",
        *_versus_lines(versus),
        "",
        *_push_lines(),
        *_cds_lines(),
        *_cds_cpu_lines(),
        *_panel_lines(),
        *_watch_lines(),
        *_site_lines(),
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}")


def _push_lines() -> list[str]:
    """The push benchmark (`make bench-push`, slow: run on its own) from its committed results."""
    lines = ["## `evidencekit push` into the local HAPI FHIR JPA R5 server", "",
             "`make bench-push` (`benchmarks/push_bench.py STUDIES`, results in `benchmarks/push-results*.json`; "
             "needs Java and Maven). Three copies of the synthetic corpus with distinct ids go into one fresh "
             "server (HAPI FHIR 8.8.0 JPA, H2 in memory), in this order: ours, the naive way, the ceiling — so "
             "each later method writes into a bigger database. *Server CPU* is the server process's CPU time "
             "(all threads, from `/proc`) during the method, per resource.", ""]
    for name in ("push-results-100.json", "push-results.json"):
        path = ROOT / "benchmarks" / name
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        heap = r.get("server_heap", "1g")
        per_study = r["resources"] // r["studies"]
        warm = (f"warmed with {r['warm_studies']} studies by every method" if "warm_studies" in r
                else "warmed with a 5-study push")
        when = f"{r['date']}, {r['machine']}; " if "date" in r else ""
        lines += [f"**{r['studies']:,} studies, {r['resources']:,} resources per method** ({when}"
                  f"{per_study} resources per study; server heap `-Xmx{heap}`, started in {r['startup_s']:.0f} s, "
                  f"{warm}):", "",
                  "| method | time | resources/s | server CPU per resource | vs ours |", "|---|---|---|---|---|"]

        def cpu(method: str) -> str:
            value = r.get(f"{method}_server_cpu_ms_per_resource")
            return "—" if value is None else f"{value:.1f} ms"

        lines.append(f"| `evidencekit push` (chunk {r['chunk_size']}, concurrency {r['concurrency']}; "
                     f"{r['requests']} requests incl. diff reads) | {r['ours_s']:.1f} s | {r['ours_rps']:.0f} | "
                     f"{cpu('ours')} | — |")
        if "naive_rps" in r:
            times = r["ours_rps"] / r["naive_rps"]
            lines.append(f"| naive: one PUT per resource, sequentially | {r['naive_s']:.1f} s | {r['naive_rps']:.0f} | "
                         f"{cpu('naive')} | ours = {times:.2f}× "
                         f"(goal ≥ 5×: {'met' if times >= 5 else 'NOT met'}) |")
        if "ceiling_skipped" in r:
            lines.append("| ceiling: the same resources in one raw transaction POST | — | — | — | "
                         f"{r['ceiling_skipped']} |")
        if "ceiling_rps" in r:
            share = r["ours_rps"] / r["ceiling_rps"]
            lines.append(f"| ceiling: the same resources in one raw transaction POST | {r['ceiling_s']:.1f} s | "
                         f"{r['ceiling_rps']:.0f} | {cpu('ceiling')} | ours = {share:.0%} of it (goal ≥ 80 %: "
                         f"{'met' if share >= 0.8 else 'NOT met'}) |")
        costs = {m: r[f"{m}_server_cpu_ms_per_resource"] for m in ("ours", "naive", "ceiling")
                 if f"{m}_server_cpu_ms_per_resource" in r}
        if costs and "naive_rps" in r and "cores" in r:
            cores = r["cores"]
            cheapest = min(costs, key=costs.__getitem__)
            bound = cores * 1000 / costs[cheapest]
            lines += ["", f"Upper bound for any client on this machine: {cores} cores ÷ {costs[cheapest]:.1f} ms of "
                      f"server CPU per resource (the cheapest method measured: {cheapest}) = {bound:.0f} resources/s = "
                      f"{bound / r['naive_rps']:.1f}× the naive way, even with the client using no CPU at all; 5× "
                      f"would need at least {math.ceil(5 * r['naive_rps'] * costs[cheapest] / 1000)} server cores at "
                      "that cost."]
        lines.append("")
    lines += [
        "Batching saves HAPI little or nothing per resource (the CPU column): its work per resource — parsing, "
        "search-parameter extraction, index rows, history, flush — is done for a transaction entry as for a lone "
        "PUT, and grows with the size of the transaction (Hibernate dirty-checks every entity of the session "
        "at each flush), while on loopback the HTTP round trip of a PUT is a small part of it. So on a 2-core "
        "server no client strategy can reach 5× the naive way — the bound above says so from the measured CPU "
        "cost; on a bigger server, raise `--concurrency` to its cores. What beats the single transaction is "
        "concurrency (one transaction is one database transaction on one thread) and bounded chunks: HAPI "
        "flushes its whole session for every ValueSet it stores (`TermReadSvcImpl.storeTermValueSet`: 30 % of "
        "a 1,140-entry transaction's server time in a JFR profile), so one huge transaction grows "
        "quadratically, and one 31,000-entry transaction ran the 1 GiB test server out of heap "
        "(`OutOfMemoryError`). Concurrency 2 is the default because the server has 2 cores; more only queues.",
        ""]
    return lines


def _watch_lines() -> list[str]:
    """`build --watch` and the progress display (`benchmarks/watch_bench.py`) from its results file."""
    path = ROOT / "benchmarks" / "watch-results.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    return ["## Authoring: `build --watch` and progress (`benchmarks/watch_bench.py`)", "",
            f"{r['studies']:,} studies ({r['resources']:,} resources), written {r['written']}. Full build "
            f"{r['full_build_seconds']:.1f} s; one changed file rebuilt, validated and its resources written "
            f"(`Workspace.update`, {len(r['update_lone_seconds'])} runs): median **{r['update_lone_median']:.3f} s** "
            f"for a study no question cites, **{r['update_cited_median']:.3f} s** for one a question cites (the "
            f"question is rebuilt too); the slowest of all {2 * len(r['update_lone_seconds'])}, the first after the full "
            f"build included, {max(r['update_lone_seconds'] + r['update_cited_seconds']):.3f} s; goal at most "
            f"0.5 s. The whole-corpus files (bundles, NDJSON, package, "
            f"source map) once the definitions are quiet: {r['refresh_seconds']:.1f} s.", "",
            f"Progress display, {r['progress_studies']} studies built three ways in one run (fastest of three "
            f"each, in rotated order; runs of one kind vary by about ±20%): quiet {r['build_quiet_seconds']:.1f} s, "
            f"phases recorded {r['build_phases_seconds']:.1f} s (×{r['phases_ratio']:.3f}), rich display drawn "
            f"{r['build_progress_seconds']:.1f} s (×{r['progress_ratio']:.3f}). `--quiet`, and output that is not "
            "a terminal, use no reporter at all.", ""]


def _site_lines() -> list[str]:
    """The evidence report site on the corpus (`benchmarks/site_bench.py`) from its results file."""
    path = ROOT / "benchmarks" / "site-results.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    met = "met" if r["site_s"] < r["build_s"] else "**not met**"
    return ["## The evidence report site (`benchmarks/site_bench.py`)", "",
            f"{r['studies']:,} studies and {r['questions']} questions ({r['resources']:,} resources), "
            f"{r['machine']}, {r['date']}, one run, each command in a fresh process: `evidencekit build` "
            f"{r['build_s']:.1f} s, then `evidencekit report` on its output {r['site_s']:.1f} s "
            f"({r['pages']:,} pages, {r['plots']:,} forest plots, {r['site_mib']} MiB) = ×{r['ratio']:.2f} of "
            f"the build; goal: less than the build ({met}).", ""]


def _panel_lines() -> list[str]:
    """Precision and recall over the synthetic panel (`benchmarks/panel_bench.py`) from its results file."""
    path = ROOT / "benchmarks" / "panel-results.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    lines = ["## Decision support over a synthetic panel (`benchmarks/panel_bench.py`)", "",
             f"{r['patients']:,} synthetic patients (`tests/patient_panel.py`: ages at the boundaries, codes at "
             "the descendant boundaries, 0–4 agents as orders, plans, statements, products with and without "
             "ingredients, orders that do not count, IVIG being given or not, inactive and entered-in-error "
             f"diagnoses), {r['qualifying']:,} qualifying by construction, loaded into the HAPI R5 test server. "
             f"One patient-view per patient and source; written {r['written']}.", "",
             "| source | calls | qualifying | false positives | false negatives | precision | recall | time |",
             "|---|---|---|---|---|---|---|---|"]
    for source, label in (("server", "fetched from HAPI (R5)"), ("r4-prefetch", "R4 prefetch")):
        s = r[source]
        lines.append(f"| {label} | {s['calls']:,} | {s['qualifying']:,} | {s['false_positive']} | "
                     f"{s['false_negative']} | {s['precision']:.1%} | {s['recall']:.1%} | {s['seconds']:.1f} s |")
    return lines + [""]


def _cds_lines() -> list[str]:
    """The CDS Hooks latency benchmark (`benchmarks/cds_bench.py`) from its results file."""
    path = ROOT / "benchmarks" / "cds-results.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    fixed = r["fixed_rate"]
    lines = ["## CDS Hooks service latency (`evidencekit serve`)", "",
             f"`benchmarks/cds_bench.py` ({r['date']}, {r['machine']}): the service in its own process (uvicorn, "
             f"{r['auth']}), a separate load process on loopback sending `{r['hook']}` with {r['prefetch']} "
             f"prefetch ({r['body_bytes']:,}-byte body, a qualifying patient: one card) at a fixed rate, open loop "
             "(latency counted from each request's due time).", "",
             "| rate | requests | achieved | p50 | p95 | p99 | max | goal |", "|---|---|---|---|---|---|---|---|",
             f"| {fixed['rate']:.0f} req/s for {fixed['seconds']:.0f} s | {fixed['requests']:,} | "
             f"{fixed['achieved_rps']:.0f} req/s | {fixed['p50_ms']:.1f} ms | {fixed['p95_ms']:.1f} ms | "
             f"{fixed['p99_ms']:.1f} ms | {fixed['max_ms']:.1f} ms | p99 ≤ 20 ms: "
             f"{'met' if fixed['p99_ms'] <= 20 else 'NOT met'} |"]
    for step in r["ramp"]:
        lines.append(f"| {step['rate']:.0f} req/s for {step['seconds']:.0f} s | {step['requests']:,} | "
                     f"{step['achieved_rps']:.0f} req/s | {step['p50_ms']:.1f} ms | {step['p95_ms']:.1f} ms | "
                     f"{step['p99_ms']:.1f} ms | {step['max_ms']:.1f} ms | |")
    crossing = r.get("p99_crosses_100ms_at_rps")
    lines += ["", f"p99 crosses 100 ms at {crossing:.0f} req/s (one uvicorn worker on one core; the load "
                  "process has the other)." if crossing else "p99 stayed under 100 ms at every rate tried.", ""]
    return lines


def _cds_cpu_lines() -> list[str]:
    """CPU per CDS call with and without fhirServer (`benchmarks/cds_cpu_bench.py`), now and before the fix."""
    rows = []
    for name in ("cds-cpu-results-2d1921a.json", "cds-cpu-results.json"):
        path = ROOT / "benchmarks" / name
        if path.exists():
            r = json.loads(path.read_text())
            m = r["median_cpu_ms_per_call"]
            rows.append(f"| {r['source']} | {r['date']} | {r['blocks']} x 2 x {r['calls_per_block']} | "
                        f"{m['prefetch only']:.1f} ms | {m['prefetch + fhirServer']:.1f} ms | "
                        f"x{r['ratio_fhir_server_to_prefetch_only']:.2f} |")
    if not rows:
        return []
    return ["## CPU per CDS call naming `fhirServer` (`benchmarks/cds_cpu_bench.py`)", "",
            "The service process's own CPU (utime + stime) per sequential `patient-view` call with full prefetch, "
            "blocks alternated A B A B in one run; with `fhirServer` named (allowed, never contacted) and without. "
            "Each row is one run; the ratio is within that run.", "",
            "| service source | date | calls | prefetch only | + fhirServer | ratio |", "|---|---|---|---|---|---|",
            *rows, ""]


def _versus_lines(versus: dict[str, object]) -> list[str]:
    if "skipped" in versus:
        return [f"Not measured: {versus['skipped']}."]
    ours_seed, hl7_seed, ours_seed_err, hl7_seed_err = versus["seed"]  # type: ignore[misc]
    n, ours_sample, hl7_sample, ours_sample_err, hl7_sample_err = versus["sample"]  # type: ignore[misc]
    full_n, ours_full, ours_full_err = versus["full"]  # type: ignore[misc]
    lean_seed, lean_seed_err = versus["lean_seed"]  # type: ignore[misc]
    lean_sample, lean_sample_err = versus["lean_sample"]  # type: ignore[misc]

    def goal(ratio: float) -> str:
        return f"≥ 50×: {'met' if ratio >= 50 else 'NOT met'}"

    return [
        "Same files, same run. Ours: `evidencekit.pipeline.validate_directory` (all layers: models, primitives, "
        "cardinality, bindings, invariants, target types, references, profiles) in a warm process. HL7: HAPI FHIR "
        "8.8.0 `FhirInstanceValidator` in the long-lived oracle process (`tests/fhir_oracle.py`), warmed up with "
        "one validation first. Medians of 5 (seed) and 3 (ours on the sample); the HL7 sample is one pass.",
        "",
        "| input | ours | HL7 validator | ratio | errors (ours / HL7) | goal |",
        "|---|---|---|---|---|---|",
        f"| `bundle.json` of definitions/ ({versus['bundle_resources']} resources), all layers | {ours_seed * 1000:.1f} ms | {hl7_seed * 1000:.1f} ms | "
        f"{hl7_seed / ours_seed:.0f}× | {ours_seed_err} / {hl7_seed_err} | {goal(hl7_seed / ours_seed)} |",
        f"| the same bundle, `--layers` without `models` | {lean_seed * 1000:.1f} ms | {hl7_seed * 1000:.1f} ms | "
        f"{hl7_seed / lean_seed:.0f}× | {lean_seed_err} / {hl7_seed_err} | {goal(hl7_seed / lean_seed)} |",
        f"| 100-study sample ({n:,} resource files), all layers | {ours_sample:.2f} s | {hl7_sample:.1f} s | "
        f"{hl7_sample / ours_sample:.0f}× | {ours_sample_err} / {hl7_sample_err} | {goal(hl7_sample / ours_sample)} |",
        f"| 100-study sample, `--layers` without `models` | {lean_sample:.2f} s | {hl7_sample:.1f} s | "
        f"{hl7_sample / lean_sample:.0f}× | {lean_sample_err} / {hl7_sample_err} | {goal(hl7_sample / lean_sample)} |",
        f"| 1,000-study corpus ({full_n:,} resource files), ours only | {ours_full:.1f} s | "
        f"≈ {hl7_sample * full_n / n / 60:.0f} min (extrapolated from the sample) | — | {ours_full_err} / — | |",
        "",
        "The `models` layer (fhir.resources `model_validate`) is about half of our time. Without it the R5-table "
        "layers still give the HL7 validator's verdict on every mutant of `tests/agreement.py` "
        "(`python tests/agreement.py --without=models`: recall 100 %, 0 false positives), so `--layers` without "
        "`models` is the fast path; the default keeps fhir.resources in the loop.",
    ]


if __name__ == "__main__":
    main()
