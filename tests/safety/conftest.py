"""Shared media fixtures: tiny real videos made once per session, and a local HTTP server.

Everything is generated with the real ffmpeg (no mocks) and kept tiny (160x90, 1-3 s) so the
whole media suite stays fast.
"""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from safety.media import samples

W, H, FPS = 160, 90, 24


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The only folder file:// URIs may point into."""
    return tmp_path_factory.mktemp("media_root")


@pytest.fixture(scope="session")
def tiny_video(media_root: Path) -> Path:
    """2 s of testsrc2 at 160x90, 24 fps: 48 frames."""
    return samples.make_video(media_root / "tiny.mp4", duration_s=2.0, width=W, height=H, fps=FPS)


@pytest.fixture(scope="session")
def red_video(media_root: Path) -> Path:
    return samples.make_video(media_root / "red.mp4", source="color=c=red", duration_s=1.0, width=W, height=H)


@pytest.fixture(scope="session")
def blue_video(media_root: Path) -> Path:
    return samples.make_video(
        media_root / "blue.mp4", source="color=c=blue", duration_s=1.0, width=W, height=H
    )


@pytest.fixture(scope="session")
def scene_video(media_root: Path) -> Path:
    """Four 0.7 s shots; cuts land at 17, 34 and 51 frames (0.708, 1.417, 2.125 s)."""
    return samples.make_scene_cut_video(
        media_root / "scenes.mp4",
        ["testsrc2", "color=c=red", "smptebars", "color=c=blue"],
        0.7,
        width=W,
        height=H,
        fps=FPS,
    )


@pytest.fixture(scope="session")
def rotated_video(tiny_video: Path, media_root: Path) -> Path:
    """The tiny video with a 90-degree display matrix (shown as 90x160 portrait)."""
    out = media_root / "rotated.mp4"
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(tiny_video), "-c", "copy"]
    cmd += ["-metadata:s:v:0", "rotate=90", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def audio_only(media_root: Path) -> Path:
    return samples.make_audio_only(media_root / "audio.m4a", duration_s=1.0)


@pytest.fixture(scope="session")
def corrupt_video(tiny_video: Path, media_root: Path) -> Path:
    return samples.make_corrupt(media_root / "corrupt.mp4", tiny_video)


@pytest.fixture(scope="session")
def not_video(media_root: Path) -> Path:
    return samples.make_not_video(media_root / "notes.mp4")


# --------------------------------------------------------------------------- HTTP server


@dataclass
class MediaServer:
    """A local server on 127.0.0.1 with an ephemeral port; ``requested`` records paths hit."""

    port: int
    requested: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def http_server(tiny_video: Path) -> Iterator[MediaServer]:
    body = tiny_video.read_bytes()
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            if self.path == "/video.mp4":
                self._send(200, body)
            elif self.path == "/stream":  # no Content-Length: the size is only known by reading
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.end_headers()
                for _ in range(20):
                    self.wfile.write(b"\0" * 1000)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/video.mp4")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/error":
                self._send(500, b"boom")
            elif self.path == "/empty":
                self._send(200, b"")
            elif self.path == "/slow":
                time.sleep(2.0)
                with contextlib.suppress(OSError):  # the client gave up long ago, which is the point
                    self._send(200, body)
            else:
                self._send(404, b"not here")

        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="media-http", daemon=True)
    thread.start()
    try:
        yield MediaServer(port=server.server_address[1], requested=requested)
    finally:
        server.shutdown()
        server.server_close()
