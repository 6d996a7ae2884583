"""Push throughput into the local HAPI FHIR JPA R5 server (`make bench-push`).

Three copies of the synthetic corpus with distinct ids go into one fresh server, so no
method benefits from another's writes: (1) `evidencekit push` with its defaults, (2) the
naive way — one PUT per resource, sequentially, (3) the ceiling — the same resources in one
raw transaction POST. The server is warmed first with every method (its JIT makes the first
few thousand writes about half as fast), and the server process's CPU time is recorded per method:
CPU per resource says how much of the server's work a method saves, and so how fast any
client can be on this machine.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402

from evidencekit.config import Config  # noqa: E402
from evidencekit.pipeline import build  # noqa: E402
from evidencekit.publish.fhirjson import dumps_bytes  # noqa: E402
from evidencekit.publish.push import PushOptions, push  # noqa: E402
from generate_corpus import generate  # noqa: E402

HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (Linux /proc)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _corpus(work: Path, prefix: str, studies: int) -> list[dict[str, Any]]:
    generate(work / prefix, studies, prefix=prefix)
    result = build(work / prefix, None, config=Config())
    assert result.ok and result.compiled is not None
    return result.compiled.resources


def _naive(client: httpx.Client, base: str, resources: list[dict[str, Any]]) -> None:
    for r in resources:
        reply = client.put(f"{base}/{r['resourceType']}/{r['id']}", content=dumps_bytes(r, pretty=False),
                           headers=HEADERS)
        assert reply.status_code in (200, 201), reply.text[:300]


def _one_transaction(client: httpx.Client, base: str, resources: list[dict[str, Any]]) -> httpx.Response:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    return client.post(base, content=dumps_bytes(bundle, pretty=False), headers=HEADERS)


#: One transaction of more entries than this is not timed: HAPI's time per entry grows with the
#: transaction (3,800 entries: 80 s, 48 resources/s, against 166/s in 100-entry chunks), so 38,000
#: entries would take hours.
CEILING_MAX_RESOURCES = 10_000


def run(studies: int, chunk_size: int = 100, concurrency: int = 2, heap: str = "1g", warm_studies: int = 40,
        report: Callable[[dict[str, Any]], None] = lambda partial: None) -> dict[str, Any]:
    """Run the three methods; ``report`` gets the partial results after each (a long run can be
    read while it goes). The ceiling runs last: a transaction too big for the server's heap
    leaves it degraded for whatever follows."""
    from hapi_server import HapiServer

    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"),
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "cores": os.cpu_count(),
                           "studies": studies, "chunk_size": chunk_size, "concurrency": concurrency,
                           "server_heap": heap, "warm_studies": warm_studies}
    with tempfile.TemporaryDirectory(prefix="evidencekit-push-bench-") as tmp:
        work = Path(tmp)
        corpora = {"ours": _corpus(work, "pusha", studies), "naive": _corpus(work, "pushc", studies)}
        out["resources"] = n = len(corpora["ours"])
        if n <= CEILING_MAX_RESOURCES:
            corpora["ceiling"] = _corpus(work, "pushb", studies)
        server = HapiServer(work / "server.log", heap=heap)
        pid = server.process.pid
        try:
            out["startup_s"] = server.wait()
            with httpx.Client(timeout=3600) as client:
                # warm the server's JIT with every method, on resources no timed method reuses
                push(_corpus(work, "warma", warm_studies), PushOptions(server=server.base))
                _naive(client, server.base, _corpus(work, "warmb", warm_studies))
                assert _one_transaction(client, server.base, _corpus(work, "warmc", warm_studies)).status_code == 200

                def timed(name: str, action: Callable[[], Any]) -> Any:
                    cpu, start = server_cpu_seconds(pid), time.perf_counter()
                    value = action()
                    out[f"{name}_s"] = seconds = time.perf_counter() - start
                    out[f"{name}_rps"] = n / seconds
                    out[f"{name}_server_cpu_ms_per_resource"] = 1000 * (server_cpu_seconds(pid) - cpu) / n
                    return value

                ours = timed("ours", lambda: push(corpora["ours"], PushOptions(
                    server=server.base, chunk_size=chunk_size, concurrency=concurrency)))
                assert ours.count("create") == n and not ours.failed
                out["requests"] = ours.requests
                report(out)
                timed("naive", lambda: _naive(client, server.base, corpora["naive"]))
                report(out)
                if n > CEILING_MAX_RESOURCES:
                    out["ceiling_skipped"] = (f"one transaction of {n:,} entries is not timed (more than "
                                              f"{CEILING_MAX_RESOURCES:,}; see the 100-study run)")
                else:
                    response = timed("ceiling", lambda: _one_transaction(client, server.base, corpora["ceiling"]))
                    out["ceiling_ok"] = response.status_code == 200
                    if not out["ceiling_ok"]:
                        out["ceiling_error"] = f"HTTP {response.status_code}: " + response.text[:300]
                report(out)
        finally:
            server.stop()
    return out


if __name__ == "__main__":
    studies = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "benchmarks" / "push-results.json"

    def write(partial: dict[str, Any]) -> None:
        target.write_text(json.dumps(partial, indent=2) + "\n")

    # H2 in memory holds every write: 1,000 studies need more than the test server's 1 GiB heap
    write(run(studies, heap=os.environ.get("PUSH_BENCH_HEAP", "4g"), report=write))
