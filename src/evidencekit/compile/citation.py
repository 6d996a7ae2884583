"""A study's reports -> Citations: its `citation` and every further report (a journal article:
journal-article-citation; a registry record: database-entry-citation; a web page:
web-page-citation). The study's own citation keeps the id '<study>-citation'."""

from __future__ import annotations

from ..definitions.model import Article, RegistryRecord, Report, WebPage
from ..terminology import concept, terminology
from .context import EBM, CompileContext, Json, div

__all__ = ["compile_citations", "report_ref", "report_rid"]

#: FEvIR code system 179423 (as the IG's examples ship it; tests check each code and display)
_FEVIR = "https://fevir.net/resources/CodeSystem/179423"
_ARTIFACT_CLASSIFIER = "http://hl7.org/fhir/citation-artifact-classifier"


def report_rid(ctx: CompileContext, report: str) -> str:
    """The Citation id of a study's report (its citation: '<study>-citation')."""
    return ctx.rid("citation") if report == ctx.study.primary_report else ctx.rid(f"citation-{report}")


def report_ref(ctx: CompileContext, report: str) -> Json:
    """A reference to the Citation of one of the study's reports."""
    study = ctx.study
    title = study.citation.title if report == study.primary_report else \
        next(r.title for r in study.reports if r.id == report)
    return ctx.ref("Citation", report_rid(ctx, report), title)


def compile_citations(ctx: CompileContext) -> list[Json]:
    """The Citation of the study's citation, then one per report, as written."""
    out = [compile_citation(ctx, ctx.study.citation, ctx.rid("citation"), ("citation",), primary=True,
                            title=ctx.study.citation.title)]
    for i, report in enumerate(ctx.study.reports):
        rid = report_rid(ctx, report.id)
        if report.article is not None:
            out.append(compile_citation(ctx, report.article, rid, ("reports", i, "article"), primary=False,
                                        title=report.title, description=report.description))
        elif report.registry_record is not None:
            out.append(_record_citation(ctx, report, report.registry_record, rid, ("reports", i, "registry_record")))
        elif report.web_page is not None:
            out.append(_page_citation(ctx, report, report.web_page, rid, ("reports", i, "web_page")))
    return out

_CLASSIFICATION_TYPE = "http://hl7.org/fhir/cited-artifact-classification-type"
#: hl7.fhir.r5.core 5.0.0: CodeSystem-cited-artifact-classification-type, CodeSystem-citation-artifact-classifier
_PUBLICATION_TYPE = {"system": _CLASSIFICATION_TYPE, "code": "publication-type", "display": "Publication type"}
_MESH_HEADING = {"system": _CLASSIFICATION_TYPE, "code": "mesh-heading", "display": "MeSH heading"}
_JOURNAL_ARTICLE = {"system": "http://hl7.org/fhir/citation-artifact-classifier", "code": "D016428",
                    "display": "Journal Article"}


def _classification(cit: Article) -> list[Json]:
    """The record's classification, which R5 servers index (``classifier``): the publication type, and
    the MeSH descriptors the definition files it under, each only when its code is verified (or
    reviewed by the project); an unverified one is left out (`check` reports it, EK302)."""
    active = terminology()
    mesh = [found for key in cit.mesh
            if (found := concept(key)) is not None and active.unchecked(key) is None]
    out: list[Json] = [{"type": {"coding": [_PUBLICATION_TYPE]}, "classifier": [{"coding": [_JOURNAL_ARTICLE]}]}]
    if mesh:
        out.append({"type": {"coding": [_MESH_HEADING]},
                    "classifier": [{"coding": [m.coding()],
                                    "text": f"{m.display} (filed by the knowledge base's authors, not NLM indexing)"}
                                   for m in mesh]})
    return out



def compile_citation(ctx: CompileContext, cit: Article, rid: str, yaml_path: tuple[object, ...], primary: bool,
                     title: str, description: str | None = None) -> Json:
    """A journal article's Citation (journal-article-citation); the study's own carries its registrations."""
    study = ctx.study
    registrations_of = study.design.registrations if primary else []
    authors = [f"{a.family} {a.initials}" for a in cit.authors] + ([] if cit.authors_complete else ["et al"])
    where = cit.issue_date[:4] + (f";{cit.volume}" if cit.volume else "") + (f"({cit.issue})" if cit.issue else "") \
        + (f":{cit.pages}" if cit.pages else "")
    vancouver = (f"{', '.join(authors)}.{f' {cit.title}.' if cit.title else ''} {cit.journal.name}. {where}."
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
            ] + ([
                {"type": {"text": "ISOAbbreviation"},
                 "system": "https://www.issn.org/services/online-services/access-to-the-ltwa/",
                 "value": cit.journal.abbreviation},
            ] if cit.journal.abbreviation else []),
            "title": cit.journal.name if cit.journal.title is None else cit.journal.title,
        },
    }
    if not publication_form["publishedIn"]["identifier"]:  # a journal known by its title only
        del publication_form["publishedIn"]["identifier"]
    for name in ("volume", "issue"):
        if getattr(cit, name):
            publication_form[name] = getattr(cit, name)
    if cit.epub_date:
        publication_form["articleDate"] = cit.epub_date
    publication_form["publicationDateText"] = cit.issue_date
    language = [{"coding": [{"system": "urn:ietf:bcp:47", "code": cit.language, "display": "English"}]}] \
        if cit.language else []
    if language:
        publication_form["language"] = language
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
        "text": div(f"Citation: {vancouver}", description or "",
                    ("Identifiers", ([f"PMID {cit.pmid}"] if cit.pmid else []) + ([f"DOI {cit.doi}"] if cit.doi else [])
                     + [f"{r.registry} {r.value}" for r in registrations_of]),
                    ("Journal", [f"{cit.journal.title} ({cit.journal.abbreviation})" if cit.journal.title
                                 and cit.journal.abbreviation else cit.journal.name] +
                     [f"ISSN {i.value} ({i.medium})" for i in cit.journal.issn])),
        "contained": contained,
        "url": ctx.url("Citation", rid),
        **({"identifier": [dict(i) for i in identifiers]} if identifiers else {}),
        "version": ctx.config.version,
        "name": _name(f"Citation {rid.removesuffix('-citation')}" if primary else f"Citation {rid}"),
        "title": f"Citation for {title}",
        "status": study.status,
        "date": study.date,
        "publisher": ctx.config.publisher,
        "classification": _classification(cit),
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
                       **({"language": language[0]} if language else {}),
                       "text": cit.title}] if cit.title else [],
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
    for name in ("identifier", "webLocation", "title"):  # a publication with no PMID and no DOI has neither
        if not resource["citedArtifact"][name]:
            del resource["citedArtifact"][name]
    registrations = [{"type": {"text": f"{r.registry} registration"}, "value": r.value,
                      **({"system": r.system} if r.system else {}), "assigner": {"display": r.registry}}
                     for r in registrations_of]
    if registrations:
        cited = resource["citedArtifact"]
        resource["citedArtifact"] = {**({"identifier": cited.pop("identifier")} if "identifier" in cited else {}),
                                     "relatedIdentifier": registrations, **cited}
    compiled = ctx.add(resource, *yaml_path)
    for i, reg in enumerate(registrations_of):
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
            ctx.element(compiled, fhir_path, (*yaml_path, field), str(value), cit.provenance)
    return resource


def _shell(ctx: CompileContext, report: Report, rid: str, profile: str, classifier: Json, published_in: Json,
           web: list[Json], narrative: list[str], identifier: Json | None) -> Json:
    """What a registry record's and a web page's Citation share."""
    study = ctx.study
    cited: Json = {}
    if identifier is not None:
        cited["identifier"] = [identifier]
    # the definition's words for what the record or page is, not a title the source prints: "human use"
    cited["title"] = [{"type": [{"coding": [{"system": "http://hl7.org/fhir/title-type", "code": "human-use",
                                             "display": "Human use"}]}], "text": report.title}]
    cited["publicationForm"] = [{"publishedIn": published_in}]
    if web:
        cited["webLocation"] = web
    cited["classification"] = [{"type": {"coding": [{"system": "http://hl7.org/fhir/cited-artifact-classification-type",
                                                      "code": "knowledge-artifact-type",
                                                      "display": "Knowledge Artifact Type"}]},
                                "classifier": [{"coding": [classifier]}]}]
    return {
        "resourceType": "Citation",
        "id": rid,
        "meta": {"profile": [EBM + profile]},
        "text": div(*narrative, report.description or ""),
        "url": ctx.url("Citation", rid),
        **({"identifier": [dict(identifier)]} if identifier is not None else {}),
        "version": ctx.config.version,
        "name": _name(f"Citation {rid}"),
        "title": f"Citation for {report.title}",
        "status": study.status,
        "date": study.date,
        "publisher": ctx.config.publisher,
        "citedArtifact": cited,
    }


def _record_citation(ctx: CompileContext, report: Report, record: RegistryRecord, rid: str,
                     yaml_path: tuple[object, ...]) -> Json:
    """A registry's record of the study (database-entry-citation): the registry is the database."""
    identifier: Json = {"type": {"text": f"{record.registry} record"},
                        **({"system": record.system} if record.system else {}), "value": record.identifier,
                        "assigner": {"display": record.registry}}
    web = [{"url": record.url}] if record.url else []
    resource = _shell(ctx, report, rid, "database-entry-citation",
                      {"system": _FEVIR, "code": "classified-as-database-entry", "display": "Database Entry"},
                      {"type": {"coding": [{"system": "http://hl7.org/fhir/published-in-type", "code": "D019991",
                                            "display": "Database"}]}, "title": record.registry},
                      web, [f"Citation: {record.title}. {record.registry} {record.identifier}."
                            + (f" {record.url}" if record.url else "")], identifier)
    compiled = ctx.add(resource, *yaml_path)
    ctx.element(compiled, "Citation.citedArtifact.identifier[0].value", (*yaml_path, "identifier"),
                record.identifier, record.provenance)
    return resource


def _page_citation(ctx: CompileContext, report: Report, page: WebPage, rid: str,
                   yaml_path: tuple[object, ...]) -> Json:
    """A web page that reports the study (web-page-citation)."""
    # an address the source gives only shortened is shown as words, never as a URL someone could follow
    where = {"url": page.url} if page.url else {"classifier": [{"text": f"Address as the source gives it: {page.address}"}]}
    resource = _shell(ctx, report, rid, "web-page-citation",
                      {"system": _ARTIFACT_CLASSIFIER, "code": "webpage", "display": "Webpage"},
                      {"type": {"text": "Website"}, "title": page.site}, [where],
                      [f"Citation: {page.title}. {page.site}. {page.url or page.address}"], None)
    compiled = ctx.add(resource, *yaml_path)
    if page.url:
        ctx.element(compiled, "Citation.citedArtifact.webLocation[0].url", (*yaml_path, "url"), page.url,
                    page.provenance)
    else:
        ctx.element(compiled, "Citation.citedArtifact.webLocation[0].classifier[0].text", (*yaml_path, "address"),
                    page.address, page.provenance)
    return resource


def _name(text: str) -> str:
    """A computable name (FHIR cnl-0: starts with a capital, letters/digits/_ only)."""
    cleaned = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in text.title())
    cleaned = "_".join(part for part in cleaned.split("_") if part)
    return cleaned[:1].upper() + cleaned[1:]

