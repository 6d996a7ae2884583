"""`evidencekit push` against a real HAPI FHIR JPA R5 server (started by the tests)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from evidencekit.cli import main
from evidencekit.publish.push import (PushOptions, load_resources, load_search_parameters, plan_chunks, push,
                                      same_content)
from conftest import OUTPUT_RESOURCES


@pytest.fixture(scope="module")
def pushed(seed_build: Path, fhir_server: str) -> dict:
    result = CliRunner().invoke(main, ["push", str(seed_build), "--server", fhir_server, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_first_push_creates_everything(pushed: dict, seed_build: Path) -> None:
    """The knowledge and, first, the output's SearchParameters, which the server searched by before
    any data was written."""
    parameters = load_search_parameters(seed_build)
    assert len(parameters) == 3
    assert (pushed["created"], pushed["updated"], pushed["unchanged"], pushed["failed"]) == (
        OUTPUT_RESOURCES + len(parameters), 0, 0, 0)
    assert pushed["search_parameters_active_after_seconds"] >= 0


def _search(client: httpx.Client, resource_type: str, *repeated: tuple[str, str], **params: str) -> list[dict]:
    """Every resource a search returns, following the server's next links (HAPI pages by 50).
    Other tests share the server (tests/test_cds_e2e.py pushes copies of the knowledge with ids
    starting e2e-), so the searches here find ours among theirs."""
    bundle = client.get(f"/{resource_type}", params=[*params.items(), *repeated, ("_count", "200")],
                        headers={"Cache-Control": "no-cache"}).json()
    assert bundle.get("resourceType") == "Bundle", bundle
    found = [e["resource"] for e in bundle.get("entry", [])]
    while (link := next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)):
        bundle = client.get(link).json()
        found += [e["resource"] for e in bundle.get("entry", [])]
    return found


def test_every_evidence_is_found_by_its_condition(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    """`Evidence?context=<condition>` (R5's context parameter over useContext) finds every Evidence of
    the knowledge base, the subgroup and synthesis Evidence included; so does the intervention."""
    evidence = {r["id"] for r in load_resources(seed_build) if r["resourceType"] == "Evidence"}
    assert any("skin-alone" in e for e in evidence) and any("question" in e for e in evidence)
    with httpx.Client(base_url=fhir_server, timeout=60) as client:
        for code in ("http://snomed.info/sct|396230008", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl|C2701"):
            assert {r["id"] for r in _search(client, "Evidence", context=code)} >= evidence, code
        assert _search(client, "Evidence", context="http://snomed.info/sct|73211009") == []  # diabetes: none
        both = _search(client, "Evidence", ("context", "http://snomed.info/sct|396230008"),
                       ("context", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl|C2701"))
        assert {r["id"] for r in both} >= evidence  # AND of both
        summaries = _search(client, "Composition", type="https://fevir.net/resources/CodeSystem/179423|SummaryOfFindings")
        assert "ivig-refractory-cdm-question-summary-of-findings" in {r["id"] for r in summaries}
        assert all(r["type"]["coding"][0]["code"] == "SummaryOfFindings" for r in summaries)


def test_certainty_is_found_from_its_evidence(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    """`ArtifactAssessment?artifact=Evidence/<id>` (our SearchParameter) returns exactly the
    assessments about that Evidence, for every rated Evidence; `_revinclude` brings them along."""
    resources = load_resources(seed_build)
    about: dict[str, set[str]] = {}
    for r in resources:
        if r["resourceType"] == "ArtifactAssessment" and "artifactReference" in r:
            about.setdefault(r["artifactReference"]["reference"], set()).add(r["id"])
    rated = sorted(k for k in about if k.startswith("Evidence/"))
    assert len(rated) >= 10
    with httpx.Client(base_url=fhir_server, timeout=60) as client:
        for target in rated:
            assert {r["id"] for r in _search(client, "ArtifactAssessment", artifact=target)} == about[target], target
        target = "Evidence/galimberti-2018-improvement-overall"
        found = _search(client, "Evidence", _id=target.split("/")[1], _revinclude="ArtifactAssessment:artifact")
        assert {(r["resourceType"], r["id"]) for r in found} == {("Evidence", target.split("/")[1])} | {
            ("ArtifactAssessment", i) for i in about[target]}


def test_citation_is_found_by_pmid_and_doi(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    citations = [r for r in load_resources(seed_build) if r["resourceType"] == "Citation"]
    with httpx.Client(base_url=fhir_server, timeout=60) as client:
        for citation in citations:
            for identifier in citation["citedArtifact"].get("identifier", []):  # Dalakas 1993: none found
                assert "system" in identifier, citation["id"]  # PMID, DOI, the registry's accession
                token = f"{identifier['system']}|{identifier['value']}"
                for parameter in ("identifier", "cited-artifact-identifier"):
                    found = _search(client, "Citation", **{parameter: token})
                    assert citation["id"] in {r["id"] for r in found}, (parameter, token)
                    assert all(identifier in r["citedArtifact"]["identifier"] for r in found), (parameter, token)
        filed = {r["id"] for r in _search(client, "Citation", classifier="https://meshb.nlm.nih.gov/|D003882")}
        assert filed >= {c["id"] for c in citations if "meshb.nlm.nih.gov" in json.dumps(c.get("classification"))}


def test_evidence_is_found_by_its_outcome_variable(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    resources = load_resources(seed_build)
    variable = "EvidenceVariable/galimberti-2018-cutaneous-improvement"
    expected = {r["id"] for r in resources if r["resourceType"] == "Evidence"
                and any(v["observed"].get("reference") == variable for v in r["variableDefinition"])}
    assert len(expected) == 3  # overall and the two subgroups (the finding is not Evidence)
    with httpx.Client(base_url=fhir_server, timeout=60) as client:
        assert {r["id"] for r in _search(client, "Evidence", variable=variable)} == expected


def test_read_back_equals_what_was_sent(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        for resource in load_resources(seed_build):
            response = client.get(f"/{resource['resourceType']}/{resource['id']}")
            assert response.status_code == 200
            stored = json.loads(response.content, parse_float=Decimal)
            assert same_content(resource, stored), resource["id"]
            assert stored["meta"]["versionId"] == "1"


def test_search_by_canonical_finds_exactly_one(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        canonical = [r for r in load_resources(seed_build) if "url" in r]
        assert len(canonical) >= 20
        for resource in canonical:
            bundle = client.get(f"/{resource['resourceType']}?url={quote(resource['url'], safe='')}",
                                headers={"Cache-Control": "no-cache"}).json()
            assert bundle.get("total", len(bundle.get("entry", []))) == 1, resource["url"]


def test_second_push_sends_nothing_and_makes_no_versions(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return super().handle_request(request)

    result = push(load_resources(seed_build), PushOptions(server=fhir_server),
                  client=httpx.Client(transport=Recording(), timeout=60))
    assert (result.count("create"), result.count("update"), result.count("unchanged")) == (0, 0, OUTPUT_RESOURCES)
    chunks = len(plan_chunks(load_resources(seed_build), 100))
    assert result.requests == len(sent)
    # metadata, one batch read per chunk of 100, and the next pages of a search with more hits than
    # the server's page (HAPI: 50); no transaction, no write
    assert sent[0].method == "GET" and sent[0].url.path.endswith("/metadata")
    batches = [r for r in sent if r.method == "POST"]
    assert len(batches) == chunks and all(json.loads(r.content)["type"] == "batch" for r in batches)
    pages = [r for r in sent[1:] if r.method == "GET"]
    assert len(sent) == 1 + len(batches) + len(pages) and all("_getpages" in str(r.url) for r in pages)
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        for resource in load_resources(seed_build):
            assert client.get(f"/{resource['resourceType']}/{resource['id']}").json()["meta"]["versionId"] == "1"


def test_dry_run_reports_an_update_and_writes_nothing(pushed: dict, seed_build: Path, fhir_server: str,
                                                      tmp_path: Path) -> None:
    resources = load_resources(seed_build)
    changed = copy.deepcopy(resources)
    target = next(r for r in changed if r["id"] == "galimberti-2018-improvement-overall")
    target["description"] = "changed for the dry run"
    result = push(changed, PushOptions(server=fhir_server, dry_run=True))
    assert [(o.key, o.action) for o in result.outcomes if o.action != "unchanged"] == [
        ("Evidence/galimberti-2018-improvement-overall", "update")]
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        stored = client.get("/Evidence/galimberti-2018-improvement-overall").json()
    assert stored["description"] != "changed for the dry run" and stored["meta"]["versionId"] == "1"


def test_update_then_idempotent(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    resources = copy.deepcopy(load_resources(seed_build))
    target = next(r for r in resources if r["id"] == "galimberti-2018-age-at-ivig")
    target["description"] = "Mean age at IVIG initiation (updated by the test)."
    first = push(resources, PushOptions(server=fhir_server, chunk_size=5))
    assert (first.count("update"), first.count("unchanged")) == (1, OUTPUT_RESOURCES - 1)
    again = push(resources, PushOptions(server=fhir_server, chunk_size=5))
    assert again.count("unchanged") == OUTPUT_RESOURCES
    # put the original back so other tests see the seed content
    restored = push(load_resources(seed_build), PushOptions(server=fhir_server))
    assert restored.count("update") == 1


def test_decimal_precision_survives_the_server(pushed: dict, fhir_server: str) -> None:
    raw = httpx.get(f"{fhir_server}/Evidence/galimberti-2018-glucocorticoid-reduction").text
    assert '"value":0.80' in raw.replace(" ", "")


def test_server_rejection_is_reported_per_resource(fhir_server: str, seed_build: Path) -> None:
    resources = load_resources(seed_build)
    bad = copy.deepcopy(next(r for r in resources if r["resourceType"] == "Group"))
    bad["id"] = "rejected-group"
    bad["type"] = "robot"  # not a GroupType code: HAPI refuses to parse it
    result = push([bad], PushOptions(server=fhir_server))
    assert [o.key for o in result.failed] == ["Group/rejected-group"]
    assert result.failed[0].status.startswith("4")
    assert any("robot" in issue for issue in result.failed[0].issues), result.failed[0].issues
    assert httpx.get(f"{fhir_server}/Group/rejected-group").status_code == 404


def test_cli_exit_code_3_on_rejection(fhir_server: str, seed_build: Path, tmp_path: Path) -> None:
    resources = load_resources(seed_build)
    bad = copy.deepcopy(next(r for r in resources if r["resourceType"] == "EvidenceVariable"))
    bad["id"] = "rejected-variable"  # same canonical url|version as the pushed original: a clash
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "http://example.org/fhir/evidencekit/EvidenceVariable/rejected-variable",
                         "resource": bad}]}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, default=str))
    result = CliRunner().invoke(main, ["push", str(path), "--server", fhir_server])
    assert result.exit_code == 3, result.output
    assert "canonical URL already used" in result.output and "rejected-variable" in result.output
    assert httpx.get(f"{fhir_server}/EvidenceVariable/rejected-variable").status_code == 404


def test_server_validate_finds_no_errors(pushed: dict, seed_build: Path, fhir_server: str) -> None:
    """`$validate` on the server for every pushed resource against base R5 (the EBM IG profiles are
    the oracle's job: tests/test_conformance.py loads the real IG package), once the server knows the
    THO 7.0.1 synthesis-type code system (HAPI bundles THO 5.1.0, which lacks NotApplicable;
    docs/conformance.md). The profile claims are left out of what is sent: HAPI would need the IG's
    dependencies to generate the profiles' snapshots."""
    import tarfile

    from evidencekit.publish.fhirjson import dumps_bytes
    from fhir_oracle import PACKAGES, fetch_packages

    fetch_packages()
    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=fhir_server, timeout=120, headers=headers) as client:
        with tarfile.open(PACKAGES / "hl7.terminology.r5-7.0.1.tgz") as package:
            handle = package.extractfile("package/CodeSystem-synthesis-type.json")
            assert handle is not None
            code_system = json.load(handle)
        assert client.put("/CodeSystem/synthesis-type", json=code_system).status_code in (200, 201)
        problems = {}
        for resource in load_resources(seed_build):
            key = f"{resource['resourceType']}/{resource['id']}"
            body = {k: v for k, v in resource.items() if k != "meta"}
            outcome = client.post(f"/{resource['resourceType']}/$validate", content=dumps_bytes(body)).json()
            errors = [i.get("diagnostics", "") for i in outcome.get("issue", []) if i["severity"] in ("error", "fatal")]
            if errors:
                problems[key] = errors
        assert problems == {}


def test_conditional_create(fhir_server: str, seed_build: Path) -> None:
    resources = copy.deepcopy([r for r in load_resources(seed_build) if r["resourceType"] == "EvidenceVariable"
                               and r["id"].startswith("galimberti-2018")])
    for resource in resources:
        resource["id"] = resource["id"].replace("galimberti-2018", "conditional")
        resource["url"] = resource["url"].replace("galimberti-2018", "conditional")
    first = push(resources, PushOptions(server=fhir_server, conditional=True))
    assert first.count("create") == len(resources) and not first.failed
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        for resource in resources:
            hits = client.get("/EvidenceVariable", params={"url": resource["url"]},
                              headers={"Cache-Control": "no-cache"}).json()
            assert hits["total"] == 1
    again = push(resources, PushOptions(server=fhir_server, conditional=True))
    assert again.count("unchanged") == len(resources)  # found by canonical, not sent again
    resources[0]["description"] = "changed after a conditional create"
    changed = push(resources, PushOptions(server=fhir_server, conditional=True))
    assert (changed.count("update"), changed.count("unchanged")) == (1, len(resources) - 1)
    with httpx.Client(base_url=fhir_server, timeout=30) as client:
        hits = client.get("/EvidenceVariable", params={"url": resources[0]["url"]},
                          headers={"Cache-Control": "no-cache"}).json()
        assert hits["total"] == 1  # updated in place under the server's id, not duplicated
        assert hits["entry"][0]["resource"]["description"] == "changed after a conditional create"
