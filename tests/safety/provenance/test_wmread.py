"""The detector's decode (safety.provenance.wmread): reduced-size, 16-bit mean of the Y plane."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from safety.provenance.encode import EncodeError, mean_luma
from safety.provenance.wmread import detection_luma


def test_mean_is_the_full_size_y_mean_area_scaled(tmp_path: Path, ffmpeg: Callable[..., None]) -> None:
    """720p in, 960x540 out, equal to the full-size mean scaled down (no range change, no 8-bit
    rounding per frame: a sub-level mark lives in the fractions)."""
    src = tmp_path / "hd.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=24:duration=1", "-c:v", "libx264", "-crf", "18",
           "-pix_fmt", "yuv420p", str(src))  # fmt: skip
    small, frames = detection_luma(src)
    full, full_frames = mean_luma(src)
    assert small.dtype == np.float32 and small.shape == (540, 960)
    assert frames == full_frames == 24
    ref = cv2.resize(full, (960, 540), interpolation=cv2.INTER_AREA)
    assert float(np.median(np.abs(small - ref))) < 0.2  # same levels, not a rescaled range
    assert np.mean(small != np.round(small)) > 0.5  # fractions kept


def test_small_video_is_read_at_its_own_size_and_frames_are_capped(
    tmp_path: Path, ffmpeg: Callable[..., None]
) -> None:
    src = tmp_path / "small.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=2", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(src))  # fmt: skip
    mean, frames = detection_luma(src, max_frames=10)
    assert mean.shape == (240, 320) and frames == 10


def test_not_a_video_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(EncodeError):
        detection_luma(bad)


def test_planes_are_the_full_size_means_area_scaled(tmp_path: Path, ffmpeg: Callable[..., None]) -> None:
    """U and V (what scheme 3 reads) come at half the Y size, equal to the full-size chroma means
    scaled down; Y is the same as detection_luma's."""
    import subprocess

    from safety.provenance.wmread import detection_planes

    src = tmp_path / "hd.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=24:duration=1", "-c:v", "libx264", "-crf", "18",
           "-pix_fmt", "yuv420p", str(src))  # fmt: skip
    (y, u, v), frames = detection_planes(src)
    assert y.shape == (540, 960) and u.shape == v.shape == (270, 480) and frames == 24
    assert np.array_equal(y, detection_luma(src)[0])
    cmd = ["ffmpeg", "-v", "error", "-i", str(src), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    full = np.frombuffer(raw, np.uint8).reshape(24, -1).astype(np.float64).mean(axis=0)
    n = 1280 * 720
    for plane, start in ((u, n), (v, n * 5 // 4)):
        ref = cv2.resize(full[start : start + n // 4].reshape(360, 640).astype(np.float32), (480, 270),
                         interpolation=cv2.INTER_AREA)  # fmt: skip
        assert float(np.median(np.abs(plane - ref))) < 0.3
