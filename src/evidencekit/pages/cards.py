"""A preview of each recommendation's CDS Hooks card, as an EHR shows it: the card ``serve`` would
return for a patient the rule applies to, with its Markdown detail rendered (CommonMark, raw
HTML off, as the CDS Hooks 2.0 spec asks of EHRs). The patient's own records ("Why this patient")
are not known here, so the page says where they would be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CardPreview", "card_previews"]


@dataclass
class CardPreview:
    plan: str
    hooks: list[str]
    summary: str
    indicator: str
    detail_html: str
    source: str
    links: list[tuple[str, str]]
    suggestion: str | None


def card_previews(directory: Path) -> dict[str, list[CardPreview]]:
    """Summary-of-findings id -> the card of each recommendation it justifies (one per PlanDefinition,
    whatever the hook)."""
    from markdown_it import MarkdownIt

    from ..serve.cards import card_for
    from ..serve.knowledge import load_knowledge
    from ..serve.rules import Decision

    knowledge = load_knowledge(directory)
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False})
    by_plan: dict[str, CardPreview] = {}
    sof_of: dict[str, str] = {}  # plan -> the summary of findings that justifies it (the question's page)
    for service in sorted(knowledge.services.values(), key=lambda s: s.id):
        plan = str(service.plan["id"])
        if plan in by_plan:
            by_plan[plan].hooks.append(service.hook)
            continue
        sof_of[plan] = str((service.summary_of_findings or {}).get("id", plan))
        card = card_for(service, Decision(True, None, {}), "[FHIR base]", None, patient_id="[patient]")
        suggestion = (card.get("suggestions") or [{}])[0].get("label")
        by_plan[plan] = CardPreview(plan, [service.hook], str(card["summary"]), str(card["indicator"]),
                                    renderer.render(str(card["detail"])), str(card["source"]["label"]),
                                    [(str(link["label"]), str(link["url"])) for link in card.get("links", [])],
                                    str(suggestion) if suggestion else None)
    out: dict[str, list[CardPreview]] = {}
    for plan, preview in sorted(by_plan.items()):
        out.setdefault(sof_of[plan], []).append(preview)
    return out
