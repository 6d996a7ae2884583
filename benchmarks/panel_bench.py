"""Precision and recall of `serve` over a 1,000-patient synthetic panel (part of `make bench`).

The panel (`tests/patient_panel.py`) knows each patient's answer by construction. It is loaded
into the HAPI FHIR R5 test server (started here on 127.0.0.1, stopped by PID) with the
compiled knowledge; `evidencekit serve` runs as its own process; every patient gets a
patient-view call twice: with no prefetch (the service fetches from HAPI, R5 records) and
with an R4-shaped prefetch. Precision and recall of "a card" against "qualifies" are
reported per source, with the wall time of the calls.

    python benchmarks/panel_bench.py [--patients 1000] [--output benchmarks/panel-results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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
from hapi_server import HapiServer  # noqa: E402
from patient_panel import make_panel, r4_prefetch  # noqa: E402

from evidencekit.publish.push import PushOptions, load_resources, push  # noqa: E402


def _scores(results: list[tuple[bool, bool]]) -> dict[str, Any]:
    tp = sum(1 for expected, got in results if expected and got)
    fp = sum(1 for expected, got in results if got and not expected)
    fn = sum(1 for expected, got in results if expected and not got)
    return {"calls": len(results), "qualifying": tp + fn, "true_positive": tp, "false_positive": fp,
            "false_negative": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0}


def run(size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="evidencekit-panel-") as tmp:
        work = Path(tmp)
        server = HapiServer(work / "hapi.log")
        try:
            server.wait()
            knowledge = ROOT / "output" / "r5"
            pushed = push(load_resources(knowledge), PushOptions(server=server.base))
            assert not pushed.failed
            panel = make_panel(size)
            for start in range(0, len(panel), 100):
                entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                           for p in panel[start:start + 100] for r in p.r5]
                reply = httpx.post(server.base, json={"resourceType": "Bundle", "type": "transaction",
                                                      "entry": entries},
                                   headers={"Content-Type": "application/fhir+json"}, timeout=600)
                assert reply.status_code == 200, reply.text[:1000]
            signer = ehr.Signer()
            trust = work / "trust.json"
            trust.write_text(json.dumps({"issuers": {signer.iss: {"jwks": signer.jwks(),
                                                                  "fhirServers": [server.base]}}}))
            port = free_port()
            service = start_service(knowledge, trust, port, work / "serve.log", "--allow-http-fhir-server")
            try:
                sid = next(s["id"] for s in httpx.get(f"http://127.0.0.1:{port}/cds-services", headers=signer.auth(
                    f"http://127.0.0.1:{port}/cds-services")).json()["services"] if s["hook"] == "patient-view")
                url = f"http://127.0.0.1:{port}/cds-services/{sid}"
                out: dict[str, Any] = {"patients": size, "qualifying": sum(p.expected for p in panel)}
                with httpx.Client(timeout=60) as client:
                    for source in ("server", "r4-prefetch"):
                        results, wrong, start_time = [], [], time.perf_counter()
                        for patient in panel:
                            body = ehr.hook_request("patient-view", patient.pid,
                                                    r4_prefetch(patient) if source == "r4-prefetch" else None)
                            body["fhirServer"] = server.base
                            body["fhirAuthorization"] = {"access_token": "panel", "token_type": "Bearer",
                                                         "expires_in": 300, "scope": "user/*.read",
                                                         "subject": "evidencekit-cds"}
                            response = client.post(url, json=body, headers=signer.auth(url))
                            assert response.status_code == 200, response.text[:500]
                            got = bool(response.json()["cards"])
                            results.append((patient.expected, got))
                            if got != patient.expected:
                                wrong.append({"patient": patient.pid, "expected": patient.expected,
                                              "features": patient.features})
                        out[source] = {**_scores(results), "seconds": time.perf_counter() - start_time,
                                       "wrong": wrong[:20]}
                        print(f"{source}: {out[source]['precision']:.3f} precision, {out[source]['recall']:.3f} "
                              f"recall over {size} patients", flush=True)
                return out
            finally:
                os.killpg(service.pid, signal.SIGTERM)
                service.wait(10)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "panel-results.json")
    args = parser.parse_args()
    result = run(args.patients)
    result["written"] = time.strftime("%Y-%m-%d")
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
