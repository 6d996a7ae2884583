"""End to end: the knowledge and synthetic patients go into the real HAPI FHIR JPA R5
server with `evidencekit push`; `evidencekit serve` runs as its own process; an EHR calls
it with no prefetch, so the service fetches everything from HAPI; the cards are right and
their links resolve on the server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import cds_client as ehr
from conftest import DEFINITIONS
from evidencekit.config import Config
from evidencekit.pipeline import build
from evidencekit.publish.push import PushOptions, load_resources, push

QUESTION = "e2e-question"  # its own ids (and its studies'), so the push tests' first
SERVICE = f"{QUESTION}-ivig-refractory-cdm"  # push still creates everything


def _r5(resource: dict[str, Any]) -> dict[str, Any]:
    """The test EHR's R4-shaped medication records as R5 (what an R5 server stores)."""
    out = dict(resource)
    if "medicationCodeableConcept" in out:
        out["medication"] = {"concept": out.pop("medicationCodeableConcept")}
    if out["resourceType"] == "MedicationStatement":
        out["status"] = "recorded"
    return out


def _patients() -> dict[str, dict[str, list[dict[str, Any]]]]:
    statement = ehr.qualifying("e2e-statement")
    azathioprine = statement["MedicationRequest"].pop()
    statement["MedicationStatement"] = [{
        "resourceType": "MedicationStatement", "id": "e2e-statement-ms1", "status": "recorded",
        "subject": {"reference": "Patient/e2e-statement"}, "effectiveDateTime": "2022-03-01",
        "medication": {"concept": azathioprine["medicationCodeableConcept"]}}]
    return {"e2e-qualifies": ehr.qualifying("e2e-qualifies"), "e2e-one-agent": ehr.one_agent("e2e-one-agent"),
            "e2e-juvenile": ehr.juvenile("e2e-juvenile"), "e2e-ivig": ehr.ivig_active("e2e-ivig"),
            "e2e-statement": statement}


EXPECTED = {"e2e-qualifies": 1, "e2e-one-agent": 0, "e2e-juvenile": 0, "e2e-ivig": 0, "e2e-statement": 1}


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory, fhir_server: str) -> Path:
    """Every study and the IVIG question (with the recommendation) under their own ids, built and
    pushed into HAPI."""
    work = tmp_path_factory.mktemp("e2e")
    definitions = work / "definitions"
    shutil.copytree(DEFINITIONS / "sources", definitions / "sources")
    question = (DEFINITIONS / "ivig-refractory-cdm-question.yaml").read_text(encoding="utf-8")
    question = question.replace("\nid: ivig-refractory-cdm-question\n", f"\nid: {QUESTION}\n", 1)
    studies = sorted(p.stem for p in DEFINITIONS.glob("*.yaml") if "\nresults:\n" in p.read_text(encoding="utf-8"))
    assert len(studies) == 4
    for study in studies:
        sid = "-".join(study.split("-")[:2])
        text = (DEFINITIONS / f"{study}.yaml").read_text(encoding="utf-8")
        assert text.count(f"\nid: {sid}\n") == 1 and f"study: {sid}\n" in question
        (definitions / f"{study}.yaml").write_text(text.replace(f"\nid: {sid}\n", f"\nid: e2e-{sid}\n"),
                                                   encoding="utf-8")
        question = question.replace(f"study: {sid}\n", f"study: e2e-{sid}\n")
    (definitions / "question.yaml").write_text(question, encoding="utf-8")
    result = build(definitions, work / "out", config=Config())
    assert result.ok
    output = work / "out" / "r5"
    pushed = push(load_resources(output), PushOptions(server=fhir_server))
    assert not pushed.failed and pushed.count("create") == len(load_resources(output))
    return output


@pytest.fixture(scope="module")
def patients(fhir_server: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    data = _patients()
    entries = [{"resource": _r5(r), "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for patient in data.values() for rtype in ("Patient", "Condition", "MedicationRequest",
                                                          "MedicationStatement") for r in patient[rtype]]
    reply = httpx.post(fhir_server, json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                       headers={"Content-Type": "application/fhir+json"}, timeout=120)
    assert reply.status_code == 200, reply.text[:2000]
    return data


def _serve(knowledge: Path, fhir_server: str, work: Path, *extra: str) -> Iterator[tuple[str, ehr.Signer]]:
    """`evidencekit serve` as its own process, until the test module ends."""
    signer = ehr.Signer()
    trust = signer.trust_file(work / "trust.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = work / "serve.log"
    exe = Path(sys.executable).parent / "evidencekit"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(exe), "serve", str(knowledge), "--port", str(port), "--trust", str(trust),
                                 "--fhir-base", fhir_server, "--allow-http-fhir-server", *extra],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, signer
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    assert "hapi-token-e2e" not in log.read_text()  # the EHR's access token is never logged


@pytest.fixture(scope="module")
def service(knowledge: Path, fhir_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ehr.Signer]]:
    yield from _serve(knowledge, fhir_server, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def site_service(knowledge: Path, fhir_server: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ehr.Signer, str]]:
    """The site amends the agents' ValueSets on its terminology server (here HAPI itself, which also
    holds the knowledge) with the products it orders; `serve --terminology-server` expands every
    ValueSet there at start-up."""
    amended = ehr.site_value_sets(knowledge, QUESTION)
    entries = [{"resource": vs, "request": {"method": "PUT", "url": f"ValueSet/{vs['id']}"}} for vs in amended]
    reply = httpx.post(fhir_server, json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                       headers={"Content-Type": "application/fhir+json"}, timeout=120)
    assert reply.status_code == 200, reply.text[:2000]
    work = tmp_path_factory.mktemp("serve-site")
    for running in _serve(knowledge, fhir_server, work, "--terminology-server", fhir_server):
        yield (*running, (work / "serve.log").read_text())


def _call(service: tuple[Any, ...], fhir_server: str, body: dict[str, Any]) -> httpx.Response:
    base, signer = service[:2]
    url = f"{base}/cds-services/{SERVICE}-{body['hook']}"
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {"access_token": "hapi-token-e2e", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/Patient.read user/Condition.read user/MedicationRequest.read "
                                          "user/MedicationStatement.read", "subject": "evidencekit-cds"}
    return httpx.post(url, json=body, headers=signer.auth(url), timeout=30)


def test_discovery_lists_the_compiled_service(service: tuple[str, ehr.Signer]) -> None:
    base, signer = service
    url = f"{base}/cds-services"
    services = httpx.get(url, headers=signer.auth(url)).json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {(f"{SERVICE}-{h}", h)
                                                         for h in ("patient-view", "order-select", "order-sign")}


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_patient_view_fetches_from_hapi(service: tuple[str, ehr.Signer], fhir_server: str,
                                        patients: dict[str, Any], pid: str) -> None:
    response = _call(service, fhir_server, ehr.hook_request("patient-view", pid))  # no prefetch at all
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(cards) == EXPECTED[pid]
    if cards:
        detail = cards[0]["detail"]
        assert "methotrexate" in detail and "azathioprine" in detail
        assert ("MedicationStatement" in detail) == (pid == "e2e-statement")


def test_card_links_resolve_on_the_server(service: tuple[str, ehr.Signer], fhir_server: str,
                                          patients: dict[str, Any]) -> None:
    card = _call(service, fhir_server, ehr.hook_request("patient-view", "e2e-qualifies")).json()["cards"][0]
    # the summary of findings, the study results of the critical outcomes (12, of 6 outcomes), the citations of
    # their studies (3: Dalakas 1993 answers an important outcome only)
    import yaml

    critical = [o for o in yaml.safe_load((DEFINITIONS / "ivig-refractory-cdm-question.yaml").read_text())["outcomes"]
                if o["importance"] == "critical"]
    results = [r for o in critical for r in o.get("results", [])]
    assert (len(critical), len(results), len({r["study"] for r in results})) == (6, 12, 3)
    assert [link["url"].split("/")[-2] for link in card["links"]] == ["Composition"] + ["Evidence"] * len(results) + \
        ["Citation"] * len({r["study"] for r in results})
    for link in card["links"]:
        assert link["url"].startswith(fhir_server + "/")
        resource = httpx.get(link["url"], headers={"Accept": "application/fhir+json"}).json()
        rtype, rid = link["url"][len(fhir_server) + 1:].split("/")
        assert (resource["resourceType"], resource["id"]) == (rtype, rid)
        assert resource["title"][:60] in link["label"]


def test_order_select_from_hapi(service: tuple[str, ehr.Signer], fhir_server: str, patients: dict[str, Any]) -> None:
    agent = _call(service, fhir_server, ehr.hook_request("order-select", "e2e-qualifies")).json()["cards"]
    assert len(agent) == 1
    ivig = ehr.hook_request("order-select", "e2e-qualifies")
    draft = ehr.ivig_request("e2e-qualifies", status="draft", mid="draft-ivig")
    ivig["context"]["draftOrders"]["entry"] = [{"resource": draft}]
    ivig["context"]["selections"] = ["MedicationRequest/draft-ivig"]
    assert _call(service, fhir_server, ivig).json() == {"cards": []}  # IVIG being ordered: nothing to suggest


def test_unknown_patient_on_hapi(service: tuple[str, ehr.Signer], fhir_server: str) -> None:
    response = _call(service, fhir_server, ehr.hook_request("patient-view", "e2e-nobody"))
    # HAPI answers 404 for the Patient read: the data cannot be obtained
    assert response.status_code == 412, response.text


def test_the_test_fhir_server_answers_browsers_with_cors(fhir_server: str) -> None:
    """A browser CDS client (the CDS Hooks Sandbox) reads the EHR's FHIR server itself: the test
    server (`make fhir-server`) sends CORS headers (issue 11, point 7)."""
    origin = "https://sandbox.cds-hooks.org"
    preflight = httpx.options(f"{fhir_server}/Patient", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    read = httpx.get(f"{fhir_server}/metadata", headers={"Origin": origin, "Accept": "application/fhir+json"})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == origin


PANEL_SIZE = 150  # the benchmark runs 1,000 (make bench); this covers every feature several times


@pytest.fixture(scope="module")
def panel(fhir_server: str) -> list[Any]:
    from patient_panel import make_panel

    patients = make_panel(PANEL_SIZE)
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for p in patients for r in p.r5]
    reply = httpx.post(fhir_server, json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                       headers={"Content-Type": "application/fhir+json"}, timeout=300)
    assert reply.status_code == 200, reply.text[:2000]
    return patients


def test_panel_cards_exactly_for_the_patients_who_qualify(service: tuple[str, ehr.Signer], fhir_server: str,
                                                          panel: list[Any]) -> None:
    """Patient-view for every panel patient, from the FHIR server (R5, fetched) and from an R4
    prefetch: a card exactly when the patient qualifies by construction (issue 11, point 9)."""
    from patient_panel import r4_prefetch

    assert 0.15 < sum(p.expected for p in panel) / len(panel) < 0.85  # both answers are well represented
    wrong = []
    for patient in panel:
        for source in ("server", "r4 prefetch"):
            body = ehr.hook_request("patient-view", patient.pid,
                                    r4_prefetch(patient) if source == "r4 prefetch" else None)
            response = _call(service, fhir_server, body)
            assert response.status_code == 200, (patient.pid, response.text)
            if bool(response.json()["cards"]) != patient.expected:
                wrong.append((source, patient.pid, patient.expected, patient.features))
    assert wrong == []


def test_terminology_server_expansions_from_hapi(site_service: tuple[str, ehr.Signer, str], service: Any,
                                                 fhir_server: str, panel: list[Any]) -> None:
    """`serve --terminology-server` on the real HAPI server (issue 11, point 4): HAPI expands the
    site's amended agent ValueSets (and the history ValueSet that includes them); it declines the
    diagnosis ValueSets, whose is-a filters need ICD-10-CM and SNOMED CT it does not hold, and serve
    says so. Product-coded orders (as the CDS Hooks Sandbox drafts them) then fire the order hooks,
    and product-only histories count: every panel patient gets a card exactly when it qualifies
    with the expansion."""
    from patient_panel import r4_prefetch

    log = site_service[2]
    assert "expansions: 6 ValueSet(s)" in log, log
    declined = [line for line in log.splitlines() if "not expanded" in line]
    assert len(declined) == 2 and all("dermatomyositis" in line or "juvenile-dm" in line for line in declined)
    for hook in ("order-select", "order-sign"):
        sandbox = ehr.hook_request(hook, "e2e-qualifies", product_coded=True)
        assert _call(service, fhir_server, json.loads(json.dumps(sandbox))).json()["cards"] == [], hook
        assert len(_call(site_service, fhir_server, sandbox).json()["cards"]) == 1, hook
    assert any(p.expected_expanded != p.expected for p in panel)  # the panel has product-only histories
    wrong = []
    for patient in panel:
        body = ehr.hook_request("patient-view", patient.pid, r4_prefetch(patient))
        if bool(_call(site_service, fhir_server, body).json()["cards"]) != patient.expected_expanded:
            wrong.append((patient.pid, patient.expected_expanded, patient.features))
    assert wrong == []
