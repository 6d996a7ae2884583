"""Turn compiled resources into the files of output/r5 and write them atomically.

Everything is rendered in memory first (:func:`render_output`), then written
into a temporary sibling directory that replaces the old one in a rename
(:func:`stage`, then :func:`commit`). Output bytes depend only on the input: no clock,
no random ids, keys in a fixed construction order, fixed tar metadata.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..compile import CompileResult
from ..config import Config
from .fhirjson import dumps_bundle, dumps_bytes

__all__ = ["bundles", "commit", "discard", "render_output", "stage"]

Json = dict[str, Any]
FHIR_VERSION = "5.0.0"


def bundles(resources: list[Json], config: Config) -> tuple[Json, Json]:
    """(collection, transaction): fullUrls are canonical ``<base>/<Type>/<id>``."""
    base = config.canonical_base

    def full(r: Json) -> str:
        return f"{base}/{r['resourceType']}/{r['id']}"

    collection = {"resourceType": "Bundle", "id": "evidencekit-collection", "type": "collection",
                  "entry": [{"fullUrl": full(r), "resource": r} for r in resources]}
    transaction = {"resourceType": "Bundle", "id": "evidencekit-transaction", "type": "transaction",
                   "entry": [{"fullUrl": full(r), "resource": r,
                              "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                             for r in resources]}
    return collection, transaction


def _source_map(result: CompileResult) -> Json:
    entries = []
    for c in result.compiled:
        entries.append({"resource": c.key, "file": c.file, "line": c.line, "column": c.column,
                        "elements": c.elements})
    return {"format": "evidencekit-source-map/1", "resources": entries}


def _package_json(config: Config) -> Json:
    return {
        "name": config.package_name,
        "version": config.version,
        "description": config.package_title,
        "type": "Conformance",
        "license": config.license,
        "canonical": config.canonical_base,
        "fhirVersions": [FHIR_VERSION],
        "dependencies": {"hl7.fhir.r5.core": FHIR_VERSION},
        "author": config.publisher,
    }


def _index_json(resources: list[Json]) -> Json:
    files = []
    for r in resources:
        item: Json = {"filename": f"{r['resourceType']}-{r['id']}.json", "resourceType": r["resourceType"],
                      "id": r["id"]}
        for key in ("url", "version"):
            if key in r:
                item[key] = r[key]
        files.append(item)
    return {"index-version": 1, "files": files}


def _tgz(members: list[tuple[str, bytes]]) -> bytes:
    """A reproducible .tgz: sorted members, fixed mtime/owner/mode, gzip mtime 0."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def render_output(result: CompileResult, config: Config) -> dict[str, bytes]:
    """Every output file (path relative to output/r5 -> bytes)."""
    resources = result.resources
    files: dict[str, bytes] = {}
    collection, transaction = bundles(resources, config)
    per_type: dict[str, list[bytes]] = defaultdict(list)
    package_members = []
    pretty = []
    for r in resources:
        text = dumps_bytes(r)
        pretty.append(text)
        name = f"{r['resourceType']}-{r['id']}.json"
        files[f"resources/{name}"] = text
        package_members.append((f"package/{name}", text))
        per_type[r["resourceType"]].append(dumps_bytes(r, pretty=False))
    files["bundle.json"] = dumps_bundle(collection, pretty)
    files["transaction.json"] = dumps_bundle(transaction, pretty)
    for rtype, lines in sorted(per_type.items()):
        files[f"ndjson/{rtype}.ndjson"] = b"\n".join(lines) + b"\n"
    for definition in result.definitions:
        name = f"{definition['resourceType']}-{definition['id']}.json"
        text = dumps_bytes(definition)
        files[f"definitions/{name}"] = text
        package_members.append((f"package/{name}", text))
    package_json = dumps_bytes(_package_json(config))
    files["package/package.json"] = package_json
    package_members.append(("package/package.json", package_json))
    package_members.append(("package/.index.json", dumps_bytes(_index_json(resources + result.definitions))))
    files[f"package/{config.package_name}-{config.version}.tgz"] = _tgz(package_members)
    files["source-map.json"] = dumps_bytes(_source_map(result))
    return files


def stage(files: dict[str, bytes], target: Path) -> Path:
    """Write ``files`` into a new hidden sibling directory of ``target`` and return it."""
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        made: set[Path] = set()
        for rel, data in files.items():
            parts = Path(rel).parts
            if not parts or Path(rel).is_absolute() or any(p in ("..", ".", "") for p in parts):
                raise ValueError(f"refusing to write outside the output directory: {rel}")
            path = staging.joinpath(*parts)
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            with open(path, "wb") as handle:
                handle.write(data)
        os.chmod(staging, 0o755)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


#: Reports about the output made by other tools (e.g. `make conformance`). They survive a
#: rebuild only when every built file is byte-identical, i.e. while they still describe it.
CARRIED_REPORTS = ("conformance.json",)


def _carry_reports(staging: Path, target: Path) -> None:
    reports = [name for name in CARRIED_REPORTS if (target / name).is_file()]
    if not reports:
        return
    new = {p.relative_to(staging) for p in staging.rglob("*") if p.is_file()}
    old = {p.relative_to(target) for p in target.rglob("*") if p.is_file()} - {Path(n) for n in reports}
    if new != old or any((staging / rel).read_bytes() != (target / rel).read_bytes() for rel in new):
        return
    for name in reports:
        shutil.copy2(target / name, staging / name)


def commit(staging: Path, target: Path) -> None:
    """Swap a staged directory in place of ``target`` (the old one is removed afterwards)."""
    target = target.absolute()
    old: Path | None = None
    _carry_reports(staging, target)
    try:
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.rename(target, old)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
