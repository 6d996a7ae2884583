"""Study definition -> journal-article Citation (EBM profile journal-article-citation)."""

from __future__ import annotations

from ..terminology import concept, terminology
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_citation"]

_CLASSIFICATION_TYPE = "http://hl7.org/fhir/cited-artifact-classification-type"
#: hl7.fhir.r5.core 5.0.0: CodeSystem-cited-artifact-classification-type, CodeSystem-citation-artifact-classifier
_PUBLICATION_TYPE = {"system": _CLASSIFICATION_TYPE, "code": "publication-type", "display": "Publication type"}
_MESH_HEADING = {"system": _CLASSIFICATION_TYPE, "code": "mesh-heading", "display": "MeSH heading"}
_JOURNAL_ARTICLE = {"system": "http://hl7.org/fhir/citation-artifact-classifier", "code": "D016428",
                    "display": "Journal Article"}


def _classification(ctx: CompileContext) -> list[Json]:
    """The record's classification, which R5 servers index (``classifier``): the publication type, and
    the MeSH descriptors the definition files it under, each only when its code is verified (or
    reviewed by the project); an unverified one is left out (`check` reports it, EK302)."""
    active = terminology()
    mesh = [found for key in ctx.study.citation.mesh
            if (found := concept(key)) is not None and active.unchecked(key) is None]
    out: list[Json] = [{"type": {"coding": [_PUBLICATION_TYPE]}, "classifier": [{"coding": [_JOURNAL_ARTICLE]}]}]
    if mesh:
        out.append({"type": {"coding": [_MESH_HEADING]},
                    "classifier": [{"coding": [m.coding()],
                                    "text": f"{m.display} (filed by the knowledge base's authors, not NLM indexing)"}
                                   for m in mesh]})
    return out



def compile_citation(ctx: CompileContext) -> Json:
    study, cit = ctx.study, ctx.study.citation
    rid = ctx.rid("citation")
    authors = [f"{a.family} {a.initials}" for a in cit.authors] + ([] if cit.authors_complete else ["et al"])
    where = cit.issue_date[:4] + (f";{cit.volume}" if cit.volume else "") + (f"({cit.issue})" if cit.issue else "") \
        + (f":{cit.pages}" if cit.pages else "")
    vancouver = (f"{', '.join(authors)}. {cit.title}. {cit.journal.abbreviation}. {where}."
                 + (f" doi:{cit.doi}." if cit.doi else "") + (f" PMID: {cit.pmid}." if cit.pmid else ""))
    identifiers = ([{"system": "https://pubmed.ncbi.nlm.nih.gov", "value": cit.pmid}] if cit.pmid else []) \
        + ([{"system": "https://doi.org", "value": cit.doi}] if cit.doi else [])
    contained = [
        {"resourceType": "Practitioner", "id": f"author{i}",
         "name": [{"text": f"{a.family} {a.initials}", "family": a.family}]}
        for i, a in enumerate(cit.authors)
    ]
    publication_form: Json = {
        "publishedIn": {
            "type": {"coding": [{"system": "http://hl7.org/fhir/published-in-type", "code": "D020492",
                                 "display": "Periodical"}]},
            "identifier": [
                # Identifier types as text only: NLM's ISSN-type list is not a FHIR code system
                # and v2-0203#XX is outside the identifier-type value set (validator warnings).
                {"type": {"text": f"{issn.medium.capitalize()} ISSN"},
                 "system": "https://portal.issn.org", "value": issn.value}
                for issn in cit.journal.issn
            ] + [
                {"type": {"text": "ISOAbbreviation"},
                 "system": "https://www.issn.org/services/online-services/access-to-the-ltwa/",
                 "value": cit.journal.abbreviation},
            ],
            "title": cit.journal.title or cit.journal.abbreviation,
        },
    }
    for name in ("volume", "issue"):
        if getattr(cit, name):
            publication_form[name] = getattr(cit, name)
    if cit.epub_date:
        publication_form["articleDate"] = cit.epub_date
    publication_form["publicationDateText"] = cit.issue_date
    publication_form["language"] = [{"coding": [{"system": "urn:ietf:bcp:47", "code": cit.language,
                                                 "display": "English"}]}]
    if cit.pages:
        first, _, last = cit.pages.partition("-")
        publication_form["pageString"] = cit.pages
        publication_form["firstPage"] = first
        if last:
            publication_form["lastPage"] = last
    status_dates = []
    if cit.epub_date:
        status_dates.append({"activity": {"coding": [{"system": "http://hl7.org/fhir/cited-artifact-status-type",
                                                      "code": "published-early-form"}],
                                          "text": "Published online (e-pub)"},
                             "period": {"start": cit.epub_date}})
    status_dates.append({"activity": {"coding": [{"system": "http://hl7.org/fhir/cited-artifact-status-type",
                                                  "code": "published-final-form"}],
                                      "text": "Published in journal issue"},
                         "period": {"start": cit.issue_date}})
    resource: Json = {
        "resourceType": "Citation",
        "id": rid,
        "meta": {"profile": [EBM + "journal-article-citation"]},
        "text": div(f"Citation: {vancouver}",
                    ("Identifiers", ([f"PMID {cit.pmid}"] if cit.pmid else []) + ([f"DOI {cit.doi}"] if cit.doi else [])
                     + [f"{r.registry} {r.value}" for r in study.design.registrations]),
                    ("Journal", [f"{cit.journal.title} ({cit.journal.abbreviation})" if cit.journal.title
                                 else cit.journal.abbreviation] +
                     [f"ISSN {i.value} ({i.medium})" for i in cit.journal.issn])),
        "contained": contained,
        "url": ctx.url("Citation", rid),
        **({"identifier": [dict(i) for i in identifiers]} if identifiers else {}),
        "version": ctx.config.version,
        "name": _name(f"Citation {study.id}"),
        "title": f"Citation for {cit.title}",
        "status": study.status,
        "date": study.date,
        "publisher": ctx.config.publisher,
        "classification": _classification(ctx),
        "summary": [{"style": {"coding": [{"system": "http://hl7.org/fhir/citation-summary-style",
                                           "code": "vancouver"}]},
                     "text": vancouver}],
        "citedArtifact": {
            "identifier": identifiers,
            "currentState": [{"coding": [{"system": "http://hl7.org/fhir/cited-artifact-status-type",
                                          "code": "published-final-form"}]}],
            "statusDate": status_dates,
            "title": [{"type": [{"coding": [{"system": "http://hl7.org/fhir/title-type", "code": "primary",
                                             "display": "Primary title"}]}],
                       "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": cit.language,
                                                "display": "English"}]},
                       "text": cit.title}],
            "publicationForm": [publication_form],
            "webLocation": ([
                {"classifier": [{"coding": [{"system": "http://hl7.org/fhir/artifact-url-classifier",
                                             "code": "abstract", "display": "Abstract"}]}],
                 "url": f"https://pubmed.ncbi.nlm.nih.gov/{cit.pmid}/"},
            ] if cit.pmid else []) + ([{"classifier": [{"coding": [{"system": "http://hl7.org/fhir/artifact-url-classifier",
                                               "code": "doi-based", "display": "DOI Based"}]}],
                   "url": f"https://doi.org/{cit.doi}"}] if cit.doi else []),
            "classification": [
                {"type": {"coding": [{"system": "http://hl7.org/fhir/cited-artifact-classification-type",
                                      "code": "knowledge-artifact-type",
                                      "display": "Knowledge Artifact Type"}]},
                 "classifier": [{"coding": [{"system": "http://hl7.org/fhir/citation-artifact-classifier",
                                             "code": "D016428", "display": "Journal Article"}]}]},
            ],
            "contributorship": {
                "complete": cit.authors_complete,
                "entry": [
                    {"contributor": {"reference": f"#author{i}", "type": "Practitioner",
                                     "display": f"{a.family} {a.initials}"},
                     "forenameInitials": a.initials,
                     "role": {"coding": [{"system": "http://hl7.org/fhir/contributor-role", "code": "author",
                                          "display": "Author/Creator"}]},
                     "rankingOrder": i + 1}
                    for i, a in enumerate(cit.authors)
                ],
            },
        },
    }
    for name in ("identifier", "webLocation"):  # a publication with no PMID and no DOI has neither
        if not resource["citedArtifact"][name]:
            del resource["citedArtifact"][name]
    registrations = [{"type": {"text": f"{r.registry} registration"}, "value": r.value,
                      **({"system": r.system} if r.system else {}), "assigner": {"display": r.registry}}
                     for r in study.design.registrations]
    if registrations:
        cited = resource["citedArtifact"]
        resource["citedArtifact"] = {**({"identifier": cited.pop("identifier")} if "identifier" in cited else {}),
                                     "relatedIdentifier": registrations, **cited}
    compiled = ctx.add(resource, "citation")
    for i, reg in enumerate(study.design.registrations):
        ctx.element(compiled, f"Citation.citedArtifact.relatedIdentifier[{i}].value",
                    ("design", "registrations", i, "value"), reg.value, reg.provenance)
    for field, fhir_path in (("pmid", "Citation.identifier[0].value"),
                             ("doi", f"Citation.identifier[{1 if cit.pmid else 0}].value"),
                             ("pmid", "Citation.citedArtifact.identifier[0].value"),
                             ("doi", f"Citation.citedArtifact.identifier[{1 if cit.pmid else 0}].value"),
                             ("volume", "Citation.citedArtifact.publicationForm[0].volume"),
                             ("issue", "Citation.citedArtifact.publicationForm[0].issue"),
                             ("pages", "Citation.citedArtifact.publicationForm[0].pageString"),
                             ("epub_date", "Citation.citedArtifact.publicationForm[0].articleDate"),
                             ("issue_date", "Citation.citedArtifact.publicationForm[0].publicationDateText")):
        value = getattr(cit, field)
        if value is not None:
            ctx.element(compiled, fhir_path, ("citation", field), str(value), cit.provenance)
    return resource


def _name(text: str) -> str:
    """A computable name (FHIR cnl-0: starts with a capital, letters/digits/_ only)."""
    cleaned = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in text.title())
    cleaned = "_".join(part for part in cleaned.split("_") if part)
    return cleaned[:1].upper() + cleaned[1:]

