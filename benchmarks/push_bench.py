"""Push throughput into the local HAPI FHIR JPA R5 server (part of `make bench`).

Three copies of the synthetic corpus with distinct ids go into one fresh server, so no
method benefits from another's writes: (1) `evidencekit push` with its defaults, (2) the
ceiling — the same resources in one raw transaction POST, (3) the naive way — one PUT per
resource, sequentially.
"""

from __future__ import annotations

import json
import os
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


def _corpus(work: Path, prefix: str, studies: int) -> list[dict[str, Any]]:
    generate(work / prefix, studies, prefix=prefix)
    result = build(work / prefix, None, config=Config())
    assert result.ok and result.compiled is not None
    return result.compiled.resources


def run(studies: int, chunk_size: int = 100, concurrency: int = 2, heap: str = "1g",
        report: Callable[[dict[str, Any]], None] = lambda partial: None) -> dict[str, Any]:
    """Run the three methods; ``report`` gets the partial results after each (a long run can be
    read while it goes). The ceiling runs last: a transaction too big for the server's heap
    leaves it degraded for whatever follows."""
    from hapi_server import HapiServer

    out: dict[str, Any] = {"studies": studies, "chunk_size": chunk_size, "concurrency": concurrency,
                           "server_heap": heap}
    with tempfile.TemporaryDirectory(prefix="evidencekit-push-bench-") as tmp:
        work = Path(tmp)
        ours_resources = _corpus(work, "pusha", studies)
        naive_resources = _corpus(work, "pushc", studies)
        ceiling_resources = _corpus(work, "pushb", studies)
        out["resources"] = n = len(ours_resources)
        server = HapiServer(work / "server.log", heap=heap)
        try:
            out["startup_s"] = server.wait()
            # warm the server's JIT and caches with a small push that no method reuses
            push(_corpus(work, "warm", 5), PushOptions(server=server.base))
            start = time.perf_counter()
            ours = push(ours_resources, PushOptions(server=server.base, chunk_size=chunk_size,
                                                    concurrency=concurrency))
            out["ours_s"] = time.perf_counter() - start
            assert ours.count("create") == n and not ours.failed
            out.update(ours_rps=n / out["ours_s"], requests=ours.requests)
            report(out)
            with httpx.Client(timeout=3600) as client:
                start = time.perf_counter()
                for r in naive_resources:
                    reply = client.put(f"{server.base}/{r['resourceType']}/{r['id']}",
                                       content=dumps_bytes(r, pretty=False), headers=HEADERS)
                    assert reply.status_code in (200, 201), reply.text[:300]
                out["naive_s"] = time.perf_counter() - start
                out["naive_rps"] = n / out["naive_s"]
                report(out)
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
                    {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                    for r in ceiling_resources]}
                start = time.perf_counter()
                response = client.post(server.base, content=dumps_bytes(bundle, pretty=False), headers=HEADERS)
                out["ceiling_s"] = time.perf_counter() - start
                out["ceiling_ok"] = response.status_code == 200
                out["ceiling_rps"] = n / out["ceiling_s"]
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

    # the 1 GiB heap of the test server cannot hold the one-transaction ceiling at 1,000 studies
    write(run(studies, heap=os.environ.get("PUSH_BENCH_HEAP", "4g"), report=write))
