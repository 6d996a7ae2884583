"""A CDS Hooks card from a decision and the compiled knowledge (no null or empty values)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from .knowledge import Service
from .rules import Decision, Json, codings

__all__ = ["card_for", "markdown_text"]

_INDICATOR = {"routine": "info", "urgent": "warning", "asap": "critical", "stat": "critical"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~#|])")


def markdown_text(value: Any, limit: int = 200) -> str:
    """Text made inert in GitHub-flavoured Markdown: one line, no HTML, no emphasis, links or code."""
    text = " ".join(str(value).split())[:limit]
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _statistic_line(evidence: Json) -> str:
    stat = (evidence.get("statistic") or [{}])[0]
    line = markdown_text(stat.get("description") or evidence.get("description") or evidence.get("title", ""), 1000)
    size = stat.get("sampleSize", {})
    if "numberOfParticipants" in size:
        n, k = size["numberOfParticipants"], stat.get("numberAffected")
        if k is None:
            line += f" (N = {n})"
        elif f"{k} of {n}" not in line:  # the compiled description usually says it already
            line += f" ({k} of {n})"
    for est in stat.get("attributeEstimate", []):
        rng = est.get("range", {})
        if "low" in rng and "high" in rng and any(c.get("code") == "C53324" for c in est["type"].get("coding", [])):
            level = _pct(est.get("level", 0.95))
            derived = "; derived, not reported" if "derived" in est.get("description", "").lower() else ""
            line += f"; {level} CI {_pct(rng['low']['value'])} to {_pct(rng['high']['value'])}{derived}"
    return f"- {line}"


def _certainty(service: Service) -> str | None:
    for evidence in service.evidence:
        for c in evidence.get("certainty", []):
            if any(x.get("code") == "Overall" for x in c.get("type", {}).get("coding", [])):
                rating = (c.get("rating", {}).get("coding") or [{}])[0]
                return f"{rating.get('display', rating.get('code', ''))}: {c.get('description', '')}"
    return None


def _record_line(record: Json) -> str:
    rtype = record.get("resourceType", "")
    coded = record["medication"]["concept"]["coding"] if "medication" in record else codings(record.get("code"))
    names = [c.get("display") if isinstance(c.get("display"), str) else c["code"] for c in coded]
    when = next((record[k] for k in ("authoredOn", "effectiveDateTime", "dateAsserted", "onsetDateTime",
                                     "recordedDate") if isinstance(record.get(k), str)), None)
    if when is None and isinstance(record.get("effectivePeriod"), dict):
        when = record["effectivePeriod"].get("start")
    text = ", ".join(markdown_text(n) for n in names if n) or "uncoded"
    return f"{text} ({rtype}{', ' + markdown_text(when) if when else ''})"


def card_for(service: Service, decision: Decision, fhir_base: str | None, source_url: str | None) -> Json:
    """The card for a patient the rule applies to."""
    action = service.action
    reasons = []
    for item in service.rule.inputs:
        records = decision.found.get(item.ident) or []
        if records:  # inputs that must be empty for the rule to apply have none here
            reasons.append(f"- {markdown_text(item.title)}: " + "; ".join(_record_line(r) for r in records[:5]))
    detail = [f"**{markdown_text(action.get('description', service.plan.get('title', '')), 1000)}**", "",
              "**Why this patient**", *reasons, "",
              "**Evidence**", *[_statistic_line(e) for e in service.evidence]]
    certainty = _certainty(service)
    if certainty:
        detail += ["", f"**Certainty of evidence**: {markdown_text(certainty, 1000)}"]
    if service.plan.get("purpose"):
        detail += ["", f"**Rationale**: {markdown_text(service.plan['purpose'], 1000)}"]
    if service.plan.get("usage"):
        detail += ["", f"**Safety**: {markdown_text(service.plan['usage'], 1000)}"]
    detail += ["", "_Decision support only; not a substitute for clinical judgement._"]
    source: Json = {"label": service.source_label}
    if source_url:
        source["url"] = source_url
    card: Json = {
        "uuid": str(uuid.uuid4()),
        "summary": action["title"],
        "indicator": _INDICATOR.get(action.get("priority", "routine"), "info"),
        "detail": "\n".join(detail),
        "source": source,
    }
    if fhir_base:
        base = fhir_base.rstrip("/")
        links = [{"label": f"Evidence: {e['title']}"[:200], "url": f"{base}/Evidence/{e['id']}", "type": "absolute"}
                 for e in service.evidence]
        if service.citation is not None:
            links.append({"label": f"Citation: {service.citation.get('title', service.citation['id'])}"[:200],
                          "url": f"{base}/Citation/{service.citation['id']}", "type": "absolute"})
        if links:
            card["links"] = links
    if service.override_reasons:
        card["overrideReasons"] = service.override_reasons
    return card
