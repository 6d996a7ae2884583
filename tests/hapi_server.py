"""Start and stop the local HAPI FHIR JPA R5 server (tests/fhir-server) from Python."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_DIR = ROOT / "tests" / "fhir-server"
JAR = SERVER_DIR / "target" / "fhir-server.jar"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build() -> Path:
    """`mvn package` the server when its sources are newer than the jar."""
    sources = [SERVER_DIR / "pom.xml", *SERVER_DIR.joinpath("src").rglob("*.*")]
    if not JAR.exists() or any(p.stat().st_mtime > JAR.stat().st_mtime for p in sources):
        proc = subprocess.run(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=SERVER_DIR,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"building the HAPI server failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return JAR


class HapiServer:
    """One server process on 127.0.0.1; ``database`` None = H2 in memory, else an H2 file path."""

    def __init__(self, log: Path, *, port: int | None = None, database: Path | None = None,
                 heap: str = "1g") -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        url = (f"jdbc:h2:file:{database}" if database is not None
               else f"jdbc:h2:mem:test{self.port};DB_CLOSE_DELAY=-1")
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-jar", str(build()), f"--server.port={self.port}",
                 "--server.address=127.0.0.1", f"--spring.datasource.url={url}"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 300) -> float:
        """Seconds until /fhir/metadata answered; raises if the process dies or times out."""
        start = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"HAPI server exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/metadata", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"HAPI server did not answer /fhir/metadata within {timeout} s")
            time.sleep(0.5)

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
