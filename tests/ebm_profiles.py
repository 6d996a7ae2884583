"""The real EBM-on-FHIR IG profiles (R5 line) as a FHIR NPM package for the oracle.

``tests/oracle/ebm-ig-r5/`` holds the 133 StructureDefinitions and 3 ValueSets generated with
SUSHI 3.21.0 from the IG's R5 FSH (HL7/ebm commit 06becf90545207b87235b0a095217050ac5bfa5e),
copied from ``shared/reference/ebm-ig-r5/package`` (its BUILD.md says how they were made), and a
``SHA256SUMS`` of them. They carry differentials only: the oracle's snapshot-generating support
makes the snapshots when it loads them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "oracle" / "ebm-ig-r5"
PACKAGE = "hl7.fhir.uv.ebm"
VERSION = "1.0.0-ballot"


def files() -> list[Path]:
    """The package's files, each checked against SHA256SUMS (a changed profile is refused)."""
    sums = {}
    for line in (FOLDER / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    found = sorted(p for p in FOLDER.glob("*.json"))
    if {p.name for p in found} != set(sums):
        raise RuntimeError(f"{FOLDER}: files differ from SHA256SUMS")
    for path in found:
        if hashlib.sha256(path.read_bytes()).hexdigest() != sums[path.name]:
            raise RuntimeError(f"{path}: sha256 differs from SHA256SUMS")
    return found


def package_bytes() -> bytes:
    """A reproducible .tgz with every file under ``package/``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in files():
            data = path.read_bytes()
            info = tarfile.TarInfo(f"package/{path.name}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def write_package(directory: Path) -> str:
    name = f"{PACKAGE}-{VERSION}.tgz"
    (directory / name).write_bytes(package_bytes())
    return name


def profile_urls() -> set[str]:
    """Canonical URLs of the package's StructureDefinitions."""
    return {json.loads(p.read_text(encoding="utf-8"))["url"] for p in files()
            if p.name.startswith("StructureDefinition-")}


OWN_PACKAGE = "evidencekit.extensions"


def own_package(directory: Path) -> str:
    """Our own extensions' StructureDefinitions (as ``build`` ships them in the output package, for
    the default settings) as a package, so the validator knows them and no other extension."""
    from evidencekit.compile.extensions import derived_value_definition
    from evidencekit.config import Config

    config = Config()
    members = [("package/package.json", json.dumps({
        "name": OWN_PACKAGE, "version": config.version, "fhirVersions": ["5.0.0"], "type": "Conformance",
        "dependencies": {"hl7.fhir.r5.core": "5.0.0"}}).encode())]
    definition = derived_value_definition(config)
    members.append((f"package/StructureDefinition-{definition['id']}.json", json.dumps(definition).encode()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    name = f"{OWN_PACKAGE}-{config.version}.tgz"
    (directory / name).write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return name
