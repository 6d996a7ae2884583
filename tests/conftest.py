from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
SEED = DEFINITIONS / "galimberti-2018-ivig-cutaneous-dm.yaml"
SOURCE_TEXT = DEFINITIONS / "sources" / "galimberti-2018-news-summary.txt"
PRODERM = DEFINITIONS / "aggarwal-2022-proderm.yaml"
#: Resources definitions/ compiles to (the committed output; its staleness is a test of its own).
OUTPUT_RESOURCES = len(list((ROOT / "output" / "r5" / "resources").glob("*.json")))
#: The seed study's share of them
SEED_RESOURCES = len(list((ROOT / "output" / "r5" / "resources").glob("*-galimberti-2018*.json")))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def definitions_copy(tmp_path: Path) -> Path:
    """A private copy of definitions/ (YAML, sources and schema) to edit."""
    target = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, target)
    return target


@pytest.fixture(scope="session")
def seed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """output/r5 built once from the committed definitions."""
    from evidencekit.pipeline import build
    from evidencekit.config import load_config

    out = tmp_path_factory.mktemp("seed") / "output"
    config, problems = load_config(ROOT / "evidencekit.yaml")
    assert config is not None, problems
    result = build(DEFINITIONS, out, config=config)
    assert result.ok, [d.format_text() for d in result.diagnostics]
    return out / "r5"


def require(ok: bool, why: str) -> None:
    """Skip a test that needs an external tool (Java, Maven, npm); in CI (CI=true) fail instead.

    ``why`` names the missing tool; the skip reason says what the test needs and that CI
    will not accept the skip.
    """
    import os

    if not ok:
        reason = f"needs an external tool that is missing here: {why} (in CI this is a failure)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"required in CI: {why}")
        pytest.skip(reason=reason)


@pytest.fixture(scope="session")
def oracle():  # type: ignore[no-untyped-def]
    """The HL7/HAPI validator process (built and started once per session)."""
    from fhir_oracle import Oracle, tools_available

    ok, why = tools_available()
    require(ok, why)
    with Oracle() as running:
        yield running


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real HAPI FHIR JPA R5 server on 127.0.0.1 and a free port; yields its base URL."""
    import shutil

    from hapi_server import HapiServer

    require(shutil.which("java") is not None and shutil.which("mvn") is not None, "java and mvn are required")
    try:
        server = HapiServer(tmp_path_factory.mktemp("hapi") / "server.log")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        server.wait()
        yield server.base
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        server.stop()


def r5_packages() -> list[Path]:
    """hl7.fhir.r5.core 5.0.0 and hl7.terminology.r5 7.0.1 from npm (cached under tests/oracle/.packages)."""
    import subprocess

    require(shutil.which("npm") is not None, "npm is not installed")
    paths = []
    for package in ("hl7.fhir.r5.core@5.0.0", "hl7.terminology.r5@7.0.1"):
        cached = ROOT / "tests" / "oracle" / ".packages" / (package.replace("@", "-") + ".tgz")
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["npm", "pack", package, "--silent", "--pack-destination", str(cached.parent)],
                           check=True, capture_output=True, timeout=600)
        paths.append(cached)
    return paths


@pytest.fixture(scope="session")
def built_site(seed_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`evidencekit report` of the seed build (with the definitions' check findings), once."""
    from evidencekit.cli import main

    target = tmp_path_factory.mktemp("site") / "site"
    result = CliRunner().invoke(main, ["report", str(seed_build), "-o", str(target), "--definitions",
                                       str(DEFINITIONS)])
    assert result.exit_code == 0, result.output
    return target
