"""Drug matching at the level EHRs order (issue 11, point 4): each agent has its own ValueSet, the
order hooks test drafts with FHIRPath ``memberOf``, and a site widens the ValueSets with the
products it orders through an expansion file or a terminology server (``$expand``, against the
real HAPI server in test_cds_e2e.py). The test EHR drafts product-coded orders, as the CDS Hooks
Sandbox does."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import cds_client as ehr
from evidencekit.cli import main
from evidencekit.serve import Settings, create_app, load_knowledge
from evidencekit.serve.auth import load_trust
from evidencekit.serve.knowledge import KnowledgeError
from evidencekit.serve.terminology import ExpansionError, ValueSets, expand_from_server, read_expansions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Json = dict[str, Any]
QUESTION = "ivig-refractory-cdm-question"


def _value_sets(build: Path) -> dict[str, Json]:
    found = [json.loads(p.read_text()) for p in (build / "resources").glob("ValueSet-*.json")]
    return {vs["url"]: vs for vs in found}


def _url(build: Path, local: str) -> str:
    return json.loads((build / "resources" / f"ValueSet-{QUESTION}-{local}.json").read_text())["url"]


@pytest.fixture(scope="module")
def expansions(seed_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("expansions") / "site-expansions.json"
    path.write_text(json.dumps(ehr.expansion_bundle(seed_build)))
    return path


def test_each_agent_has_its_own_value_set_and_the_history_includes_them(seed_build: Path) -> None:
    by_url = _value_sets(seed_build)
    history = by_url[_url(seed_build, "ivig-refractory-cdm-refractory")]
    agents = [_url(seed_build, local) for local in ehr.AGENT_VALUE_SETS.values()]
    assert history["compose"]["include"] == [{"valueSet": agents}]
    for name, url in zip(ehr.AGENT_VALUE_SETS, agents):
        assert by_url[url]["compose"]["include"] == [{"system": ehr.RXNORM, "concept": [
            {"code": ehr.AGENTS[name], "display": name}]}]
    plan = json.loads(next((seed_build / "resources").glob("PlanDefinition-*.json")).read_text())
    action = plan["action"][0]
    # the per-agent inputs filter by the agent's ValueSet, not by inline codes
    orders = [i for i in action["input"] if i["id"].endswith("Orders") and i["id"].startswith("refractory")]
    assert [f["valueSet"] for i in orders for f in i["requirement"]["codeFilter"] if "valueSet" in f] == agents
    order_hook = [c["expression"]["expression"] for c in action["condition"] if "%selections" in
                  c["expression"]["expression"]]
    assert order_hook == [f"%hook = 'patient-view' or %selections.where(medication.concept.coding.where("
                          f"memberOf('{history['url']}')).exists()).exists()"]


def test_membership_offline_and_with_a_site_expansion(seed_build: Path, expansions: Path) -> None:
    by_url = _value_sets(seed_build)
    history, mtx = _url(seed_build, "ivig-refractory-cdm-refractory"), _url(seed_build, "refractory-methotrexate")
    dm = _url(seed_build, "ivig-refractory-cdm-dermatomyositis")
    ingredient = {"system": ehr.RXNORM, "code": ehr.AGENTS["methotrexate"]}
    product = ehr.product("methotrexate")
    offline = ValueSets(by_url)
    assert offline.contains(mtx, ingredient) and offline.contains(history, ingredient)
    assert not offline.contains(mtx, product) and not offline.contains(history, product)
    assert offline.contains(dm, {"system": ehr.ICD10CM, "code": "M33.13"})  # is-a on ICD-10-CM: by prefix
    assert not offline.contains(dm, {"system": ehr.ICD10CM, "code": "M33.03"})
    assert not offline.contains(mtx, {"system": "http://other.example", "code": ehr.AGENTS["methotrexate"]})
    site = ValueSets(by_url, read_expansions(expansions))
    assert site.contains(mtx, product) and site.contains(history, product)  # the union includes the agent's set
    assert not site.contains(_url(seed_build, "refractory-azathioprine"), product)
    assert site.contains(mtx, ingredient)  # the expansion widens the compose, never narrows it
    # memberOf as FHIRPath calls it: one Coding or CodeableConcept
    assert site.member_of([product], history) == [True]
    assert site.member_of([{"coding": [{"system": "x", "code": "y"}, product]}], history) == [True]
    assert offline.member_of([{"coding": [product]}], history) == [False]
    assert site.member_of([], history) == [] and site.member_of(["text"], history) == [False]
    with pytest.raises(ValueError):
        site.member_of([product, ingredient], history)


def test_value_set_includes_are_checked(seed_build: Path) -> None:
    by_url = _value_sets(seed_build)
    history = _url(seed_build, "ivig-refractory-cdm-refractory")
    loop = json.loads(json.dumps(by_url))
    first = loop[_url(seed_build, "refractory-methotrexate")]
    first["compose"]["include"].append({"valueSet": [history]})
    with pytest.raises(ValueError, match="includes itself"):
        ValueSets(loop)
    missing = json.loads(json.dumps(by_url))
    missing[history]["compose"]["include"][0]["valueSet"].append("http://nowhere.example/ValueSet/x")
    with pytest.raises(ValueError, match="not in this output"):
        ValueSets(missing)


def _expanded(url: str, contains: Any, total: int | None = None) -> Json:
    expansion: Json = {"timestamp": "2026-12-03T00:00:00Z", "contains": contains}
    if total is not None:
        expansion["total"] = total
    return {"resourceType": "ValueSet", "url": url, "status": "active", "expansion": expansion}


def test_expansion_files_are_hostile_input(tmp_path: Path, seed_build: Path) -> None:
    url = _url(seed_build, "refractory-methotrexate")
    path = tmp_path / "x.json"

    def read(data: Any) -> Any:
        path.write_text(json.dumps(data) if not isinstance(data, str) else data)
        return read_expansions(path)

    nested = {"system": "s", "code": "c"}
    for _ in range(20):
        nested = {"abstract": True, "contains": [nested]}
    cases = {"not json": "{", "not a ValueSet": {"resourceType": "Patient"},
             "no expansion": {"resourceType": "ValueSet", "url": url},
             "partial": _expanded(url, [{"system": "s", "code": "a"}], total=2),
             "too deep": _expanded(url, [nested]),
             "no url": {"resourceType": "ValueSet", "expansion": {"contains": []}}}
    for name, data in cases.items():
        with pytest.raises(ExpansionError):
            read(data)
        assert name
    # abstract and inactive entries are not codes; nesting is read; a Bundle gathers per url
    codes = read({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _expanded(url, [{"system": "s", "code": "group", "abstract": True, "contains": [
            {"system": "s", "code": "a"}, {"system": "s", "code": "old", "inactive": True}]}])},
        {"resource": _expanded(url, [{"system": "s", "code": "b"}], total=1)}]})
    assert codes == {url: frozenset({("s", "a"), ("s", "b")})}
    path.write_text(json.dumps(_expanded("http://nowhere.example/ValueSet/x", [])))
    with pytest.raises(KnowledgeError, match="does not have"):
        load_knowledge(seed_build, expansions=[path])


def test_terminology_server_faults(seed_build: Path) -> None:
    """Answers a real server cannot be made to give (a fake transport injects them); the real
    HAPI server's $expand is tested in test_cds_e2e.py."""
    by_url = _value_sets(seed_build)
    url = _url(seed_build, "refractory-methotrexate")

    def server(status: int, body: Any) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(
            status, content=body if isinstance(body, bytes) else json.dumps(body).encode()))

    one = [by_url[url]]
    found, declined = expand_from_server("https://tx.example/fhir", one, transport=server(
        200, _expanded(url, [{"system": ehr.PRODUCTS, "code": "p"}])))
    assert found == {url: frozenset({(ehr.PRODUCTS, "p")})} and declined == []
    found, declined = expand_from_server("https://tx.example/fhir", one, transport=server(
        400, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported",
                                                             "diagnostics": "CodeSystem unknown"}]}))
    assert found == {} and declined == [f"{url}: HTTP 400: CodeSystem unknown"]
    found, declined = expand_from_server("https://tx.example/fhir", one, transport=server(
        500, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                             "diagnostics": "cannot apply filters\n\x1b[31m"}]}))
    assert declined == [f"{url}: HTTP 500: cannot apply filters  [31m"]  # control characters never reach the log
    for status, body in ((500, b"oops"), (404, {"resourceType": "Bundle"}), (200, b"<html>"), (200, _expanded(url, [], total=5)),
                         (200, {"resourceType": "Bundle", "entry": []})):
        with pytest.raises(ExpansionError):
            expand_from_server("https://tx.example/fhir", one, transport=server(status, body))

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ExpansionError, match="ConnectError"):
        expand_from_server("https://tx.example/fhir", one, transport=httpx.MockTransport(unreachable))
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_expanded(url, []))

    expand_from_server("https://tx.example/fhir/", one, transport=httpx.MockTransport(record))
    assert seen[0].url.path == "/fhir/ValueSet/$expand"
    assert dict(seen[0].url.params) == {"url": url, "valueSetVersion": by_url[url]["version"]}


def _client(seed_build: Path, signer: ehr.Signer, tmp_path: Path, expansions: list[Path]) -> tuple[TestClient, str]:
    knowledge = load_knowledge(seed_build, expansions=expansions)
    trust = load_trust(signer.trust_file(tmp_path / "trust.json", jku=signer.jku))  # pinned key and its jku
    client = TestClient(create_app(knowledge, Settings(public_url="http://testserver", trust=trust)))
    return client, next(iter(knowledge.aliases))


def _cards(client: TestClient, signer: ehr.Signer, service: str, body: Json) -> list[Json]:
    url = f"http://testserver/cds-services/{service}-{body['hook']}"
    response = client.post(url, json=body, headers=signer.auth(url))
    assert response.status_code == 200, response.text
    return list(response.json()["cards"])


def _product_history(pid: str) -> dict[str, list[Json]]:
    """A qualifying patient whose two agents are recorded as products only (no ingredient)."""
    data = ehr.qualifying(pid)
    data["MedicationRequest"] = [
        ehr.medication_request(pid, f"{pid}-mr{n}", ehr.PRODUCTS, ehr.product(name)["code"],
                               ehr.product(name)["display"])
        for n, name in enumerate(("methotrexate", "azathioprine"))]
    return data


def test_product_coded_orders_need_the_site_expansion(seed_build: Path, expansions: Path, tmp_path: Path) -> None:
    signer = ehr.Signer(jku="https://ehr.test.example/jwks")  # like the Sandbox: a jku in every token
    offline, service = _client(seed_build, signer, tmp_path, [])
    site, _ = _client(seed_build, signer, tmp_path, [expansions])
    prefetch = ehr.prefetch_for(ehr.qualifying())
    for hook in ("order-select", "order-sign"):
        sandbox = ehr.hook_request(hook, "p-qualifies", prefetch, product_coded=True)
        assert _cards(offline, signer, service, sandbox) == [], hook  # the product is no agent offline
        assert len(_cards(site, signer, service, sandbox)) == 1, hook
        ingredient = ehr.hook_request(hook, "p-qualifies", prefetch)
        assert len(_cards(offline, signer, service, ingredient)) == 1, hook  # unchanged for ingredients
    products = ehr.prefetch_for(_product_history("p-products"))
    body = ehr.hook_request("patient-view", "p-products", products)
    assert _cards(offline, signer, service, body) == []
    assert len(_cards(site, signer, service, body)) == 1


def test_serve_refuses_an_unusable_expansion(tmp_path: Path, seed_build: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = CliRunner().invoke(main, ["serve", str(seed_build), "--insecure-no-auth", "--expansions", str(bad)])
    assert result.exit_code == 2 and "expected a ValueSet or a Bundle" in result.output
    result = CliRunner().invoke(main, ["serve", str(seed_build), "--insecure-no-auth",
                                       "--terminology-server", "http://tx.example/fhir"])
    assert result.exit_code == 2 and "--terminology-server must be an https URL" in result.output
