"""Project settings: canonical base URL, version, publisher, package name.

Read from ``evidencekit.yaml`` (or ``--config``); every key has a default so
a project without the file still builds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .definitions.yaml_source import read_yaml
from .diagnostics import Diagnostic, Severity

__all__ = ["CONFIG_FILE", "Config", "find_config", "load_config"]

CONFIG_FILE = "evidencekit.yaml"


class Config(BaseModel):
    """Settings shared by every resource built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canonical_base: str = Field("http://example.org/fhir/evidencekit", pattern=r"^https?://[^\s/]+(/[^\s]*[^/\s])?$",
                                description="canonical URLs are <canonical_base>/<Type>/<id>")
    version: str = Field("0.1.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
    publisher: str = Field("evidencekit", min_length=1)
    package_name: str = Field("example.evidencekit.knowledge", pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$",
                              description="FHIR NPM package name")
    package_title: str = Field("evidencekit knowledge package", min_length=1)
    license: str = Field("CC-BY-4.0", min_length=1, description="SPDX license id of the package")
    derived_values: bool = Field(True, description="emit values evidencekit derives (counts from percentages, "
                                                   "Wilson CIs, summed Ns), each marked with the derived-value "
                                                   "extension; false (or `build --no-derived`) emits none")


def find_config(definitions: Path) -> Path | None:
    """The settings file of a definitions directory: ``evidencekit.yaml`` in it, or in the nearest
    directory above it (as SUSHI finds ``sushi-config.yaml``); None when there is none."""
    start = definitions.resolve()
    if not start.is_dir():
        start = start.parent
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None) -> tuple[Config | None, list[Diagnostic]]:
    """Load settings; ``None`` path or a missing default file gives the defaults."""
    if path is None:
        return Config(), []
    located, problems = read_yaml(path, path.name)
    if located is None:
        return None, [Diagnostic(d.file, d.line, d.column, "EK502", d.severity, d.message, hint=d.hint)
                      for d in problems]
    try:
        return Config.model_validate(located.data), []
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            pos = located.position(tuple(err["loc"]))
            out.append(Diagnostic(located.file, pos.line, pos.column, "EK502", Severity.ERROR,
                                  f"{'.'.join(map(str, err['loc']))}: {err['msg']}"))
        return None, out
