"""Latency of the CDS Hooks service (`evidencekit serve`), part of `make bench`.

The service runs as its own process (uvicorn, auth on: an ES384 trust file) on 127.0.0.1.
A separate load process sends `patient-view` calls with full prefetch for a qualifying
patient at a fixed rate (open loop: each request is due at its scheduled time, and its
latency counts from then, so a slow server cannot hide queueing), every call with a
fresh JWT (signed before the run, so signing does not limit the rate). Then rising rates,
to find where p99 crosses 100 ms.

    python benchmarks/cds_bench.py [--rate 100 --seconds 30] [--output benchmarks/cds-results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import cds_client as ehr  # noqa: E402

EVIDENCEKIT = Path(sys.executable).parent / "evidencekit"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(output: Path, trust: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([str(EVIDENCEKIT), "serve", str(output), "--port", str(port), "--trust", str(trust),
                                 *extra],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the service did not start:\n{log.read_text()[-2000:]}")


_LOAD = r"""
import asyncio, json, sys, time
import httpx
url, rate, seconds, body_file, tokens_file = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
body = open(body_file, "rb").read()
tokens = open(tokens_file).read().split()
n = int(rate * seconds)
assert len(tokens) >= n
async def main():
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # one warm-up call per connection slot we are likely to need
        lat, status = [], {}
        start = time.perf_counter() + 0.2
        async def one(i):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            r = await client.post(url, content=body, headers={"Authorization": "Bearer " + tokens[i],
                                                              "Content-Type": "application/json"})
            lat.append((time.perf_counter() - due) * 1000)
            status[r.status_code] = status.get(r.status_code, 0) + 1
            if r.status_code == 200 and i == 0:
                assert len(r.json()["cards"]) == 1
        await asyncio.gather(*(one(i) for i in range(n)))
        print(json.dumps({"latencies_ms": lat, "status": status, "elapsed_s": time.perf_counter() - start}))
asyncio.run(main())
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def load(url: str, rate: float, seconds: float, work: Path, signer: ehr.Signer, body: bytes) -> dict[str, Any]:
    n = int(rate * seconds)
    tokens = work / "tokens.txt"
    tokens.write_text("\n".join(signer.token(url) for _ in range(n)))
    body_file = work / "body.json"
    body_file.write_bytes(body)
    script = work / "load.py"
    script.write_text(_LOAD)
    proc = subprocess.run([sys.executable, str(script), url, str(rate), str(seconds), str(body_file), str(tokens)],
                          capture_output=True, text=True, timeout=seconds * 10 + 120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    data = json.loads(proc.stdout)
    lat = data["latencies_ms"]
    return {"rate": rate, "seconds": seconds, "requests": n, "status": data["status"],
            "achieved_rps": n / data["elapsed_s"], "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99), "max_ms": max(lat), "mean_ms": statistics.fmean(lat)}


def run(rate: float, seconds: float, ramp: list[float], ramp_seconds: float) -> dict[str, Any]:
    signer = ehr.Signer()
    data = ehr.qualifying()
    with tempfile.TemporaryDirectory(prefix="evidencekit-cds-bench-") as tmp:
        work = Path(tmp)
        trust = signer.trust_file(work / "trust.json")
        port = free_port()
        proc = start_service(ROOT / "output", trust, port, work / "service.log")
        try:
            sid = json.loads(urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/cds-services",
                headers=signer.auth(f"http://127.0.0.1:{port}/cds-services"))).read())["services"][0]["id"]
            url = f"http://127.0.0.1:{port}/cds-services/{sid}"
            body = json.dumps(ehr.hook_request("patient-view", "p-qualifies", ehr.prefetch_for(data))).encode()
            load(url, 20, 2, work, signer, body)  # warm-up
            fixed = load(url, rate, seconds, work, signer, body)
            print(f"fixed {rate:.0f} req/s: {fixed}", flush=True)
            steps = []
            for step in ramp:
                result = load(url, step, ramp_seconds, work, signer, body)
                print(f"ramp {step:.0f} req/s: p99 {result['p99_ms']:.1f} ms", flush=True)
                steps.append(result)
                if result["p99_ms"] > 100:
                    break
        finally:
            proc.terminate()
            proc.wait(10)
    crossing = next((s["rate"] for s in steps if s["p99_ms"] > 100), None)
    return {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "auth": "ES384 JWT on every request", "prefetch": "full", "hook": "patient-view",
            "body_bytes": len(body), "fixed_rate": fixed, "ramp": steps, "p99_crosses_100ms_at_rps": crossing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--ramp", default="150,200,250,300,350,400,500,700,1000")
    parser.add_argument("--ramp-seconds", type=float, default=10)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "cds-results.json")
    args = parser.parse_args()
    result = run(args.rate, args.seconds, [float(x) for x in args.ramp.split(",")], args.ramp_seconds)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
