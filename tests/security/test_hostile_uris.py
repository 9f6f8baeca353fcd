"""Hostile media URIs against resolve_uri (the SSRF / path-traversal boundary): every one is
refused with a ``uri.*`` or ``media.*`` code, before any I/O it should not do, and the creator's
message never names a server path. Local HTTP servers stand in for the outside world.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from safety.media import MediaLimits, MediaRejected, resolve_uri

LIMITS = MediaLimits()


@dataclass
class Server:
    port: int
    requested: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _serve(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[Server]:
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield Server(server.server_address[1], requested)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def internal() -> Iterator[Server]:
    """What an attacker wants to reach: a service on loopback holding a secret."""
    yield from _serve({"/secret": (200, {}, b"internal secret")})


@pytest.fixture
def media_host(internal: Server) -> Iterator[Server]:
    """An allow-listed media host whose URLs redirect to internal and private addresses."""
    redirects = {
        "/to-loopback": f"{internal.base}/secret",
        "/to-private": "http://10.0.0.1/latest/meta-data/",  # never contacted: redirects are refused
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-file": "file:///etc/passwd",
        "/to-localhost-name": f"http://localhost:{internal.port}/secret",
    }
    routes = {path: (302, {"Location": target}, b"") for path, target in redirects.items()}
    routes["/ok.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\x00\x00\x00\x18ftypmp42")
    yield from _serve(routes)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A media root with a file, a symlink out of it, and a symlinked directory out of it."""
    media = tmp_path / "media"
    media.mkdir()
    (media / "ok.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's secret")
    (media / "link.mp4").symlink_to(secret)
    (media / "etc").symlink_to("/etc")
    (media / "loop").symlink_to(media / "loop")  # a symlink loop
    return media


def resolve(
    uri: str, roots: Sequence[Path] = (), hosts: Sequence[str] = (), workdir: Path | None = None
) -> Path:
    return resolve_uri(
        uri,
        media_roots=roots,
        http_allow_hosts=hosts,
        limits=LIMITS,
        workdir=workdir or Path("/nonexistent/feedguard-hostile-uris"),
    )


def refused(
    uri: str, roots: Sequence[Path] = (), hosts: Sequence[str] = (), workdir: Path | None = None
) -> str:
    with pytest.raises(MediaRejected) as info:
        resolve(uri, roots, hosts, workdir)
    exc = info.value
    assert exc.code.startswith(("uri.", "media.")) and exc.detail, exc
    for secret in ("/etc", "/tmp", "passwd", str(Path.home())):
        assert secret not in exc.detail, f"the creator's message leaks {secret!r}: {exc.detail}"
    return exc.code


def test_positive_controls(root: Path, media_host: Server, tmp_path: Path) -> None:
    """The boundary is not simply closed: a file under the root and an allow-listed URL work."""
    assert resolve((root / "ok.mp4").as_uri(), [root]) == (root / "ok.mp4").resolve()
    hosts = [f"127.0.0.1:{media_host.port}"]
    got = resolve(f"{media_host.base}/ok.mp4", hosts=hosts, workdir=tmp_path / "dl")
    assert got.read_bytes().startswith(b"\x00\x00\x00\x18ftyp")


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("file://{root}/../secret.txt", "uri.outside_media_roots"),
        ("file://{root}/../../../../../../etc/passwd", "uri.outside_media_roots"),
        ("file://{root}/%2e%2e/secret.txt", "uri.outside_media_roots"),  # URL-encoded traversal
        ("file://{root}/%2E%2E%2Fsecret.txt", "uri.outside_media_roots"),  # encoded slash too
        ("file://{root}/..%2f..%2f..%2fetc%2fpasswd", "uri.outside_media_roots"),
        ("file://{root}/%252e%252e/secret.txt", "media.not_found"),  # double-encoded: a literal name
        ("file://{root}/link.mp4", "uri.outside_media_roots"),  # symlink to a file outside
        ("file://{root}/etc/passwd", "uri.outside_media_roots"),  # symlinked directory outside
        ("file://{root}/loop", "media.not_found"),  # symlink loop: stays inside, never opens
        ("file://{root}", "media.not_found"),  # the root itself is a directory
        ("file:///etc/passwd", "uri.outside_media_roots"),
        ("FILE:///etc/passwd", "uri.outside_media_roots"),
        ("file:/etc/passwd", "uri.outside_media_roots"),
        ("file://localhost/etc/passwd", "uri.outside_media_roots"),
        ("file://evil.example/etc/passwd", "uri.invalid"),  # a UNC-like host
        ("file:///proc/self/environ", "uri.outside_media_roots"),
        ("file:///dev/zero", "uri.outside_media_roots"),
        ("file://{root}/ok.mp4%00.txt", "uri.invalid"),  # encoded NUL
        ("file://{root}/ok.mp4\x00.txt", "uri.invalid"),  # raw NUL
        ("file://{root}/ok.mp4\n", "uri.invalid"),
        ("file://{root}/ok.mp4?x=1", "uri.invalid"),
        ("file://{root}/ok.mp4#frag", "uri.invalid"),
        ("file:relative/ok.mp4", "uri.invalid"),
        ("file://{root}/" + "a" * 5000 + ".mp4", "media.not_found"),  # name too long for the OS
        ("file://{root}/" + "a/" * 5000, "uri.invalid"),  # over the URI length limit
        ("", "uri.invalid"),
        ("   ", "uri.invalid"),
    ],
)
def test_file_uris_outside_the_roots_are_refused(root: Path, template: str, code: str) -> None:
    assert refused(template.replace("{root}", str(root)), [root]) == code


@pytest.mark.parametrize(
    "uri",
    [
        "gopher://127.0.0.1:70/_GET%20/",
        "data:video/mp4;base64,AAAAGGZ0eXBtcDQy",
        "ftp://127.0.0.1/video.mp4",
        "sftp://127.0.0.1/video.mp4",
        "dict://127.0.0.1:11211/stats",
        "ldap://127.0.0.1/",
        "jar:file:///x.jar!/v.mp4",
        "javascript:alert(1)",
        "s3://bucket/video.mp4",
        "concat:/etc/passwd|/etc/hosts",
        "/etc/passwd",
        "../../etc/passwd",
        "//evil.example/video.mp4",
        "\\\\evil.example\\share\\video.mp4",
    ],
)
def test_unsupported_schemes_are_refused(root: Path, uri: str) -> None:
    assert refused(uri, [root], ["127.0.0.1"]) == "uri.scheme_not_allowed"


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("http://evil.example/video.mp4", "uri.host_not_allowed"),
        ("https://media.example.com.evil.example/v.mp4", "uri.host_not_allowed"),  # suffix trick
        ("https://evilmedia.example.com/v.mp4", "uri.host_not_allowed"),
        ("https://media.example.com:8443/v.mp4", "uri.host_not_allowed"),  # only :443 is allowed
        ("http://media.example.com/v.mp4", "uri.host_not_allowed"),  # :80 neither
        ("http://127.0.0.1/video.mp4", "uri.host_not_allowed"),  # loopback is not on the list
        ("http://2130706433/video.mp4", "uri.host_not_allowed"),  # 127.0.0.1 as a number
        ("http://0x7f.1/video.mp4", "uri.host_not_allowed"),
        ("http://[::1]/video.mp4", "uri.host_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/", "uri.host_not_allowed"),
        ("https://media.example.com@127.0.0.1/v.mp4", "uri.invalid"),  # userinfo hides the host
        ("https://127.0.0.1#@media.example.com/v.mp4", "uri.host_not_allowed"),
        ("https://user:pw@media.example.com/v.mp4", "uri.invalid"),
        ("https://media.example.com:99999/v.mp4", "uri.invalid"),
        ("https://media.example.com/v.mp4\\@127.0.0.1", "uri.invalid"),
        ("https:///v.mp4", "uri.invalid"),
        ("https://" + "a" * 9000 + ".example/", "uri.invalid"),
    ],
)
def test_hosts_not_on_the_allow_list_are_refused_without_a_request(uri: str, code: str) -> None:
    assert refused(uri, hosts=["media.example.com:443"]) == code


@pytest.mark.parametrize(
    "path", ["/to-loopback", "/to-private", "/to-metadata", "/to-file", "/to-localhost-name"]
)
def test_an_allowed_host_redirecting_inwards_is_refused_and_not_followed(
    media_host: Server, internal: Server, path: str, tmp_path: Path
) -> None:
    hosts = [f"127.0.0.1:{media_host.port}"]  # only the media host's literal is allowed
    assert refused(f"{media_host.base}{path}", hosts=hosts, workdir=tmp_path) == "uri.redirect_refused"
    assert media_host.requested == [path]
    assert internal.requested == [], "the redirect was followed to the internal service"
    assert not list(tmp_path.iterdir()), "nothing is kept of a refused download"


@pytest.mark.parametrize("spelling", ["localhost", "LOCALHOST", "localhost.", "LocalHost."])
def test_an_allowed_name_resolving_to_loopback_is_refused_before_connecting(
    internal: Server, spelling: str
) -> None:
    """Only an allow-listed IP *literal* may be internal (operators list sidecars that way); a name
    that resolves to loopback or a private network is refused, as DNS may be re-pointed."""
    uri = f"http://{spelling}:{internal.port}/secret"
    assert refused(uri, hosts=[f"localhost:{internal.port}"]) == "uri.private_address"
    assert internal.requested == []


def test_the_private_address_rule_does_not_depend_on_the_port(internal: Server) -> None:
    assert refused(f"http://localhost:{internal.port}/secret", hosts=["localhost"]) == "uri.private_address"
    assert internal.requested == []


def test_refusals_do_no_io(root: Path, tmp_path: Path) -> None:
    """A refused file:// URI is never opened: a FIFO outside the roots would block an open()."""
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    assert refused(fifo.as_uri(), [root]) == "uri.outside_media_roots"
    inside = root / "fifo.mp4"
    os.mkfifo(inside)
    assert refused(inside.as_uri(), [root]) == "media.not_found"  # not a regular file: not opened
