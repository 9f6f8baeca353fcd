"""The one way feedguard runs ffmpeg, ffprobe and fpcalc.

Media from outside is hostile, and these tools follow whatever a file says: an HLS or ffconcat
"audio track" makes ffmpeg open other local files or URLs (issue 14 read a file outside the media
roots into a stored FLAC that way). So every invocation is built here and checked by
:func:`check_argv` before it starts:

- an input from a file is ``file:<absolute path>`` with ``-protocol_whitelist file`` and a
  ``-format_whitelist`` drawn from our demuxer allow-lists (no hls, concat, image2 sequences,
  subfile, data: ...), and video inputs carry ``-max_pixels`` when the caller has a limit;
- other inputs are raw bytes on ``pipe:0`` (a forced raw format: nothing is probed) or a lavfi
  *generator* we name ourselves; filter graphs may not open files (``movie``, ``subtitles``...);
- no argument names a network or composite protocol, and outputs are plain muxers (no hls,
  dash, tee, segment) to ``file:``/``pipe:`` or a path;
- fpcalc reads raw PCM from stdin only (it would otherwise probe and demux a path like ffmpeg);
- every process runs under an address-space limit (``prlimit``) and a timeout.

:func:`install_guard` adds a runtime check (a ``sys.addaudithook``) that refuses to start one of
these tools any other way; the CLI installs it in every feedguard process, and a source scan in
``tests/security/test_ffmpeg_hardening.py`` fails when a module starts processes outside this one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "AUDIO_DEMUXERS",
    "IMAGE_DEMUXERS",
    "VIDEO_DEMUXERS",
    "Process",
    "UnsafeInvocation",
    "check_argv",
    "ffmpeg",
    "ffprobe",
    "file_input",
    "fpcalc_stdin",
    "guard_installed",
    "install_guard",
    "lavfi_input",
    "output",
    "pipe_input",
    "popen",
    "raw_file_input",
    "run",
    "version",
]

FFMPEG, FFPROBE, FPCALC = "ffmpeg", "ffprobe", "fpcalc"
TOOLS = frozenset({FFMPEG, FFPROBE, FPCALC})

VIDEO_DEMUXERS = (
    *("mov", "mp4", "m4a", "3gp", "3g2", "mj2"),  # one demuxer: MP4/QuickTime family
    *("matroska", "webm", "avi", "mpegts", "flv", "ogg", "gif"),
)
"""Container formats a video may come in; anything else (images, text, playlists) is refused."""
AUDIO_DEMUXERS = ("mp3", "wav", "flac", "ogg", "aac", "aiff", "mov", "mp4", "m4a", "matroska", "webm")
"""Containers a reference audio track may come in."""
IMAGE_DEMUXERS = ("image2", "png_pipe", "jpeg_pipe")
"""Only for our own packaged still images (samples), never for uploads."""
_KNOWN_DEMUXERS = frozenset(VIDEO_DEMUXERS + AUDIO_DEMUXERS + IMAGE_DEMUXERS)

_RAW_INPUTS = frozenset({"rawvideo", "s16le", "f32le"})
_GENERATORS = frozenset(
    {"color", "testsrc", "testsrc2", "smptebars", "smptehdbars", "rgbtestsrc", "mandelbrot", "life",
     "cellauto", "nullsrc", "sine", "anoisesrc", "anullsrc", "aevalsrc"}
)  # fmt: skip
_FILE_FILTERS = frozenset(
    {"movie", "amovie", "subtitles", "ass", "sendcmd", "asendcmd", "zmq", "azmq", "ladspa", "lv2",
     "frei0r", "frei0r_src", "lut3d", "haldclutsrc", "coreimage", "coreimagesrc", "openclsrc"}
)  # fmt: skip
_FILTER_OPTIONS = frozenset({"-vf", "-af", "-filter_complex", "-lavfi", "-filter:v", "-filter:a"})
_BAD_MUXERS = frozenset(
    {"hls", "dash", "tee", "segment", "ssegment", "stream_segment", "rtp", "rtp_mpegts", "rtsp", "sap",
     "fifo", "fifo_test", "smoothstreaming", "webm_chunk", "webm_dash_manifest", "image2", "concat"}
)  # fmt: skip
_PROTOCOL = re.compile(r"^([A-Za-z][A-Za-z0-9+.,_-]*):")
_SAFE_PROTOCOLS = frozenset({"file", "pipe"})
_FPCALC_FLAGS = frozenset({"-raw", "-json", "-signed", "-plain", "-text", "-overlap"})
_FPCALC_VALUES = {"-length", "-rate", "-channels", "-algorithm", "-format", "-chunk"}
_WORD = re.compile(r"[^\s;|&()`'\"<>=,]+")
_MAX_MEMORY_MB = int(os.environ.get("FEEDGUARD_MEDIA_TOOL_MAX_MEMORY_MB", "4096"))


class UnsafeInvocation(RuntimeError):
    """A media tool was asked to do something outside the hardened shape, or started another way."""


# -- building commands ---------------------------------------------------------------------------


def ffmpeg(*args: str) -> list[str]:
    return [FFMPEG, "-hide_banner", "-nostdin", *args]


def ffprobe(*args: str) -> list[str]:
    return [FFPROBE, "-hide_banner", *args]


def version(tool: str) -> list[str]:
    """The command printing ``tool``'s version (``feedguard doctor``)."""
    if tool not in TOOLS:
        raise UnsafeInvocation(f"not a media tool: {tool!r}")
    return [tool, "-version"] if tool == FPCALC else [tool, "-hide_banner", "-version"]


def fpcalc_stdin(*, rate: int, channels: int = 1, length_s: int = 120) -> list[str]:
    """fpcalc on raw signed 16-bit PCM from stdin: nothing for it to probe or demux."""
    return [FPCALC, "-raw", "-json", "-length", str(length_s), "-format", "s16le", "-rate", str(rate),
            "-channels", str(channels), "-"]  # fmt: skip


def file_input(path: Path, demuxers: Sequence[str], *, max_pixels: int | None = None) -> list[str]:
    """Options and ``-i`` for one local file read with only the ``file`` protocol and ``demuxers``.

    ``file:`` makes a name like ``concat:...`` or ``-x.mp4`` a name. ``max_pixels`` makes the
    decoders refuse any frame with more pixels *before* allocating it (a tiny file can hold a
    frame of hundreds of megapixels after a small first one).
    """
    unknown = set(demuxers) - _KNOWN_DEMUXERS
    if unknown:
        raise UnsafeInvocation(f"demuxers not on the allow-list: {sorted(unknown)}")
    limit = ["-max_pixels", str(max_pixels)] if max_pixels is not None else []
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(demuxers), *limit,
            "-i", "file:" + os.fspath(Path(path).absolute())]  # fmt: skip


def pipe_input(fmt: str, *options: str) -> list[str]:
    """Raw frames or samples on stdin (``fmt`` rawvideo, s16le or f32le; size/rate in ``options``)."""
    if fmt not in _RAW_INPUTS:
        raise UnsafeInvocation(f"pipe inputs are raw only, not {fmt!r}")
    return ["-protocol_whitelist", "pipe", "-f", fmt, *options, "-i", "pipe:0"]


def raw_file_input(path: Path, fmt: str, *options: str) -> list[str]:
    """A raw file we wrote ourselves (e.g. the watermark pattern): a forced raw format, no probing."""
    if fmt not in _RAW_INPUTS:
        raise UnsafeInvocation(f"raw file inputs are raw only, not {fmt!r}")
    return [
        "-protocol_whitelist",
        "file",
        "-f",
        fmt,
        *options,
        "-i",
        "file:" + os.fspath(Path(path).absolute()),
    ]


def lavfi_input(spec: str, *options: str) -> list[str]:
    """A synthetic source we name ourselves (samples, the demo, tests)."""
    return ["-f", "lavfi", *options, "-i", spec]


def output(path: Path) -> str:
    return "file:" + os.fspath(Path(path).absolute())


# -- checking ------------------------------------------------------------------------------------


def check_argv(argv: Sequence[str]) -> None:
    """Refuse anything outside the shapes above (raises :class:`UnsafeInvocation`)."""
    if not argv or Path(argv[0]).name not in TOOLS:
        raise UnsafeInvocation(f"not a media tool: {argv[:1]}")
    if Path(argv[0]).name == FPCALC:
        _check_fpcalc(list(argv[1:]))
        return
    args = list(argv[1:])
    group: list[str] = []  # options since the previous input
    for i, arg in enumerate(args):
        if arg == "-i" and i + 1 < len(args):
            _check_input(group, args[i + 1])
            group = []
            continue
        if i > 0 and args[i - 1] == "-i":
            continue
        group.append(arg)
        if arg in ("-safe", "-dump_attachment", "-attach"):
            raise UnsafeInvocation(f"{arg} is not allowed")
        if i > 0 and args[i - 1] in _FILTER_OPTIONS:
            _check_filters(arg)
        if i > 0 and args[i - 1] == "-f" and arg in _BAD_MUXERS:
            raise UnsafeInvocation(f"muxer or demuxer {arg!r} is not allowed")
        _check_protocol(arg)


def _check_input(options: list[str], target: str) -> None:
    fmt = _value(options, "-f")
    whitelist = _value(options, "-protocol_whitelist")
    if target == "pipe:0":
        if fmt not in _RAW_INPUTS or whitelist != "pipe":
            raise UnsafeInvocation("stdin inputs need a raw -f and -protocol_whitelist pipe")
    elif fmt == "lavfi":
        _check_filters(target, generators_only=True)
    elif target.startswith("file:/") and fmt in _RAW_INPUTS:
        if whitelist != "file":
            raise UnsafeInvocation("raw file inputs need -protocol_whitelist file")
    elif target.startswith("file:/"):
        formats = (_value(options, "-format_whitelist") or "").split(",")
        if whitelist != "file" or fmt is not None or not formats[0]:
            raise UnsafeInvocation("file inputs need -protocol_whitelist file and a -format_whitelist")
        if set(formats) - _KNOWN_DEMUXERS:
            raise UnsafeInvocation(
                f"demuxers not on the allow-list: {sorted(set(formats) - _KNOWN_DEMUXERS)}"
            )
    else:
        raise UnsafeInvocation(f"input {target[:80]!r} is neither file:/abs, pipe:0 nor a generator")
    for opt in options:
        _check_protocol(opt)


def _check_filters(graph: str, *, generators_only: bool = False) -> None:
    names = [m.group(1) for m in re.finditer(r"(?:^|[;,\]])\s*(?:\[[^\]]*\]\s*)*([A-Za-z0-9_]+)", graph)]
    for name in names:
        if name in _FILE_FILTERS:
            raise UnsafeInvocation(f"filter {name!r} can open files")
    if generators_only and (not names or names[0] not in _GENERATORS):
        raise UnsafeInvocation(f"lavfi input {graph[:60]!r} must start with a generator")


def _check_protocol(arg: str) -> None:
    m = _PROTOCOL.match(arg)
    if m and m.group(1).lower() not in _SAFE_PROTOCOLS and not m.group(1)[0].isdigit():
        raise UnsafeInvocation(f"argument {arg[:60]!r} names protocol {m.group(1)!r}")
    if "://" in arg:
        raise UnsafeInvocation(f"argument {arg[:60]!r} names a URL")


def _check_fpcalc(args: list[str]) -> None:
    if args == ["-version"]:
        return
    i = 0
    while i < len(args):
        if args[i] in _FPCALC_FLAGS:
            i += 1
        elif args[i] in _FPCALC_VALUES and i + 1 < len(args):
            if args[i] == "-format" and args[i + 1] not in _RAW_INPUTS:
                raise UnsafeInvocation("fpcalc reads raw PCM only")
            i += 2
        elif args[i] == "-" and i == len(args) - 1 and "-format" in args:
            return
        else:
            raise UnsafeInvocation(f"fpcalc argument {args[i]!r} is not allowed (stdin PCM only)")
    raise UnsafeInvocation("fpcalc reads raw PCM from stdin only ('-format s16le ... -')")


def _value(options: list[str], name: str) -> str | None:
    for i in range(len(options) - 1, 0, -1):
        if options[i - 1] == name:
            return options[i]
    return None


# -- running -------------------------------------------------------------------------------------

_local = threading.local()
_guard = {"installed": False}


@contextmanager
def _allowed() -> Iterator[None]:
    _local.allowed = True
    try:
        yield
    finally:
        _local.allowed = False


def _bounded(argv: Sequence[str]) -> list[str]:
    """The command under an address-space limit (a decode bomb dies, the caller does not)."""
    check_argv(argv)
    resolved = shutil.which(argv[0])
    if resolved is None:
        raise FileNotFoundError(f"{argv[0]} not found (apt-get install -y ffmpeg libchromaprint-tools)")
    limiter = shutil.which("prlimit")
    cmd = [resolved, *argv[1:]]
    if limiter is None or _MAX_MEMORY_MB <= 0:
        return cmd
    return [limiter, f"--as={_MAX_MEMORY_MB * 1024 * 1024}", "--", *cmd]


def run(
    argv: Sequence[str], *, timeout_s: float, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run to completion with output captured; ``subprocess.TimeoutExpired`` after ``timeout_s``."""
    cmd = _bounded(argv)
    with _allowed():
        return subprocess.run(
            cmd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )


def popen(
    argv: Sequence[str], *, stdin: int | IO[Any] | None = None, stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = subprocess.PIPE,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start for streaming; the caller owns the deadline (kill) and waits."""
    cmd = _bounded(argv)
    with _allowed():
        return subprocess.Popen(
            cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )


PIPE, DEVNULL, TimeoutExpired = subprocess.PIPE, subprocess.DEVNULL, subprocess.TimeoutExpired
Process = subprocess.Popen[bytes]  # what popen returns (callers need not import subprocess)


# -- the runtime guard ---------------------------------------------------------------------------


def _names_a_tool(words: Sequence[object]) -> bool:
    for item in words:
        for word in _WORD.findall(os.fsdecode(item) if isinstance(item, str | bytes | os.PathLike) else ""):
            if os.path.basename(word) in TOOLS:
                return True
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if getattr(_local, "allowed", False):
        return
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        words = [executable, *(argv if isinstance(argv, list | tuple) else [argv])]
    elif event == "os.system":
        words = [args[0]]
    elif event in ("os.posix_spawn", "os.exec"):
        words = [args[0], *(args[1] or ())]
    elif event == "os.spawn":
        words = [args[1], *(args[2] or ())]
    else:
        return
    if _names_a_tool(words):
        raise UnsafeInvocation("ffmpeg, ffprobe and fpcalc run only through safety.media.tools")


def install_guard() -> None:
    """Refuse, for the rest of this process, to start a media tool except through this module."""
    if not _guard["installed"]:
        sys.addaudithook(_hook)
        _guard["installed"] = True


def guard_installed() -> bool:
    return _guard["installed"]
