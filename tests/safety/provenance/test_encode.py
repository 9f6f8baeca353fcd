"""The final encode in one ffmpeg (issue 8): the same pixels as the Python mark, and the whole-file proof."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from safety.media import MediaLimits, MediaRejected, probe
from safety.provenance import watermark as wm
from safety.provenance import watermark2 as wm2
from safety.provenance.encode import SourceFormat, encode_final, probe_source

WID = "0123456789abcdef"


def yuv(path: Path) -> np.ndarray:
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, np.uint8)


def streams(path: Path) -> str:
    cmd = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,nb_frames", "-of",
           "compact", str(path)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(("name", "scheme"), [("card", 1), ("fractal", 1), ("fractal", 2)])
def test_mark_inside_ffmpeg_equals_the_python_mark(
    clips: dict[str, Path], tmp_path: Path, name: str, scheme: int
) -> None:
    """grainmerge with one pattern frame gives bit for bit what Embedder.apply does per frame."""
    fmt = probe_source(clips[name])
    emb = (wm.Embedder if scheme == 1 else wm2.Embedder)(WID, fmt.width, fmt.height, 2.0)
    one, two = tmp_path / "ffmpeg.mp4", tmp_path / "python.mp4"
    a = encode_final(clips[name], one, fmt, mark=emb, crf=20, preset="veryfast")
    b = encode_final(clips[name], two, fmt, mark=emb.apply, crf=20, preset="veryfast")
    assert a.frames == b.frames == 72 and a.mark_seconds == 0.0 < b.mark_seconds
    assert np.array_equal(yuv(one), yuv(two))
    assert streams(one) == streams(two)  # the card's audio is carried the same way


def test_grain_frame_is_the_offset_around_128() -> None:
    emb = wm.Embedder(WID, 64, 36, 2.0)
    frame = np.frombuffer(emb.grain_frame(), np.uint8)
    y, chroma = frame[: 64 * 36].reshape(36, 64).astype(int), frame[64 * 36 :]
    assert frame.size == 64 * 36 * 3 // 2 and (chroma == 128).all()
    assert np.array_equal(y - 128, emb.plus.astype(int) - emb.minus.astype(int)) and emb.grain_exact


def test_truncated_source_is_rejected_not_published_shorter(clips: dict[str, Path], tmp_path: Path) -> None:
    """The publish decode is the one that reads every frame: a file that ends early is corrupt."""
    cut = tmp_path / "cut.mp4"
    data = clips["fractal"].read_bytes()
    cut.write_bytes(data[: len(data) // 3])  # faststart: the header still promises 3 s
    fmt = probe_source(cut)
    for mark in (wm.Embedder(WID, fmt.width, fmt.height, 2.0), None):
        with pytest.raises(MediaRejected) as exc:
            encode_final(cut, tmp_path / "out.mp4", fmt, mark=mark, crf=20, preset="veryfast")
        assert exc.value.code == "media.corrupt"


def test_source_format_from_the_pipeline_probe(clips: dict[str, Path]) -> None:
    fractal = probe(clips["fractal"], MediaLimits())
    assert SourceFormat.from_info(fractal) == probe_source(clips["fractal"])
    assert SourceFormat.from_info(probe(clips["card"], MediaLimits())) is None  # audio: ffprobe names it
