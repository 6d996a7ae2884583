"""The HL7/HAPI validator as an oracle: build it, fetch its packages, run it as one process.

`make conformance` runs this file: it validates every resource and both bundles of
output/r5 and writes output/r5/conformance.json (exit 1 on any error). Tests use the
:class:`Oracle` class directly. Java 17 and Maven build ``tests/oracle`` (HAPI FHIR 8.8.0);
the FHIR packages come from the npm registry, pinned in ``tests/oracle/packages.lock``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORACLE_DIR = ROOT / "tests" / "oracle"
TARGET = ORACLE_DIR / "target"
PACKAGES = ORACLE_DIR / ".packages"  # git-ignored download cache
MAIN_CLASS = "org.evidencekit.oracle.Oracle"


class OracleError(RuntimeError):
    """The oracle could not be built, started, or died while validating."""


def tools_available() -> tuple[bool, str]:
    for tool in ("java", "mvn", "npm"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed"
    return True, ""


def _sources_newer_than_build() -> bool:
    marker = TARGET / "classes" / "org" / "evidencekit" / "oracle" / "Oracle.class"
    if not marker.exists() or not (TARGET / "lib").is_dir():
        return True
    built = marker.stat().st_mtime
    sources = [ORACLE_DIR / "pom.xml", *ORACLE_DIR.joinpath("src").rglob("*.java")]
    return any(p.stat().st_mtime > built for p in sources)


def build_oracle() -> None:
    """`mvn package` the oracle when its sources are newer than the build."""
    if not _sources_newer_than_build():
        return
    proc = subprocess.run(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=ORACLE_DIR,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise OracleError(f"mvn package failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def _lock() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (ORACLE_DIR / "packages.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version, sha1, sha256 = line.split("\t")
            rows.append((name, version, sha1, sha256))
    return rows


def fetch_packages() -> list[str]:
    """Make sure every pinned package is in the cache with its recorded sha256; return file names."""
    PACKAGES.mkdir(parents=True, exist_ok=True)
    names = []
    for name, version, sha1, sha256 in _lock():
        filename = f"{name}-{version}.tgz"
        path = PACKAGES / filename
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            with tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", tmp],
                                      capture_output=True, text=True, timeout=600)
                if proc.returncode != 0:
                    raise OracleError(f"npm pack {name}@{version} failed: {proc.stderr[-2000:]}")
                data = (Path(tmp) / filename).read_bytes()
            if hashlib.sha1(data).hexdigest() != sha1 or hashlib.sha256(data).hexdigest() != sha256:
                raise OracleError(f"{filename}: checksum differs from tests/oracle/packages.lock; refusing it")
            path.write_bytes(data)
        names.append(filename)
    from ebm_profiles import own_package, write_package

    names.append(write_package(PACKAGES))
    names.append(own_package(PACKAGES))
    return names


class Oracle:
    """One long-lived validator process: paths in, OperationOutcome JSON out."""

    def __init__(self) -> None:
        build_oracle()
        packages = fetch_packages()
        classpath = os.pathsep.join([str(TARGET / "classes"), str(TARGET / "lib" / "*"), str(PACKAGES)])
        self.process = subprocess.Popen(
            ["java", "-Xmx2g", "-Djava.awt.headless=true", "-cp", classpath, MAIN_CLASS, *packages],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            encoding="utf-8", start_new_session=True)
        ready = self.process.stdout.readline() if self.process.stdout else ""
        if ready.strip() != "READY":
            self.close()
            raise OracleError(f"oracle did not start (said {ready!r})")

    def validate(self, path: Path) -> dict[str, Any]:
        """The OperationOutcome for one file; raises OracleError if the process died."""
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(f"{path}\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise OracleError(f"oracle died while validating {path}") from exc
        if not line:
            raise OracleError(f"oracle died while validating {path} (exit code {self.process.poll()})")
        answer = json.loads(line)
        if answer["path"] != str(path):
            raise OracleError(f"oracle answered for {answer['path']} instead of {path}")
        return answer["outcome"]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> "Oracle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summarize(outcome: dict[str, Any]) -> dict[str, Any]:
    counts = {"errors": 0, "warnings": 0, "information": 0}
    issues = []
    for issue in outcome.get("issue", []):
        severity = issue.get("severity")
        key = {"fatal": "errors", "error": "errors", "warning": "warnings"}.get(severity, "information")
        counts[key] += 1
        issues.append({"severity": severity, "code": issue.get("code"),
                       "expression": (issue.get("expression") or issue.get("location") or [""])[0],
                       "message": issue.get("diagnostics", "")})
    issues.sort(key=lambda i: (i["severity"], i["expression"], i["message"]))
    return {**counts, "issues": issues}


def conformance_report(output: Path, oracle: Oracle) -> dict[str, Any]:
    # the knowledge, both bundles, and our SearchParameters (our extension's StructureDefinition is
    # loaded by the oracle itself as a definition, snapshot generated: evidencekit.extensions)
    files = sorted((output / "resources").glob("*.json")) + [output / "bundle.json", output / "transaction.json"] \
        + sorted((output / "definitions").glob("SearchParameter-*.json"))
    results = {}
    for path in files:
        results[path.relative_to(output).as_posix()] = summarize(oracle.validate(path))
    totals = {k: sum(r[k] for r in results.values()) for k in ("errors", "warnings", "information")}
    return {"validator": "HAPI FHIR 8.8.0 FhirInstanceValidator (org.hl7.fhir.validation), FHIR 5.0.0",
            "packages": [f"{n}#{v}" for n, v, _, _ in _lock()] + ["hl7.fhir.uv.ebm#1.0.0-ballot (tests/oracle/ebm-ig-r5: the real IG profiles, SUSHI 3.21.0 from HL7/ebm 06becf9)",
                                                                   "evidencekit.extensions (our derived-value extension)"],
            "totals": totals, "files": results}


def main() -> int:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "output" / "r5"
    ok, why = tools_available()
    if not ok:
        print(f"conformance: {why}", file=sys.stderr)
        return 2
    with Oracle() as oracle:
        report = conformance_report(output, oracle)
    (output / "conformance.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    totals = report["totals"]
    print(f"conformance: {totals['errors']} errors, {totals['warnings']} warnings, "
          f"{totals['information']} information in {len(report['files'])} files -> {output / 'conformance.json'}")
    return 1 if totals["errors"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
