"""CPU the service spends per CDS call, with and without `fhirServer` in the request; part of `make bench`.

Every call naming `fhirServer` used to build two TLS client contexts (the CA bundle loaded each
time): ~48 ms of CPU against ~5 ms for the call itself. This measures the service process's own
CPU (utime + stime from /proc) over blocks of sequential `patient-view` calls with full prefetch
(so nothing is fetched and only the transport's cost differs), alternating the two kinds A B A B,
and reports the medians per block and their ratio, measured in one run.

    python benchmarks/cds_cpu_bench.py [--calls 200 --blocks 4] [--src OTHER_CHECKOUT/src]
        [--output benchmarks/cds-cpu-results.json]

``--src`` runs the service from another checkout's sources (e.g. the commit before a change), with
this checkout's interpreter and packages.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cds_client as ehr  # noqa: E402
from cds_bench import free_port, start_service  # noqa: E402

FHIR_SERVER = "https://fhir.ehr.example.org/r4"  # allowed, never contacted: the prefetch is full
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its own threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def block(client: httpx.Client, url: str, body: bytes, signer: ehr.Signer, calls: int, pid: int) -> float:
    """CPU milliseconds of the service per call over ``calls`` sequential calls."""
    tokens = [signer.token(url) for _ in range(calls)]
    before = cpu_seconds(pid)
    for token in tokens:
        response = client.post(url, content=body, headers={"Authorization": f"Bearer {token}",
                                                            "Content-Type": "application/json"})
        assert response.status_code == 200 and len(response.json()["cards"]) == 1, response.text[:300]
    return (cpu_seconds(pid) - before) * 1000 / calls


def run(calls: int, blocks: int, src: Path | None) -> dict[str, Any]:
    signer = ehr.Signer()
    plain = ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(ehr.qualifying()))
    named = {**plain, "fhirServer": FHIR_SERVER}
    if src is not None:
        os.environ["PYTHONPATH"] = str(src.resolve())
    with tempfile.TemporaryDirectory(prefix="evidencekit-cds-cpu-") as tmp:
        work = Path(tmp)
        port = free_port()
        proc = start_service(ROOT / "output", signer.trust_file(work / "trust.json"), port, work / "service.log",
                             "--allow-fhir-server", FHIR_SERVER, "--log-level", "warning")
        try:
            with httpx.Client(timeout=30) as client:
                sid = client.get(f"http://127.0.0.1:{port}/cds-services",
                                 headers=signer.auth(f"http://127.0.0.1:{port}/cds-services")).json()["services"][0]["id"]
                url = f"http://127.0.0.1:{port}/cds-services/{sid}"
                bodies = {"prefetch only": json.dumps(plain).encode(),
                          "prefetch + fhirServer": json.dumps(named).encode()}
                for body in bodies.values():  # warm-up: imports, the first TLS context, caches
                    block(client, url, body, signer, 20, proc.pid)
                per_block: dict[str, list[float]] = {name: [] for name in bodies}
                for _ in range(blocks):  # A B A B
                    for name, body in bodies.items():
                        per_block[name].append(block(client, url, body, signer, calls, proc.pid))
        finally:
            proc.terminate()
            proc.wait(10)
    medians = {name: statistics.median(values) for name, values in per_block.items()}
    return {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "source": str(src) if src else "this checkout", "calls_per_block": calls, "blocks": blocks,
            "cpu_ms_per_call": per_block, "median_cpu_ms_per_call": medians,
            "ratio_fhir_server_to_prefetch_only": medians["prefetch + fhirServer"] / medians["prefetch only"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--src", type=Path, help="run the service from another checkout's src/")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "cds-cpu-results.json")
    args = parser.parse_args()
    result = run(args.calls, args.blocks, args.src)
    print(json.dumps(result["median_cpu_ms_per_call"]), f"ratio {result['ratio_fhir_server_to_prefetch_only']:.2f}")
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
