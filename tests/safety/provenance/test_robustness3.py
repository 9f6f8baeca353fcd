"""Scheme 3 (chroma) through the attacks of issue 16, on real encodes of a 3 s 640x360 clip.

The mark goes in through the production final encode (config defaults); every attack is a real
ffmpeg command; the detector is what ``feedguard verify`` runs (one decode of the Y, U and V means,
scheme 3, then the scheme 2 and 1 fallbacks). Full 720p figures over eight natural clips:
benchmarks/WATERMARK.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from safety.provenance import watermark as wm1
from safety.provenance import watermark2 as wm2
from safety.provenance import watermark3 as wm3
from safety.provenance.config import ProvenanceConfig
from safety.provenance.encode import encode_final, probe_source
from safety.provenance.verify import detect_any
from safety.provenance.wmread import detection_planes

WID = "0ddba11c0ffee123"
FAST = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
HALF = "lutyuv=y=val*0.5"
CROP71 = "crop=iw*0.843:ih*0.843:iw*0.1:ih*0.04"

ATTACKS: dict[str, list[str]] = {
    "horizontal flip": ["-vf", "hflip", *FAST],
    "vertical flip": ["-vf", "vflip", *FAST],
    "rotate 4 deg, black corners": ["-vf", "rotate=4*PI/180:fillcolor=black", *FAST],
    "rotate -5 deg, cropped": ["-vf", "rotate=-5*PI/180,crop=iw*0.86:ih*0.86,scale=640:360", *FAST],
    "H.264 CRF 30 + crop 71% + brightness 0.5": [
        "-vf",
        f"{CROP71},{HALF}",
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-crf",
        "30",
    ],
    "downscale to 240p": ["-vf", "scale=-2:240", *FAST],
    "letterbox 10%": ["-vf", "pad=iw:ih*1.1:0:(oh-ih)/2", *FAST],
    "pillarbox 10%": ["-vf", "pad=iw*1.1:ih:(ow-iw)/2:0", *FAST],
    "trim 1.5 s": ["-ss", "1", "-t", "1.5", *FAST],
    "speed 2x": ["-vf", "setpts=0.5*PTS", "-r", "24", *FAST],
    "colour grade": ["-vf", "eq=saturation=1.4:gamma=1.3", *FAST],
    "brightness x0.5": ["-vf", HALF, *FAST],
    "HEVC": ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "28", "-x265-params", "log-level=error"],
    "AV1": ["-c:v", "libsvtav1", "-preset", "12", "-crf", "40"],
    "VP9": ["-c:v", "libvpx-vp9", "-crf", "36", "-b:v", "0", "-deadline", "realtime", "-cpu-used", "8"],
}


@pytest.fixture(scope="module")
def marked3(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ProvenanceConfig()
    clip = clips["card"]
    fmt = probe_source(clip)
    out = tmp_path_factory.mktemp("marked3") / "card-s3.mp4"
    encode_final(clip, out, fmt, mark=wm3.Embedder(WID, fmt.width, fmt.height, cfg.watermark_strength),
                 crf=cfg.crf, preset=cfg.preset)  # fmt: skip
    return out


# Measured loss, kept visible: x265 at 640x360 (ultrafast or veryfast, CRF 28) removes the chroma
# mark (6 chroma pixels per cell); at 720p the eval reads HEVC copies (benchmarks/WATERMARK.md).
KNOWN_LOSSES = {"HEVC"}


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(a, marks=pytest.mark.xfail(strict=True, reason="x265 removes the chroma mark at 360p"))
        if a in KNOWN_LOSSES
        else a
        for a in ATTACKS
    ],
)
def test_scheme3_payload_survives(
    marked3: Path, tmp_path: Path, ffmpeg: Callable[..., None], attack: str
) -> None:
    out = tmp_path / ("t.webm" if attack in ("VP9", "AV1") else "t.mkv")
    ffmpeg("-i", str(marked3), *ATTACKS[attack], "-an", str(out))
    planes, frames = detection_planes(out)
    det, scheme = detect_any(planes, frames, wm1.DEFAULT_KEY)
    assert det.watermark_id == WID, f"{attack}: {det}"
    assert scheme == wm3.ALGORITHM


def test_scheme3_leaves_luma_alone_and_marks_chroma(marked3: Path, clips: dict[str, Path]) -> None:
    """The grainmerge frame changes U and V only: the marked encode's mean Y equals the unmarked
    source's closely, U carries +pattern and V -pattern."""
    (y, u, v), _ = detection_planes(marked3)
    (y0, u0, v0), _ = detection_planes(clips["card"])
    assert float(np.abs(y - y0).mean()) < 0.6
    emb = wm3.Embedder(WID, 640, 360, ProvenanceConfig().watermark_strength)
    pat = emb.chroma.astype(np.float32)
    assert float(np.corrcoef((u - u0).ravel(), pat.ravel())[0, 1]) > 0.5
    assert float(np.corrcoef((v - v0).ravel(), pat.ravel())[0, 1]) < -0.5
    frame = np.frombuffer(emb.grain_frame(), dtype=np.uint8)
    assert (frame[: 640 * 360] == 128).all()


def test_scheme3_needs_the_key_and_unmarked_video_reads_nothing(
    marked3: Path, clips: dict[str, Path]
) -> None:
    planes, frames = detection_planes(marked3)
    assert detect_any(planes, frames, b"another-secret")[0].watermark_id is None
    for clip in clips.values():
        planes, frames = detection_planes(clip)
        det, scheme = detect_any(planes, frames, wm1.DEFAULT_KEY)
        assert det.watermark_id is None and scheme is None


def test_videos_marked_with_scheme_2_are_still_read(clips: dict[str, Path], tmp_path: Path) -> None:
    """Fallback for videos published with scheme 2: the chroma detector finds nothing, scheme 2 does."""
    fmt = probe_source(clips["card"])
    out = tmp_path / "s2.mp4"
    encode_final(clips["card"], out, fmt, mark=wm2.Embedder(WID, fmt.width, fmt.height, 2.3), crf=20,
                 preset="veryfast")  # fmt: skip
    planes, frames = detection_planes(out)
    det, scheme = detect_any(planes, frames, wm1.DEFAULT_KEY)
    assert det.watermark_id == WID and scheme == wm2.ALGORITHM
