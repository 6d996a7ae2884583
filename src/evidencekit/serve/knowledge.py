"""The compiled knowledge a CDS service runs from: every PlanDefinition (eca-rule) in an
output directory, with the ValueSets, CodeSystems, Evidence, Citation and
ArtifactAssessments it points to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import orjson

from .rules import Json, Rule
from .terminology import ExpansionError, ValueSets, expand_from_server, read_expansions

__all__ = ["Finding", "Knowledge", "Service", "StudyResult", "load_knowledge", "KnowledgeError", "PREFETCH_KEYS"]

#: Prefetch key per resource type a rule reads (one search per type, filtered locally).
PREFETCH_KEYS = {"Condition": "conditions", "MedicationRequest": "medicationRequests",
                 "MedicationStatement": "medicationStatements", "Observation": "observations"}
HOOKS = ("patient-view", "order-select", "order-sign")


class KnowledgeError(Exception):
    """The output directory cannot back a CDS service."""


@dataclass
class StudyResult:
    """A study's result that answers an outcome, with the study's own certainty assessment of it."""

    label: str  # 'Aggarwal et al. 2022, randomized trial'
    evidence: Json
    certainty: Json | None


@dataclass
class Finding:
    """A justifying outcome: its body of evidence, the certainty of that body, and the study results
    (randomized comparisons first, as the PlanDefinition lists them)."""

    title: str
    synthesis: Json
    certainty: Json | None
    results: list[StudyResult] = field(default_factory=list)


@dataclass
class Service:
    """One CDS service: one recommendation (PlanDefinition action) on one hook."""

    id: str
    plan: Json
    action: Json
    rule: Rule
    hook: str
    findings: list[Finding]
    summary_of_findings: Json | None
    citations: list[Json]
    justification: Json | None
    override_reasons: list[Json]
    source_label: str
    order: Json | None = None  # the action's ActivityDefinition (kind MedicationRequest): the card's suggestion

    @property
    def evidence(self) -> list[Json]:
        """Every study result the card cites, once each, in card order."""
        seen: dict[str, Json] = {}
        for finding in self.findings:
            for result in finding.results:
                seen.setdefault(result.evidence["id"], result.evidence)
        return list(seen.values())

    def prefetch(self) -> dict[str, str]:
        templates = {"patient": "Patient/{{context.patientId}}"}
        for rtype in sorted(self.rule.types()):
            templates[PREFETCH_KEYS[rtype]] = f"{rtype}?patient={{{{context.patientId}}}}"
        return templates


@dataclass
class Knowledge:
    """Services by id (``<PlanDefinition id>-<hook>``), and the PlanDefinition ids as aliases.

    CDS Hooks 2.0 allows one id for several hooks, but real clients (the CDS Hooks
    Sandbox) key services by id and keep only one, so discovery lists one id per hook.
    The PlanDefinition id still answers every hook of its rule (not listed in discovery).
    """

    services: dict[str, Service]
    aliases: dict[str, dict[str, Service]] = field(default_factory=dict)
    value_sets: ValueSets | None = None

    def find(self, service_id: str, hook: str | None = None) -> Service | None:
        """The service ``service_id`` names, or the one an alias names for ``hook``."""
        found = self.services.get(service_id)
        if found is not None:
            return found
        by_hook = self.aliases.get(service_id)
        if not by_hook:
            return None
        return by_hook.get(hook) if hook is not None else next(iter(by_hook.values()))

    def hooks_of(self, service_id: str) -> list[str]:
        if service_id in self.services:
            return [self.services[service_id].hook]
        return list(self.aliases.get(service_id, {}))


def _read(directory: Path) -> list[Json]:
    folder = directory / "resources" if (directory / "resources").is_dir() else directory
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise KnowledgeError(f"{path}: not JSON ({exc})") from exc
        if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
            out.append(data)
    return out


def _findings(plan: Json, docs: list[Json], by_url: dict[str, Json], certainty: dict[str, Json]) -> list[Finding]:
    """The action's documentation read in order: each ``outcome`` entry opens a finding, each
    ``result`` entry after it adds a study result to it."""
    findings: list[Finding] = []
    for doc in docs:
        label, target = doc.get("label"), by_url.get(doc.get("resource", ""))
        if label not in ("outcome", "result"):
            continue
        if target is None or target["resourceType"] != "Evidence":
            raise KnowledgeError(f"PlanDefinition/{plan['id']}: documentation {label} {doc.get('resource')!r} "
                                 "is not an Evidence of this output")
        assessed = certainty.get(f"Evidence/{target['id']}")
        if label == "outcome":
            findings.append(Finding(doc.get("display") or target.get("title", ""), target, assessed))
        elif not findings:
            raise KnowledgeError(f"PlanDefinition/{plan['id']}: a result is documented before any outcome")
        else:
            findings[-1].results.append(StudyResult(doc.get("display") or "", target, assessed))
    return findings


def _value_sets(by_url: dict[str, Json], files: Sequence[Path], server: str | None, transport: Any) -> ValueSets:
    expanded: dict[str, frozenset[tuple[str, str]]] = {}

    def add(found: dict[str, frozenset[tuple[str, str]]]) -> None:
        for url, codes in found.items():
            expanded[url] = expanded.get(url, frozenset()) | codes

    for path in files:
        found = read_expansions(path)
        unknown = sorted(set(found) - set(by_url))
        if unknown:
            raise ExpansionError(f"{path}: expands ValueSets this output does not have: {', '.join(unknown[:5])}")
        add(found)
    declined: list[str] = []
    if server is not None:
        found, declined = expand_from_server(server, by_url.values(), transport=transport)
        add(found)
    return ValueSets(by_url, expanded, declined)


def load_knowledge(directory: Path, *, expansions: Sequence[Path] = (), terminology_server: str | None = None,
                   terminology_transport: Any = None) -> Knowledge:
    """Every eca-rule PlanDefinition in ``directory`` (an ``evidencekit build`` output) as a service.

    ``expansions`` (files) and ``terminology_server`` (``$expand`` of every ValueSet, once, now)
    widen the knowledge's ValueSets with the codes a site orders and records (see ``terminology``)."""
    if not directory.is_dir():
        raise KnowledgeError(f"{directory} is not a directory (run `evidencekit build` first)")
    resources = _read(directory)
    by_url: dict[str, Json] = {r["url"]: r for r in resources if isinstance(r.get("url"), str)}
    by_key: dict[str, Json] = {f"{r['resourceType']}/{r.get('id')}": r for r in resources}
    try:
        value_sets = _value_sets({u: r for u, r in by_url.items() if r["resourceType"] == "ValueSet"},
                                 expansions, terminology_server, terminology_transport)
    except (ExpansionError, ValueError) as exc:
        raise KnowledgeError(str(exc)) from exc
    # certainty-of-evidence assessments by the Evidence they are about
    certainty = {r["artifactReference"]["reference"]: r for r in resources if r["resourceType"] == "ArtifactAssessment"
                 and isinstance(r.get("artifactReference"), dict) and "certainty-of-evidence" in
                 " ".join(r.get("meta", {}).get("profile", []))}
    services: dict[str, Service] = {}
    aliases: dict[str, dict[str, Service]] = {}
    for plan in resources:
        if plan["resourceType"] != "PlanDefinition" or not any(
                c.get("code") == "eca-rule" for c in plan.get("type", {}).get("coding", [])):
            continue
        for action in plan.get("action", []):
            hooks = [t["name"] for t in action.get("trigger", [])
                     if t.get("type") == "named-event" and t.get("name") in HOOKS]
            if not hooks:
                continue
            try:
                rule = Rule.from_action(action, value_sets)
            except (KeyError, ValueError) as exc:
                raise KnowledgeError(f"PlanDefinition/{plan['id']}: cannot compile its rule: {exc}") from exc
            unknown = rule.types() - set(PREFETCH_KEYS)
            if unknown:
                raise KnowledgeError(f"PlanDefinition/{plan['id']}: inputs of unsupported types {sorted(unknown)}")
            docs = action.get("documentation", [])
            findings = _findings(plan, docs, by_url, certainty)
            summary_of_findings = next((by_url[d["resource"]] for d in docs if d.get("label") == "summary-of-findings"
                                        and d.get("resource") in by_url), None)
            citations = [by_url[d["resource"]] for d in docs if d.get("type") == "citation"
                         and d.get("resource") in by_url]
            justification = next((by_key.get(d["resourceReference"]["reference"]) for d in docs
                                  if "resourceReference" in d), None)
            reasons_url = next((a["resource"] for a in plan.get("relatedArtifact", [])
                                if a.get("label") == "override-reasons"), None)
            reasons = by_url.get(reasons_url or "", {})
            override = [{"system": reasons["url"], "code": c["code"], "display": c["display"]}
                        for c in reasons.get("concept", [])]
            label = next((d["display"] for d in docs if d.get("label") == "source" and d.get("display")),
                         plan.get("publisher", plan["id"]))
            order = by_url.get(action.get("definitionCanonical", ""))
            if order is not None and (order["resourceType"] != "ActivityDefinition"
                                      or order.get("kind") != "MedicationRequest"):
                raise KnowledgeError(f"PlanDefinition/{plan['id']}: definitionCanonical is not a MedicationRequest "
                                     "ActivityDefinition of this output")
            summary = action.get("title", "")
            if not summary or len(summary) >= 140:
                raise KnowledgeError(f"PlanDefinition/{plan['id']}: action.title must be a card summary "
                                     f"of 1..139 characters")
            for hook in hooks:
                service = Service(f"{plan['id']}-{hook}", plan, action, rule, hook, findings, summary_of_findings,
                                  citations, justification, override, label, order)
                if service.id in services or service.id in aliases:
                    raise KnowledgeError(f"PlanDefinition/{plan['id']}: service id {service.id} is used twice")
                services[service.id] = service
                aliases.setdefault(plan["id"], {})[hook] = service
    clash = set(services) & set(aliases)
    if clash:
        raise KnowledgeError(f"service ids clash with PlanDefinition ids: {sorted(clash)}")
    return Knowledge(services, aliases, value_sets)
