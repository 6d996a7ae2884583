"""A CDS Hooks card from a decision and the compiled knowledge (no null or empty values)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..terminology import GRADE
from .knowledge import Service, StudyResult
from .rules import Decision, Json, codings

__all__ = ["card_for", "markdown_text"]

_INDICATOR = {"routine": "info", "urgent": "warning", "asap": "critical", "stat": "critical"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~#|])")


_ZWSP = "\u200b"
#: what GFM's extended autolinks and linkify-style renderers turn into links: a scheme, "www.",
#: an e-mail address, a bare domain (a dot followed by letters)
_LINKABLE = (re.compile(r"(?i)([a-z][a-z0-9+.-]*):(?=//)"), re.compile(r"(?i)\b(www)\."), re.compile(r"@"),
             re.compile(r"\.(?=[^\W\d_])"))


def markdown_text(value: Any, limit: int = 200, record: bool = False) -> str:
    """Text made inert in GitHub-flavoured Markdown: one line, no HTML, no emphasis, links or code.

    ``record``: text from the EHR's record, which must never become a link either (a zero-width
    space breaks every URL, domain and address pattern; the text reads the same).
    """
    text = " ".join(str(value).split())[:limit]
    if record:
        text = _LINKABLE[0].sub(lambda m: m.group(1) + _ZWSP + ":", text)
        text = _LINKABLE[1].sub(lambda m: m.group(1) + _ZWSP + ".", text)
        text = _LINKABLE[2].sub("@" + _ZWSP, text)
        text = _LINKABLE[3].sub("." + _ZWSP, text).replace("//", "/" + _ZWSP + "/")  # also protocol-relative
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.1f}".rstrip("0").rstrip(".") + "%"


_PROPORTION, _CI = "C44256", "C53324"


def _coded(concept: Json, code: str) -> bool:
    return any(c.get("code") == code for c in concept.get("coding", []))


def _result_text(evidence: Json) -> str:
    """One sentence for a study's result: the reported text, its count and its CI (marked if derived)."""
    stat = (evidence.get("statistic") or [{}])[0]
    text = " ".join(str(evidence.get("description") or stat.get("description") or evidence.get("title", "")).split())
    text = text.rstrip(".")
    size = stat.get("sampleSize", {})
    n, k = size.get("numberOfParticipants"), stat.get("numberAffected")
    if n is not None and k is not None and f"{k} of {n}" not in text:
        text += f" ({k} of {n})"
    elif n is not None and k is None and f"{n}" not in text:
        text += f" (N = {n})"
    for est in stat.get("attributeEstimate", []):
        rng = est.get("range", {})
        if "CI" in text or not ("low" in rng and "high" in rng and _coded(est.get("type", {}), _CI)):
            continue
        low, high = rng["low"]["value"], rng["high"]["value"]
        if _coded(stat.get("statisticType", {}), _PROPORTION):
            low, high = _pct(low), _pct(high)
        else:
            unit = rng["low"].get("unit", "")
            low, high = f"{low}", f"{high}{' ' + unit if unit else ''}"
        derived = ", derived by evidencekit, not reported" if "derived" in est.get("description", "").lower() else ""
        text += f" (95% CI {low} to {high}{derived})"
    return markdown_text(text, 1000)


def _certainty(assessment: Json | None) -> str | None:
    """GRADE's symbols and words for a certainty-of-evidence assessment ('⊕⊕◯◯ Low')."""
    if assessment is None:
        return None
    for classifier in assessment.get("content", [{}])[0].get("classifier", []):
        for coding in classifier.get("coding", []):
            if coding.get("code") in GRADE:
                return GRADE[coding["code"]]
    return None


def _findings(service: Service) -> list[str]:
    """Per justifying outcome: the body's certainty, then one line per study (randomized first)."""
    lines = []
    for finding in service.findings:
        certainty = _certainty(finding.certainty)
        lines.append(f"- **{markdown_text(finding.title)}**" + (f": certainty {certainty}" if certainty else ""))
        by_study: dict[str, list[StudyResult]] = {}
        for result in finding.results:
            by_study.setdefault(result.label, []).append(result)
        for label, results in by_study.items():
            texts = "; ".join(_result_text(r.evidence) for r in results)
            ratings = sorted({c for r in results if (c := _certainty(r.certainty))})
            suffix = f" (study certainty {', '.join(ratings)})" if ratings else ""
            lines.append(f"  - {markdown_text(label)}: {texts}{suffix}")
    return lines


def _record_line(record: Json) -> str:
    rtype = record.get("resourceType", "")
    coded = record["medication"]["concept"]["coding"] if "medication" in record else codings(record.get("code"))
    names = [c.get("display") if isinstance(c.get("display"), str) else c["code"] for c in coded]
    when = next((record[k] for k in ("authoredOn", "effectiveDateTime", "dateAsserted", "onsetDateTime",
                                     "recordedDate") if isinstance(record.get(k), str)), None)
    if when is None and isinstance(record.get("effectivePeriod"), dict):
        when = record["effectivePeriod"].get("start")
    text = ", ".join(markdown_text(n, record=True) for n in names if n) or "uncoded"
    return f"{text} ({rtype}{', ' + markdown_text(when, record=True) if when else ''})"


def _r4(decision: Decision) -> bool:
    """Whether the patient's medication records are R4-shaped (the default when there are none)."""
    records = [r for rs in decision.found.values() for r in rs
               if r.get("resourceType") in ("MedicationRequest", "MedicationStatement")]
    if not records:
        return True
    return any("medicationCodeableConcept" in r or "medicationReference" in r for r in records)


def _suggestion(order: Json, patient_id: str, r4: bool) -> Json:
    """A draft MedicationRequest of the ActivityDefinition, without dose, for the EHR to complete."""
    product = {k: v for k, v in order["productCodeableConcept"].items() if k in ("coding", "text")}
    draft: Json = {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                   "subject": {"reference": f"Patient/{patient_id}"}, "note": [{"text": order["usage"]}],
                   "instantiatesCanonical": [order["url"]]}
    if r4:
        draft["medicationCodeableConcept"] = product
    else:
        draft["medication"] = {"concept": product}
    return {"label": order["title"], "uuid": str(uuid.uuid4()), "actions": [
        {"type": "create", "description": order["description"], "resource": draft}]}


def card_for(service: Service, decision: Decision, fhir_base: str | None, source_url: str | None,
             patient_id: str | None = None) -> Json:
    """The card for a patient the rule applies to."""
    action = service.action
    reasons = []
    for item in service.rule.inputs:
        records = decision.found.get(item.ident) or []
        if records:  # inputs that must be empty for the rule to apply have none here
            lines = "; ".join(_record_line(r) for r in records[:5])
            # an agent's input is titled by its name, which the record line already starts with
            same = lines.startswith(markdown_text(item.title, record=True) + " (")
            reasons.append(f"- {lines}" if same else f"- {markdown_text(item.title)}: {lines}")
    detail = [f"**{markdown_text(action.get('description', service.plan.get('title', '')), 1000)}**", "",
              "**Why this patient**", *reasons, "",
              "**Evidence by outcome** (certainty: GRADE)", *_findings(service)]
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
        links = []
        if service.summary_of_findings is not None:
            sof = service.summary_of_findings
            links.append({"label": sof.get("title", "Summary of findings")[:200],
                          "url": f"{base}/Composition/{sof['id']}", "type": "absolute"})
        links += [{"label": f"Evidence: {e['title']}"[:200], "url": f"{base}/Evidence/{e['id']}", "type": "absolute"}
                  for e in service.evidence]
        links += [{"label": c.get("title", c["id"])[:200], "url": f"{base}/Citation/{c['id']}", "type": "absolute"}
                  for c in service.citations]
        if links:
            card["links"] = links
    if service.override_reasons:
        card["overrideReasons"] = service.override_reasons
    if service.order is not None and patient_id:
        card["suggestions"] = [_suggestion(service.order, patient_id, _r4(decision))]
        card["selectionBehavior"] = "at-most-one"  # required with suggestions (CDS Hooks 2.0)
    return card
