"""Replicas behind a load balancer (issue 11, point 10): with the replay cache in a real Redis
(Debian's redis-server, started here on 127.0.0.1 and stopped by PID), a token used on one
replica is refused by the other; with the in-memory default each replica accepts it once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import cds_client as ehr
from conftest import ROOT, require

PUBLIC = "https://cds.example.org"  # the load balancer's URL: the tokens' aud


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, proc: subprocess.Popen[bytes], log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server; make test-tools)")
    work = tmp_path_factory.mktemp("redis")
    port = _free_port()
    log = work / "redis.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(work)], stdout=out, stderr=subprocess.STDOUT)
    try:
        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        _wait(ping, proc, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _replica(work: Path, trust: Path, name: str, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = work / f"{name}.log"
    exe = Path(sys.executable).parent / "evidencekit"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(exe), "serve", str(ROOT / "output"), "--port", str(port), "--trust", str(trust),
                                 "--public-url", PUBLIC, *extra], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    _wait(lambda: httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200, proc, log)
    return proc, base, log


def _two_replicas(tmp_path: Path, *extra: str) -> tuple[list[tuple[subprocess.Popen[bytes], str, Path]], ehr.Signer]:
    signer = ehr.Signer()
    trust = signer.trust_file(tmp_path / "trust.json")
    return [_replica(tmp_path, trust, name, *extra) for name in ("a", "b")], signer


def _stop(replicas: list[tuple[subprocess.Popen[bytes], str, Path]]) -> None:
    for proc, _, _ in replicas:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)


def test_a_token_replayed_to_another_replica_is_refused(redis_url: str, tmp_path: Path) -> None:
    replicas, signer = _two_replicas(tmp_path, "--replay-cache", redis_url)
    try:
        (_, a, _), (_, b, _) = replicas
        token = signer.token(f"{PUBLIC}/cds-services")
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{a}/cds-services", headers=headers).status_code == 200
        assert httpx.get(f"{b}/cds-services", headers=headers).status_code == 401  # replayed elsewhere
        assert httpx.get(f"{a}/cds-services", headers=headers).status_code == 401
        fresh = {"Authorization": f"Bearer {signer.token(f'{PUBLIC}/cds-services')}"}
        assert httpx.get(f"{b}/cds-services", headers=fresh).status_code == 200
    finally:
        _stop(replicas)
    for _, _, log in replicas:
        assert "eyJ" not in log.read_text()  # no token in any log


def test_in_memory_caches_are_per_replica(tmp_path: Path) -> None:
    """Why the shared cache exists: with the default, each replica accepts the same token once."""
    replicas, signer = _two_replicas(tmp_path)
    try:
        (_, a, _), (_, b, _) = replicas
        headers = {"Authorization": f"Bearer {signer.token(f'{PUBLIC}/cds-services')}"}
        assert httpx.get(f"{a}/cds-services", headers=headers).status_code == 200
        assert httpx.get(f"{b}/cds-services", headers=headers).status_code == 200
        assert httpx.get(f"{a}/cds-services", headers=headers).status_code == 401
    finally:
        _stop(replicas)


def test_an_unreachable_replay_cache_stops_the_start(tmp_path: Path) -> None:
    signer = ehr.Signer()
    trust = signer.trust_file(tmp_path / "trust.json")
    exe = Path(sys.executable).parent / "evidencekit"
    dead = f"redis://127.0.0.1:{_free_port()}/0"
    result = subprocess.run([str(exe), "serve", str(ROOT / "output"), "--trust", str(trust), "--replay-cache", dead],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot reach the replay cache" in result.stderr
    bad = subprocess.run([str(exe), "serve", str(ROOT / "output"), "--trust", str(trust), "--replay-cache",
                          "memcached://x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "expected memory, redis://" in bad.stderr


def test_racing_first_uses_let_exactly_one_through(redis_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from evidencekit.serve.replay import RedisReplayCache

    caches = [RedisReplayCache(redis_url) for _ in range(8)]  # eight "replicas"
    jti = f"race-{time.time_ns()}"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: c.first_use("https://ehr.example", jti, time.time() + 60), caches))
    assert sorted(results) == [False] * 7 + [True]
    assert all(c.seen("https://ehr.example", jti) for c in caches)
    assert not caches[0].seen("https://other.example", jti)  # per issuer
