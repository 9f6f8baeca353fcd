"""Upload limits (issue 14, finding 6): the API's memory stays bounded under image-decoding attacks.

Four parallel 128 KB single-colour PNGs of 8192x4882 took the API from 440 MB to 1.39 GB RSS
(images up to 40 MP were decoded). Now: a megapixel limit checked from the header before any
decoding, a process-wide decode memory budget, and a cap on concurrent uploads per key. The API
runs as its own process here so its peak RSS (``VmHWM``) is measured alone.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fgtest import ROOT

from safety.accounts import create_user, issue_key
from safety.store import Database, Organisation
from streams import free_port

MB = 1024 * 1024


def solid_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A one-colour RGB PNG; zlib shrinks its rows about 1000:1 (the attack's 128 KB files)."""
    row = b"\x00" + bytes(rgb) * width
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 64) for _ in range(height // 64)]
    parts += [comp.compress(row * (height % 64)), comp.flush()]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


@dataclass
class ApiProcess:
    url: str
    proc: subprocess.Popen[bytes]
    keys: list[str]
    character: str
    log: Path

    def peak(self) -> int:
        return _status(self.proc.pid)["VmHWM"]

    def rss(self) -> int:
        return _status(self.proc.pid)["VmRSS"]

    def upload(self, key: str, body: bytes, name: str = "ref.png") -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=120) as c:
            return c.post(
                f"/v1/rights/characters/{self.character}/references",
                headers={"Authorization": f"Bearer {key}"},
                files={"file": (name, body, "image/png")},
                data={"kind": "image"},
            )


@pytest.fixture
def api_process(pg_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    db = Database(pg_url)
    db.upgrade()
    with db.session() as s:
        s.add(Organisation(id="org-up", name="Uploads Inc"))
        s.flush()
        keys = [
            issue_key(s, create_user(s, f"holder-{i}", "rights_holder", organisation_id="org-up"))
            for i in range(4)
        ]
        s.commit()
    db.dispose()
    port = free_port()
    log = tmp_path / "api.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FEEDGUARD_API_RATE_PER_MINUTE": "1000000",
        "FEEDGUARD_API_RELAY_OUTBOX": "false",
        "FEEDGUARD_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    }
    cmd = [sys.executable, "-m", "safety", "api", "--host", "127.0.0.1", "--port", str(port),
           "--database-url", pg_url, "--data-dir", str(tmp_path / "data")]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[0]}"}) as c:
            r = c.post("/v1/rights/characters", json={"slug": "owl", "name": "Owl"})
            assert r.status_code == 201, r.text
            api = ApiProcess(url, proc, keys, r.json()["id"], log)
        warm = api.upload(keys[0], solid_png(640, 480))  # imports and first-use allocations
        assert warm.status_code == 201, warm.text
        yield api
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _parallel(api: ApiProcess, jobs: list[tuple[str, bytes]]) -> list[httpx.Response]:
    with cf.ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: api.upload(*job), jobs))


def test_four_parallel_40_megapixel_pngs_are_refused_before_decoding(api_process: ApiProcess) -> None:
    """The reported attack: RSS must not move by more than a few tens of MB."""
    bomb = solid_png(8192, 4882)
    assert len(bomb) < 200 * 1024
    before = api_process.peak()
    answers = _parallel(api_process, [(api_process.keys[i], bomb) for i in range(4)])
    growth = api_process.peak() - before
    after = before + growth
    print(f"\n4 x 8192x4882 PNG: peak RSS {before / MB:.0f} -> {after / MB:.0f} MB (+{growth / MB:.0f})")
    assert {(r.status_code, r.json()["type"].rsplit("/", 1)[-1]) for r in answers} == {
        (422, "reference.too_many_pixels")
    }, [r.text for r in answers]
    assert growth < 64 * MB, f"peak RSS grew by {growth / MB:.0f} MB"


def test_many_parallel_images_at_the_limit_stay_within_the_budget(api_process: ApiProcess) -> None:
    """A larger variant: 16 parallel uploads (4 keys x 4) of the biggest images still accepted."""
    from safety.rights.media import MAX_IMAGE_PIXELS

    side = int(MAX_IMAGE_PIXELS**0.5)
    jobs = [(api_process.keys[i % 4], solid_png(side, side, (i * 13 % 256, 90, 160))) for i in range(16)]
    before = api_process.peak()
    answers = _parallel(api_process, jobs)
    growth = api_process.peak() - before
    codes = sorted(r.status_code for r in answers)
    print(f"\n16 x {side}x{side} PNG: peak RSS {before / MB:.0f} -> {(before + growth) / MB:.0f} MB "
          f"(+{growth / MB:.0f}); statuses {codes}")  # fmt: skip
    assert set(codes) <= {201, 429, 503}, [r.text for r in answers]
    assert codes.count(201) >= 4  # the budget queues, it does not refuse everything
    for r in answers:
        if r.status_code != 201:
            assert r.headers.get("retry-after") and r.headers["content-type"] == "application/problem+json"
    assert growth < 320 * MB, f"peak RSS grew by {growth / MB:.0f} MB"


def test_concurrent_uploads_per_key_are_capped(api_process: ApiProcess) -> None:
    """Uploads held open (a slow client) count against the key's cap; others' keys are not affected."""
    host, port = api_process.url.removeprefix("http://").split(":")
    held = []
    boundary = "xyzzy"
    for _ in range(2):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(
            (
                f"POST /v1/rights/characters/{api_process.character}/references HTTP/1.1\r\n"
                f"Host: {host}\r\nAuthorization: Bearer {api_process.keys[1]}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 1000000\r\n\r\n"
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nimage\r\n'
            ).encode()
        )
        held.append(sock)
    try:
        time.sleep(0.5)
        third = api_process.upload(api_process.keys[1], solid_png(64, 64))
        assert third.status_code == 429, third.text
        assert third.json()["type"].endswith("/too-many-uploads") and third.headers["retry-after"]
        other = api_process.upload(api_process.keys[2], solid_png(64, 64))
        assert other.status_code == 201, other.text
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while api_process.upload(api_process.keys[1], solid_png(64, 64)).status_code == 429:
        assert time.monotonic() < deadline, "the slots of closed connections were never released"
        time.sleep(0.2)
