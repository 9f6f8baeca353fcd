"""Chromaprint fingerprints of a file's first audio stream, through the hardened media tools.

ffmpeg decodes mono 11,025 Hz PCM (Chromaprint's own rate) from a local file read with an
allow-list of demuxers, and fpcalc reads that PCM from stdin as raw samples, so neither tool
probes or follows anything the file says (a playlist "track" reads nothing).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from classifiers.rights.audio import AudioToolMissing
from safety.media import tools

U32 = npt.NDArray[np.uint32]
RATE = 11025


def check_tools() -> None:
    """:class:`AudioToolMissing` naming the package when ffmpeg or fpcalc is not installed."""
    for tool, package in ((tools.FFMPEG, "ffmpeg package"), (tools.FPCALC, "libchromaprint-tools")):
        if shutil.which(tool) is None:
            raise AudioToolMissing(f"{tool} not found: apt-get install -y {package.split()[0]}")


def fingerprint(
    path: str | Path, max_seconds: int = 600, *, demuxers: Sequence[str] = tools.VIDEO_DEMUXERS
) -> U32:
    """Raw Chromaprint items of the first audio stream of ``path``; empty when it has no audio."""
    check_tools()
    decode = tools.ffmpeg(
        "-v", "error", *tools.file_input(Path(path), demuxers), "-map", "0:a:0?", "-vn", "-ac", "1",
        "-ar", str(RATE), "-t", str(max_seconds), "-f", "s16le", "pipe:1",
    )  # fmt: skip
    proc = tools.run(decode, timeout_s=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not extract audio: {proc.stderr.decode(errors='replace')[-300:]}")
    if len(proc.stdout) < RATE * 2:  # under a second of sound (or none): nothing to fingerprint
        return np.zeros(0, dtype=np.uint32)
    out = tools.run(tools.fpcalc_stdin(rate=RATE, length_s=max_seconds), input=proc.stdout, timeout_s=120)
    # fpcalc 1.5 exits 3 after "Error decoding audio frame (End of file)" on perfectly good input
    # while still printing the whole fingerprint: trust the output, not the exit code.
    try:
        items = json.loads(out.stdout)["fingerprint"]
    except (ValueError, KeyError) as exc:
        if b"empty" in out.stderr.lower() or b"not enough" in out.stderr.lower():
            return np.zeros(0, dtype=np.uint32)
        raise RuntimeError(f"fpcalc failed: {out.stderr.decode(errors='replace')[-300:]}") from exc
    return np.asarray([int(v) & 0xFFFFFFFF for v in items], dtype=np.uint32)
