"""A test EHR for the CDS Hooks service: signs ES384/RS384 JWTs the way the CDS Hooks
Sandbox and Inferno do, builds requests with prefetch that follows the client rules of
CDS Hooks 2.0 §Prefetch, and holds synthetic patients (R4- and R5-shaped)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISS = "https://ehr.test.example"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
AGENTS = {"methotrexate": "6851", "mycophenolate mofetil": "68149", "hydroxychloroquine": "5521",
          "azathioprine": "1256"}
#: a made-up product code system: the EHR orders products (as RxNorm SCD/SBD codes in a real EHR), which
#: the service maps to agents only through a site's expansion of each agent's ValueSet
PRODUCTS = "http://example.org/evidencekit-test/products"
#: the agents' ValueSets (``<question>-<criterion>-<agent>``) by agent name
AGENT_VALUE_SETS = {"methotrexate": "refractory-methotrexate", "mycophenolate mofetil": "refractory-mycophenolate",
                    "hydroxychloroquine": "refractory-hydroxychloroquine", "azathioprine": "refractory-azathioprine"}

Json = dict[str, Any]


class Signer:
    """One EHR's keys (an ES384 and an RS384 key pair) and its JWT habits."""

    def __init__(self, iss: str = ISS, jku: str | None = None) -> None:
        self.iss = iss
        #: like the CDS Hooks Sandbox, put this jku in every token's header
        self.jku = jku
        self.ec = ec.generate_private_key(ec.SECP384R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kids = {"ES384": "ec-1", "RS384": "rsa-1"}

    def jwks(self) -> Json:
        keys = []
        for alg, private in (("ES384", self.ec), ("RS384", self.rsa)):
            algo = jwt.get_algorithm_by_name(alg)
            jwk = json.loads(algo.to_jwk(private.public_key()))
            jwk.update(kid=self.kids[alg], use="sig", alg=alg)
            keys.append(jwk)
        return {"keys": keys}

    def trust_file(self, path: Path, **issuer: Any) -> Path:
        path.write_text(json.dumps({"issuers": {self.iss: {"jwks": self.jwks(), **issuer}}}))
        return path

    def token(self, aud: str | list[str], alg: str = "ES384", *, headers: Json | None = None,
              drop: tuple[str, ...] = (), **claims: Any) -> str:
        """A fresh token: aud = the exact URL invoked, exp = iat + 300 s, a new jti each time."""
        now = int(time.time())
        payload: Json = {"iss": self.iss, "aud": aud, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        header: Json = {"kid": self.kids.get(alg, "ec-1"), "typ": "JWT"}
        if self.jku is not None:
            header["jku"] = self.jku
        header.update(headers or {})
        key = self.ec if alg.startswith("ES") else self.rsa
        return jwt.encode(payload, key, algorithm=alg, headers=header)

    def auth(self, aud: str, alg: str = "ES384") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(aud, alg)}"}


def services_by_id(discovery: Json) -> dict[str, Json]:
    """Discovery as the CDS Hooks Sandbox reads it: keyed by ``id``, the last entry wins."""
    keyed: dict[str, Json] = {}
    for service in discovery.get("services", []):
        keyed[service["id"]] = service
    return keyed


# -- synthetic patients (R4 shape unless r5=True) -------------------------------------------------

def bundle(resources: list[Json]) -> Json:
    out: Json = {"resourceType": "Bundle", "type": "searchset", "total": len(resources)}
    if resources:  # no empty arrays in FHIR JSON
        out["entry"] = [{"resource": r} for r in resources]
    return out


def patient(pid: str, birth: str = "1970-04-01") -> Json:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "name": [{"family": "Test", "given": [pid]}]}


def condition(pid: str, cid: str, system: str, code: str, display: str, status: str = "active") -> Json:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "recordedDate": "2022-06-01"}


def medication_request(pid: str, mid: str, system: str, code: str, display: str, *, status: str = "completed",
                       r5: bool = False, authored: str = "2023-01-10", intent: str = "order") -> Json:
    concept = {"coding": [{"system": system, "code": code, "display": display}]}
    out: Json = {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": intent,
                 "subject": {"reference": f"Patient/{pid}"}, "authoredOn": authored}
    if r5:
        out["medication"] = {"concept": concept}
    else:
        out["medicationCodeableConcept"] = concept
    return out


def product(name: str) -> Json:
    """The test formulary's product coding of an agent (like an RxNorm SCD: no ingredient in the record)."""
    return {"system": PRODUCTS, "code": f"{AGENTS[name]}-tablet", "display": f"{name} oral tablet"}


def site_value_sets(knowledge: Path, question: str = "ivig-refractory-cdm-question") -> list[Json]:
    """The knowledge's agent ValueSets as a site amends them: the same url and version, with the
    formulary's product code of each agent added (what a terminology server would hold)."""
    out = []
    for name, local in AGENT_VALUE_SETS.items():
        vs = json.loads((knowledge / "resources" / f"ValueSet-{question}-{local}.json").read_text())
        vs["compose"]["include"].append({"system": PRODUCTS, "concept": [
            {"code": product(name)["code"], "display": product(name)["display"]}]})
        out.append(vs)
    return out


def expansion_bundle(knowledge: Path, question: str = "ivig-refractory-cdm-question") -> Json:
    """The site's ValueSets expanded, as a Bundle (the file ``serve --expansions`` reads)."""
    entries = []
    for vs in site_value_sets(knowledge, question):
        contains = [{"system": inc["system"], "code": c["code"], "display": c.get("display")}
                    for inc in vs["compose"]["include"] for c in inc.get("concept", [])]
        expanded = {k: v for k, v in vs.items() if k != "compose"}
        expanded["expansion"] = {"timestamp": "2026-12-03T00:00:00Z", "total": len(contains), "contains": contains}
        entries.append({"resource": expanded})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def agent_request(pid: str, name: str, n: int, **kw: Any) -> Json:
    return medication_request(pid, f"{pid}-mr{n}", RXNORM, AGENTS[name], name, **kw)


def ivig_request(pid: str, status: str = "active", mid: str | None = None) -> Json:
    return medication_request(pid, mid or f"{pid}-ivig", ATC, "J06BA02",
                              "Immunoglobulins, normal human, for intravascular adm.", status=status)


def dm_condition(pid: str, code: str = "M33.13") -> Json:
    return condition(pid, f"{pid}-dm", ICD10CM, code, "Other dermatomyositis without myopathy")


def qualifying(pid: str = "p-qualifies", r5: bool = False) -> dict[str, list[Json]]:
    """Adult, active adult DM, methotrexate and azathioprine in the history, no IVIG."""
    return {"Patient": [patient(pid)], "Condition": [dm_condition(pid)],
            "MedicationRequest": [agent_request(pid, "methotrexate", 1, r5=r5),
                                  agent_request(pid, "azathioprine", 2, r5=r5)],
            "MedicationStatement": []}


def one_agent(pid: str = "p-one-agent") -> dict[str, list[Json]]:
    data = qualifying(pid)
    data["MedicationRequest"] = data["MedicationRequest"][:1]
    return data


def juvenile(pid: str = "p-juvenile") -> dict[str, list[Json]]:
    """Dermatomyositis on the problem list (SNOMED CT) and juvenile DM as the coded diagnosis."""
    data = qualifying(pid)
    data["Condition"] = [condition(pid, f"{pid}-dm", SCT, "396230008", "Dermatomyositis"),
                         condition(pid, f"{pid}-jdm", ICD10CM, "M33.03", "Juvenile dermatomyositis without myopathy")]
    return data


def ivig_active(pid: str = "p-ivig") -> dict[str, list[Json]]:
    data = qualifying(pid)
    data["MedicationRequest"].append(ivig_request(pid))
    return data


def prefetch_for(data: dict[str, list[Json]]) -> Json:
    """Every template satisfied, as the service's discovery asks (keys of our services)."""
    return {"patient": data["Patient"][0] if data["Patient"] else None,
            "conditions": bundle(data["Condition"]),
            "medicationRequests": bundle(data["MedicationRequest"]),
            "medicationStatements": bundle(data["MedicationStatement"])}


def hook_request(hook: str, pid: str, prefetch: Json | None = None, *, product_coded: bool = False,
                 **extra: Any) -> Json:
    """A request with a fresh hookInstance (UUID v4); order hooks draft hydroxychloroquine, coded as
    the ingredient or, like the CDS Hooks Sandbox's drafts, as a product only (``product_coded``)."""
    context: Json = {"userId": "Practitioner/example", "patientId": pid}
    name = "hydroxychloroquine"
    code = product(name) if product_coded else {"system": RXNORM, "code": AGENTS[name], "display": name}
    if hook == "order-select":
        draft = medication_request(pid, "draft-1", code["system"], code["code"], code["display"],
                                   status="draft", intent="proposal")
        context.update(selections=["MedicationRequest/draft-1"],
                       draftOrders={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]})
    elif hook == "order-sign":
        draft = medication_request(pid, "draft-1", code["system"], code["code"], code["display"],
                                   status="draft", intent="order")
        context.update(draftOrders={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]})
    out: Json = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        out["prefetch"] = prefetch
    out.update(extra)
    return out
