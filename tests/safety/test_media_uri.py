"""resolve_uri: the SSRF / path-traversal boundary, exercised against real files and a real server."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from safety.media import MediaLimits, MediaRejected, MediaUnavailable, resolve_uri

LIMITS = MediaLimits()
NOWHERE = Path("/nonexistent/feedguard-test-workdir")  # refusals must happen before any download


class Server(Protocol):
    base: str
    port: int
    requested: list[str]


def resolve(
    uri: str,
    *,
    roots: Sequence[Path] = (),
    hosts: Sequence[str] = (),
    limits: MediaLimits = LIMITS,
    workdir: Path = NOWHERE,
) -> Path:
    return resolve_uri(uri, media_roots=roots, http_allow_hosts=hosts, limits=limits, workdir=workdir)


def rejected(
    uri: str,
    *,
    roots: Sequence[Path] = (),
    hosts: Sequence[str] = (),
    limits: MediaLimits = LIMITS,
    workdir: Path = NOWHERE,
) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        resolve(uri, roots=roots, hosts=hosts, limits=limits, workdir=workdir)
    return info.value


# --------------------------------------------------------------------------- file://


def test_file_inside_root_returns_real_path(media_root: Path, tiny_video: Path) -> None:
    assert resolve(tiny_video.as_uri(), roots=[media_root]) == tiny_video.resolve()


def test_file_uri_is_percent_decoded(tmp_path: Path) -> None:
    target = tmp_path / "my video #1.mp4"
    target.write_bytes(b"x" * 10)
    assert resolve(target.as_uri(), roots=[tmp_path]) == target.resolve()


def test_traversal_out_of_root_is_refused(media_root: Path) -> None:
    assert rejected(f"file://{media_root}/../../../../etc/passwd", roots=[media_root]).code == (
        "uri.outside_media_roots"
    )
    assert rejected(f"file://{media_root}/%2e%2e/%2e%2e/%2e%2e/etc/passwd", roots=[media_root]).code == (
        "uri.outside_media_roots"
    )


def test_absolute_path_outside_root_is_refused(media_root: Path) -> None:
    exc = rejected("file:///etc/passwd", roots=[media_root])
    assert exc.code == "uri.outside_media_roots"
    assert "/etc" not in exc.detail  # creator-facing text never echoes server paths


def test_missing_file_outside_root_gets_the_same_answer(media_root: Path) -> None:
    assert rejected("file:///etc/does-not-exist", roots=[media_root]).code == "uri.outside_media_roots"


def test_sibling_directory_with_root_prefix_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "media"
    evil = tmp_path / "media-evil"
    root.mkdir()
    evil.mkdir()
    (evil / "a.mp4").write_bytes(b"x")
    assert rejected((evil / "a.mp4").as_uri(), roots=[root]).code == "uri.outside_media_roots"


def test_symlink_pointing_out_of_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "passwd.mp4").symlink_to("/etc/passwd")
    (root / "etc").symlink_to("/etc", target_is_directory=True)
    assert rejected((root / "passwd.mp4").as_uri(), roots=[root]).code == "uri.outside_media_roots"
    assert rejected(f"file://{root}/etc/passwd", roots=[root]).code == "uri.outside_media_roots"


def test_symlink_within_root_and_symlinked_root_are_fine(tmp_path: Path) -> None:
    real_root = tmp_path / "real"
    real_root.mkdir()
    (real_root / "v.mp4").write_bytes(b"x" * 5)
    (real_root / "alias.mp4").symlink_to(real_root / "v.mp4")
    linked_root = tmp_path / "linked"
    linked_root.symlink_to(real_root, target_is_directory=True)
    assert resolve((real_root / "alias.mp4").as_uri(), roots=[real_root]) == (real_root / "v.mp4").resolve()
    assert resolve((linked_root / "v.mp4").as_uri(), roots=[linked_root]) == (real_root / "v.mp4").resolve()


def test_no_roots_means_no_files(tiny_video: Path) -> None:
    assert rejected(tiny_video.as_uri(), roots=[]).code == "uri.outside_media_roots"


def test_missing_directory_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    (tmp_path / "dir.mp4").mkdir()
    assert rejected((tmp_path / "nope.mp4").as_uri(), roots=[tmp_path]).code == "media.not_found"
    assert rejected((tmp_path / "dir.mp4").as_uri(), roots=[tmp_path]).code == "media.not_found"
    assert rejected((tmp_path / "empty.mp4").as_uri(), roots=[tmp_path]).code == "media.empty"


def test_file_over_byte_limit(media_root: Path, tiny_video: Path) -> None:
    exc = rejected(tiny_video.as_uri(), roots=[media_root], limits=MediaLimits(max_bytes=1000))
    assert exc.code == "media.too_large"
    assert "1000 bytes" in exc.detail


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("", "uri.invalid"),
        ("   ", "uri.invalid"),
        ("/etc/passwd", "uri.scheme_not_allowed"),
        ("etc/passwd", "uri.scheme_not_allowed"),
        ("ftp://example.com/v.mp4", "uri.scheme_not_allowed"),
        ("gopher://127.0.0.1:70/_x", "uri.scheme_not_allowed"),
        ("data:video/mp4;base64,AAAA", "uri.scheme_not_allowed"),
        ("concat:/a.mp4|/b.mp4", "uri.scheme_not_allowed"),
        ("C:/videos/a.mp4", "uri.scheme_not_allowed"),
        ("file:///media/a.mp4\x00.txt", "uri.invalid"),
        ("file:///media/a.mp4%00.txt", "uri.invalid"),
        ("file://otherhost/media/a.mp4", "uri.invalid"),
        ("file:relative/a.mp4", "uri.invalid"),
        ("file:///media/a.mp4?x=1", "uri.invalid"),
        ("http://user:pw@127.0.0.1/v.mp4", "uri.invalid"),
        ("http://[::1/v.mp4", "uri.invalid"),
        ("http:///v.mp4", "uri.invalid"),
        ("http://127.0.0.1:99999/v.mp4", "uri.invalid"),
    ],
)
def test_malformed_and_unknown_schemes(uri: str, code: str) -> None:
    exc = rejected(uri, roots=[Path("/media")], hosts=["127.0.0.1"])
    assert exc.code == code
    assert str(exc) == f"{exc.code}: {exc.detail}"


# --------------------------------------------------------------------------- http(s)://


def test_http_host_not_allowed(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    assert rejected(f"{base}/video.mp4", hosts=["media.example.com"], workdir=tmp_path).code == (
        "uri.host_not_allowed"
    )
    # An entry with a port only allows that port.
    assert rejected(f"{base}/video.mp4", hosts=[f"127.0.0.1:{port + 1}"], workdir=tmp_path).code == (
        "uri.host_not_allowed"
    )
    assert rejected("https://evil.example.com/v.mp4", hosts=["example.com"], workdir=tmp_path).code == (
        "uri.host_not_allowed"
    )
    # A malformed entry allows nothing (not "any port on 127.0.0.1").
    assert rejected(f"{base}/video.mp4", hosts=["127.0.0.1:http"], workdir=tmp_path).code == (
        "uri.host_not_allowed"
    )


def test_http_download(http_server: Server, tiny_video: Path, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    workdir = tmp_path / "work"
    for hosts in ([f"127.0.0.1:{port}"], ["127.0.0.1"]):
        got = resolve(f"{base}/video.mp4", hosts=hosts, workdir=workdir)
        assert got.parent == workdir
        assert got.suffix == ".mp4"
        assert got.read_bytes() == tiny_video.read_bytes()


def test_http_content_length_over_limit(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    exc = rejected(
        f"{base}/video.mp4", hosts=[f"127.0.0.1:{port}"], limits=MediaLimits(max_bytes=1000), workdir=tmp_path
    )
    assert exc.code == "media.too_large"
    assert list(tmp_path.iterdir()) == []


def test_http_streamed_body_over_limit_is_cut_off(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    hosts = [f"127.0.0.1:{port}"]
    assert rejected(
        f"{base}/stream", hosts=hosts, limits=MediaLimits(max_bytes=5000), workdir=tmp_path
    ).code == ("media.too_large")
    assert list(tmp_path.iterdir()) == []  # the partial download is deleted
    assert resolve(f"{base}/stream", hosts=hosts, workdir=tmp_path).stat().st_size == 20_000


def test_http_redirect_is_refused_and_not_followed(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    requested = http_server.requested
    before = len(requested)
    assert rejected(f"{base}/redirect", hosts=[f"127.0.0.1:{port}"], workdir=tmp_path).code == (
        "uri.redirect_refused"
    )
    assert requested[before:] == ["/redirect"]


def test_http_404_is_rejected(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    assert rejected(f"{base}/missing.mp4", hosts=[f"127.0.0.1:{port}"], workdir=tmp_path).code == (
        "media.not_found"
    )


def test_http_empty_body_is_rejected(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    assert rejected(f"{base}/empty", hosts=[f"127.0.0.1:{port}"], workdir=tmp_path).code == "media.empty"
    assert list(tmp_path.iterdir()) == []


def test_http_500_is_unavailable_not_rejected(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    with pytest.raises(MediaUnavailable) as info:
        resolve(f"{base}/error", hosts=[f"127.0.0.1:{port}"], workdir=tmp_path)
    assert info.value.code == "media.fetch_failed"


def test_http_timeout_is_unavailable(http_server: Server, tmp_path: Path) -> None:
    base, port = http_server.base, http_server.port
    with pytest.raises(MediaUnavailable) as info:
        resolve(
            f"{base}/slow",
            hosts=[f"127.0.0.1:{port}"],
            limits=MediaLimits(fetch_timeout_s=0.3),
            workdir=tmp_path,
        )
    assert info.value.code == "media.fetch_failed"


def test_http_connection_refused_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MediaUnavailable) as info:
        resolve(f"http://127.0.0.1:{port}/v.mp4", hosts=[f"127.0.0.1:{port}"], workdir=tmp_path)
    assert info.value.code == "media.fetch_failed"


def test_allowed_name_resolving_to_loopback_is_refused(http_server: Server, tmp_path: Path) -> None:
    """Only an allow-listed IP *literal* may be internal; a name could be re-pointed by DNS."""
    port = http_server.port
    exc = rejected(f"http://LocalHost:{port}/video.mp4", hosts=[f"localhost:{port}"], workdir=tmp_path)
    assert exc.code == "uri.private_address"  # host matched case-insensitively, then refused


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate; yields (port, cert)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    cmd += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(cmd, check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()


def test_https_verifies_the_certificate(
    tls_server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    url, hosts = f"https://127.0.0.1:{port}/v.mp4", [f"127.0.0.1:{port}"]
    with pytest.raises(MediaUnavailable) as info:  # self-signed: not trusted by default
        resolve(url, hosts=hosts, workdir=tmp_path)
    assert info.value.code == "media.fetch_failed"
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now trusted: the pinned TLS connection works
    assert resolve(url, hosts=hosts, workdir=tmp_path).read_bytes() == b"hello"
