"""Turn a creator-supplied media URI into a local file we are willing to hand to ffmpeg.

The URI comes from an untrusted event, so this is the SSRF / path-traversal boundary: local
files must live under a configured media root (after resolving symlinks), HTTP(S) hosts must be
allow-listed, must not resolve to internal addresses, and redirects are never followed (a
redirect could point anywhere). Everything else is refused before any I/O happens.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
import ssl
import stat
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import SplitResult, unquote, unquote_to_bytes, urlsplit, urlunsplit

from safety.media.errors import MediaRejected, MediaUnavailable
from safety.media.limits import MediaLimits, format_bytes

__all__ = ["resolve_uri"]

_MAX_URI_CHARS = 8192
_CHUNK = 64 * 1024
_USER_AGENT = "feedguard-media/1"
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve_uri(
    uri: str,
    *,
    media_roots: Sequence[Path],
    http_allow_hosts: Sequence[str],
    limits: MediaLimits,
    workdir: Path,
) -> Path:
    """Return a local path for ``uri``: the file itself for ``file://``, a download for HTTP(S).

    Downloads are written to a new file in ``workdir``; the caller owns (and deletes) it.
    Raises :class:`MediaRejected` for anything the creator must fix and
    :class:`MediaUnavailable` (``media.fetch_failed``) for network trouble worth a human look.
    """
    if not uri or not uri.strip():
        raise MediaRejected("uri.invalid", "The media URI is empty.")
    if len(uri) > _MAX_URI_CHARS:
        raise MediaRejected("uri.invalid", f"The media URI is longer than {_MAX_URI_CHARS} characters.")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise MediaRejected("uri.invalid", "The media URI contains control characters.")
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise MediaRejected("uri.invalid", "The media URI is malformed.") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _resolve_file(parts, media_roots, limits)
    if scheme in _DEFAULT_PORTS:
        return _fetch_http(parts, scheme, http_allow_hosts, limits, workdir)
    raise MediaRejected(
        "uri.scheme_not_allowed", "Only file://, http:// and https:// media URIs are accepted."
    )


# --------------------------------------------------------------------------- file://


def _resolve_file(parts: SplitResult, media_roots: Sequence[Path], limits: MediaLimits) -> Path:
    """Check a ``file://`` URI against the media roots; symlinks are resolved before the check."""
    if parts.netloc not in ("", "localhost"):
        raise MediaRejected("uri.invalid", "A file:// media URI must not name a host.")
    if parts.query or parts.fragment:
        raise MediaRejected("uri.invalid", "A file:// media URI must not have a query or fragment.")
    raw = unquote_to_bytes(parts.path)
    if b"\x00" in raw:
        raise MediaRejected("uri.invalid", "The media URI contains a NUL character.")
    path = os.fsdecode(raw)
    if not path or not os.path.isabs(path):
        raise MediaRejected("uri.invalid", "A file:// media URI must carry an absolute path.")
    real = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(root)) for root in media_roots]
    if not any(real.is_relative_to(root) for root in roots):
        # Same answer whether or not the file exists: do not leak the layout of the host.
        raise MediaRejected("uri.outside_media_roots", "The file is outside the folders media is read from.")
    try:
        st = os.stat(real)
    except OSError:
        raise MediaRejected("media.not_found", "The media file does not exist or cannot be read.") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaRejected("media.not_found", "The media URI does not point to a regular file.")
    _check_size(st.st_size, limits)
    return real


def _check_size(size: int, limits: MediaLimits) -> None:
    if size == 0:
        raise MediaRejected("media.empty", "The media file is empty.")
    if size > limits.max_bytes:
        raise MediaRejected(
            "media.too_large",
            f"The media file is {format_bytes(size)}; the limit is {format_bytes(limits.max_bytes)}.",
        )


# --------------------------------------------------------------------------- http(s)://


def _fetch_http(
    parts: SplitResult,
    scheme: str,
    http_allow_hosts: Sequence[str],
    limits: MediaLimits,
    workdir: Path,
) -> Path:
    """Download an allow-listed HTTP(S) URL into ``workdir`` without following redirects."""
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise MediaRejected("uri.invalid", "The media URI must not contain a user name or password.")
    if any(ch in parts.netloc + parts.path + parts.query for ch in " \\"):
        raise MediaRejected("uri.invalid", "The media URI contains spaces or backslashes.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise MediaRejected("uri.invalid", "The media URI has no host.")
    try:
        port = parts.port
    except ValueError:
        raise MediaRejected("uri.invalid", "The media URI has an invalid port.") from None
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    if not _host_allowed(host, effective_port, http_allow_hosts):
        raise MediaRejected("uri.host_not_allowed", "Media is not accepted from this host.")

    addresses = _vetted_addresses(host, effective_port)
    url = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    opener = _build_opener(addresses)
    deadline = time.monotonic() + limits.fetch_timeout_s
    try:
        response = opener.open(request, timeout=limits.fetch_timeout_s)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _http_status_error(exc.code) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError (DNS, refused, TLS, timeouts) is an OSError; nothing here is the creator's fault.
        raise MediaUnavailable("media.fetch_failed", f"fetching media failed: {_describe(exc)}") from None
    with response:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limits.max_bytes:
            size, limit = format_bytes(int(declared)), format_bytes(limits.max_bytes)
            raise MediaRejected("media.too_large", f"The media file is {size}; the limit is {limit}.")
        return _stream_to_file(response, parts.path, limits, workdir, deadline)


def _host_allowed(host: str, port: int, allow_hosts: Sequence[str]) -> bool:
    """Exact, case-insensitive host match; an entry with a port must match the port too."""
    for entry in allow_hosts:
        parsed = _split_host_port(entry.strip().lower())
        if parsed is None:
            continue  # a malformed entry allows nothing rather than everything on that host
        entry_host, entry_port = parsed
        if entry_host == host and (entry_port is None or entry_port == port):
            return True
    return False


def _split_host_port(entry: str) -> tuple[str, int | None] | None:
    """Split ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; a bare IPv6 literal has no port."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    if not host or (port and not port.isdigit()):
        return None
    return host.rstrip("."), (int(port) if port else None)


def _vetted_addresses(host: str, port: int) -> list[str]:
    """Addresses we will connect to; refuse names that resolve to internal networks.

    An IP literal in the URL is only reachable here because the operator allow-listed exactly
    that literal, so it may be internal (tests and sidecars use 127.0.0.1). A *name* resolving to
    an internal address is refused: DNS is outside the operator's control (rebinding). The
    returned addresses are pinned for the connection, so DNS cannot change between check and use.
    """
    literal = _parse_ip(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except UnicodeError:
        raise MediaRejected("uri.invalid", "The media URI has an invalid host name.") from None
    except OSError as exc:
        raise MediaUnavailable("media.fetch_failed", f"resolving the media host failed: {exc}") from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        ip = _parse_ip(text)
        if ip is None or _is_internal(ip):
            raise MediaRejected("uri.private_address", "The media host resolves to a non-public address.")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise MediaUnavailable("media.fetch_failed", "the media host has no addresses")
    return addresses


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_internal(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def _http_status_error(code: int) -> MediaRejected | MediaUnavailable:
    """Map a non-2xx status: redirects and 4xx are the creator's, 5xx/408/429 are transient."""
    if 300 <= code < 400:
        return MediaRejected(
            "uri.redirect_refused", f"The media URL redirects (HTTP {code}); redirects are not followed."
        )
    if code >= 500 or code in (408, 429):
        return MediaUnavailable("media.fetch_failed", f"the media server answered HTTP {code}")
    return MediaRejected("media.not_found", f"The media server answered HTTP {code} for this URL.")


def _stream_to_file(
    response: Any, url_path: str, limits: MediaLimits, workdir: Path, deadline: float
) -> Path:
    """Copy the body in chunks, stopping as soon as it passes ``max_bytes`` or the deadline."""
    suffix = PurePosixPath(unquote(url_path)).suffix.lower()
    workdir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix="fetch-", suffix=suffix if _SAFE_SUFFIX.fullmatch(suffix) else "", dir=workdir
    )
    target = Path(name)
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                if time.monotonic() > deadline:
                    raise MediaUnavailable(
                        "media.fetch_failed",
                        f"downloading media took longer than {limits.fetch_timeout_s:g} s",
                    )
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    raise MediaUnavailable(
                        "media.fetch_failed", f"reading media failed: {_describe(exc)}"
                    ) from None
                if not chunk:
                    break
                total += len(chunk)
                if total > limits.max_bytes:
                    raise MediaRejected(
                        "media.too_large",
                        f"The media file is larger than the limit of {format_bytes(limits.max_bytes)}.",
                    )
                out.write(chunk)
        if total == 0:
            raise MediaRejected("media.empty", "The media file is empty.")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- pinned opener


class _Pinned:
    """Connects to pre-vetted addresses instead of resolving ``host`` again (mixed into both connections)."""

    _create_connection: Any

    def __init__(self, host: str, *, pinned: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(host, **kwargs)  # type: ignore[call-arg]
        self._pinned = tuple(pinned)
        self._create_connection = self._connect_pinned

    def _connect_pinned(
        self, address: tuple[str, int], timeout: float | None = None, source_address: Any = None
    ) -> socket.socket:
        return _connect_any(self._pinned, address[1], timeout, source_address)


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    """Plain HTTP to the vetted address."""


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    """TLS variant: connects to the vetted address, verifies the certificate for ``host``."""


def _connect_any(addresses: Sequence[str], port: int, timeout: float | None, source: Any) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source)
        except OSError as exc:
            last = exc
    raise last if last is not None else OSError("no address to connect to")


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, pinned: Sequence[str]) -> None:
        super().__init__()
        self._pinned = pinned

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PinnedHTTPConnection, req, pinned=self._pinned)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, pinned: Sequence[str]) -> None:
        super().__init__()
        self._pinned = pinned
        self._ssl_context = ssl.create_default_context()

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PinnedHTTPSConnection, req, pinned=self._pinned, context=self._ssl_context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Declines every redirect, so the 3xx surfaces as an ``HTTPError`` we map to a refusal."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _build_opener(pinned: Sequence[str]) -> urllib.request.OpenerDirector:
    """An opener with only what we need: no proxies from the environment, no file:/ftp:/data:."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        _PinnedHTTPHandler(pinned),
        _PinnedHTTPSHandler(pinned),
        _NoRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
