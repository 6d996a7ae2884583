"""The SearchParameters that make the knowledge findable where R5 has none (shipped in the package
and pushed before the data: a server indexes a resource only by the parameters it knows when the
resource is written).

* ``ArtifactAssessment?artifact=Evidence/<id>`` — R5 has no search parameter on what an
  assessment is about, so a certainty rating cannot be found from its Evidence (nor
  ``_revinclude``d);
* ``Evidence?variable=EvidenceVariable/<id>`` — every Evidence about an outcome (or a Group);
* ``Citation?cited-artifact-identifier=https://pubmed.ncbi.nlm.nih.gov|<pmid>`` — the cited
  article's identifiers (R5's ``identifier`` reads only ``Citation.identifier``).
"""

from __future__ import annotations

from ..config import Config
from .context import Json

__all__ = ["SEARCH_PARAMETERS", "search_parameter_definitions"]

#: (id, base, code, type, expression, targets, description)
SEARCH_PARAMETERS: tuple[tuple[str, str, str, str, str, tuple[str, ...], str], ...] = (
    ("ArtifactAssessment-artifact", "ArtifactAssessment", "artifact", "reference",
     "ArtifactAssessment.artifact.ofType(Reference) | ArtifactAssessment.artifact.ofType(canonical)",
     ("Citation", "Composition", "Evidence", "EvidenceVariable", "Group", "PlanDefinition", "ResearchStudy"),
     "The artifact an assessment is about (for example the Evidence a certainty rating rates)"),
    ("Evidence-variable", "Evidence", "variable", "reference", "Evidence.variableDefinition.observed",
     ("EvidenceVariable", "Group"),
     "A variable the Evidence observes: its population Group, its exposure or outcome EvidenceVariable"),
    ("Citation-cited-artifact-identifier", "Citation", "cited-artifact-identifier", "token",
     "Citation.citedArtifact.identifier", (),
     "An identifier of the cited artifact, such as its PMID (https://pubmed.ncbi.nlm.nih.gov) or DOI "
     "(https://doi.org)"),
)


def search_parameter_definitions(config: Config) -> list[Json]:
    """The SearchParameter resources, with canonical URLs under the project's base."""
    out = []
    for rid, base, code, kind, expression, targets, description in SEARCH_PARAMETERS:
        name = "".join(part[:1].upper() + part[1:] for part in rid.replace("-", " ").split())
        resource: Json = {
            "resourceType": "SearchParameter",
            "id": rid,
            "url": f"{config.canonical_base}/SearchParameter/{rid}",
            "version": config.version,
            "name": name,
            "status": "active",
            "publisher": config.publisher,
            "description": description,
            "code": code,
            "base": [base],
            "type": kind,
            "expression": expression,
            "processingMode": "normal",
        }
        if targets:
            resource["target"] = list(targets)
        out.append(resource)
    return out
