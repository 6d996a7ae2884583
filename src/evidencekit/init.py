"""``evidencekit init``: a new project from the template in ``init_template/``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .definitions.schema import schema_json

__all__ = ["write_project"]

_TEMPLATE_FILES = ("evidencekit.yaml", "Makefile", "definitions/example-study.yaml", "definitions/terminology.yaml",
                   "definitions/sources/example-abstract.txt")


def write_project(directory: Path) -> list[Path]:
    """Write the template and the three JSON Schemas into ``directory``; never overwrite a file."""
    template = resources.files("evidencekit") / "init_template"
    files = {name: (template / name).read_text(encoding="utf-8") for name in _TEMPLATE_FILES}
    for kind in ("study", "question", "terminology"):
        files[f"definitions/{kind}.schema.json"] = schema_json(kind)
    clashes = [name for name in files if (directory / name).exists()]
    if clashes:
        raise FileExistsError(f"{directory / clashes[0]} exists; init writes only into a new or empty project")
    written = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
