"""The authoring model of a project terminology file (`kind: terminology`): the concepts a project
uses that the built-in library does not know, each with its source and status, the code systems
they belong to, and the built-in concepts the project has reviewed.

The file sits beside the study and question definitions; its concepts are added to the built-in
library for that build only (a key the library already has must agree with it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .model import DateText, Model, Text

__all__ = ["ProjectConcept", "ProjectUnit", "Review", "ReviewedConcept", "TerminologyDefinition"]

_PREFIX = r"^[a-z][a-z0-9-]{0,19}$"
_CODE = r"^[^\s:]([^\s]{0,62}[^\s])?$"


class Review(Model):
    """Who checked a concept against its authoritative source, and when."""

    by: Text
    date: DateText
    note: Text | None = Field(None, description="what was checked, e.g. 'code and display on RxNav, 2026-11-30'")


class ProjectConcept(Model):
    system: str = Field(pattern=_PREFIX, description="a code system prefix: built-in (sct, icd10cm, rxnorm, ...) "
                                                     "or one declared under `systems`")
    code: str = Field(pattern=_CODE, min_length=1, max_length=64)
    display: Text = Field(max_length=500)
    status: Literal["verified", "corroborated", "unverified"] = Field(
        description="verified: checked against the code system's release; corroborated: seen in secondary "
                    "sources; unverified: not checked")
    source: Text = Field(max_length=1000, description="where the code and display were read: a release, a "
                                                      "package and version, or a URL a reader can follow")
    reviewed: Review | None = Field(None, description="the project has checked this concept: `check` stops "
                                                      "reporting its uses (EK302)")

    @property
    def key(self) -> str:
        return f"{self.system}:{self.code}"


class ReviewedConcept(Review):
    """A built-in concept the project has checked itself."""

    concept: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}:[^\s]{1,64}$", description="its key, e.g. rxnorm:6851")


class ProjectUnit(Model):
    """A unit the definitions write (``unit: cycles``) and its UCUM code."""

    unit: Text = Field(max_length=100, description="the unit as results and criteria write it, e.g. cycles")
    code: str = Field(pattern=r"^[!-~]{1,40}$", description="its UCUM code (case-sensitive), e.g. d, mg/dL, "
                                                               "or 1 for a count (the unit text says of what)")
    source: Text = Field(max_length=1000, description="where the code was read or how it was formed, e.g. "
                                                      "UCUM unit 1 (a count)")

    @model_validator(mode="after")
    def _braces(self) -> "ProjectUnit":
        depth = 0
        for ch in self.code:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth not in (0, 1):
                raise ValueError(f"UCUM code {self.code!r}: annotations are {{...}}, not nested or unbalanced")
        if depth:
            raise ValueError(f"UCUM code {self.code!r}: an annotation is not closed")
        return self


class TerminologyDefinition(Model):
    """A terminology file: one file among the definitions with ``kind: terminology``."""

    schema_: str | None = Field(None, alias="$schema")
    kind: Literal["terminology"]
    systems: dict[str, str] = Field(default_factory=dict, description="prefix -> code system URI, for systems "
                                                                      "the built-in library does not know")
    concepts: list[ProjectConcept] = Field(default_factory=list)
    reviewed: list[ReviewedConcept] = Field(default_factory=list, description="built-in concepts the project "
                                                                              "has reviewed")
    units: list[ProjectUnit] = Field(default_factory=list, description="UCUM codes of the units the project's "
                                                                       "results and criteria use")

    @model_validator(mode="after")
    def _shape(self) -> "TerminologyDefinition":
        import re

        for prefix, uri in self.systems.items():
            if not re.match(_PREFIX, prefix):
                raise ValueError(f"system prefix {prefix[:40]!r}: lower-case letters, digits and '-', at most 20")
            if not re.match(r"^(https?://[^\s]+|urn:(oid|uuid):[^\s]+)$", uri) or len(uri) > 500:
                raise ValueError(f"system {prefix!r}: {uri[:80]!r} is not a code system URI (http(s):// or urn:)")
        from collections import Counter

        dupes = sorted(k for k, n in Counter(c.key for c in self.concepts).items() if n > 1)
        if dupes:
            raise ValueError(f"concepts declared twice: {', '.join(dupes[:5])}")
        return self
