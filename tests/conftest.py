from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
SEED = DEFINITIONS / "galimberti-2018-ivig-cutaneous-dm.yaml"
SOURCE_TEXT = DEFINITIONS / "sources" / "galimberti-2018-news-summary.txt"


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
    """Skip a test that needs an external tool; in CI (CI=true) fail instead of skipping."""
    import os

    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
def oracle():  # type: ignore[no-untyped-def]
    """The HL7/HAPI validator process (built and started once per session)."""
    from fhir_oracle import Oracle, tools_available

    ok, why = tools_available()
    require(ok, why)
    with Oracle() as running:
        yield running


FHIR_SERVER_DIR = ROOT / "tests" / "fhir-server"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_fhir_server() -> Path:
    """`mvn package` the HAPI test server when its sources are newer than the jar."""
    import subprocess

    jar = FHIR_SERVER_DIR / "target" / "fhir-server.jar"
    sources = [FHIR_SERVER_DIR / "pom.xml", *FHIR_SERVER_DIR.joinpath("src").rglob("*.*")]
    if not jar.exists() or any(p.stat().st_mtime > jar.stat().st_mtime for p in sources):
        proc = subprocess.run(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=FHIR_SERVER_DIR,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            pytest.fail(f"building the HAPI server failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return jar


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real HAPI FHIR JPA R5 server on 127.0.0.1 and a free port; yields its base URL."""
    import os
    import shutil
    import signal
    import subprocess
    import time
    import urllib.request

    require(shutil.which("java") is not None and shutil.which("mvn") is not None, "java and mvn are required")
    jar = build_fhir_server()
    port = _free_port()
    log = tmp_path_factory.mktemp("hapi") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["java", "-Xmx1g", "-XX:+UseSerialGC", "-jar", str(jar), f"--server.port={port}",
             "--server.address=127.0.0.1", f"--spring.datasource.url=jdbc:h2:mem:test{port};DB_CLOSE_DELAY=-1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"HAPI server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/metadata", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("HAPI server did not answer /fhir/metadata within 300 s")
            time.sleep(1)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
