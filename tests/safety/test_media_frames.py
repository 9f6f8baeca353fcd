"""sample_frames: one real ffmpeg decode into RGB frames on a time grid plus scene cuts."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from safety.media import MediaLimits, MediaRejected, MediaUnavailable, probe, sample_frames
from safety.media.frames import frame_size

LIMITS = MediaLimits()
CUTS = (17 / 24, 34 / 24, 51 / 24)  # where make_scene_cut_video's 0.7 s shots change at 24 fps


def test_grid_sampling_count_and_timestamps(tiny_video: Path) -> None:
    batch = sample_frames(probe(tiny_video, LIMITS), fps=2.0, scene_threshold=None, limits=LIMITS)
    assert list(batch.timestamps) == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert len(batch.frames) == 4
    assert (batch.source_width, batch.source_height) == (160, 90)
    for frame in batch.frames:
        assert frame.shape == (90, 160, 3)  # never upscaled past the source
        assert frame.dtype == np.uint8


def test_default_sampling_is_about_duration_times_fps(tiny_video: Path) -> None:
    batch = sample_frames(probe(tiny_video, LIMITS), limits=LIMITS)
    assert 4 <= len(batch.frames) <= 6
    assert len(batch.timestamps) == len(batch.frames)
    assert all(b > a for a, b in itertools.pairwise(batch.timestamps))


def test_scene_cuts_add_frames_at_the_cuts(scene_video: Path) -> None:
    info = probe(scene_video, LIMITS)
    with_cuts = sample_frames(info, fps=1.0, scene_threshold=0.3, limits=LIMITS).timestamps
    grid_only = sample_frames(info, fps=1.0, scene_threshold=None, limits=LIMITS).timestamps
    assert list(grid_only) == pytest.approx([0.0, 1.0, 2.0])
    for cut in CUTS:
        assert any(abs(t - cut) <= 1 / 24 + 1e-3 for t in with_cuts), (cut, with_cuts)
        assert not any(abs(t - cut) <= 1 / 24 + 1e-3 for t in grid_only)
    assert all(b > a for a, b in itertools.pairwise(with_cuts))


def test_max_side_keeps_aspect_ratio(tiny_video: Path, rotated_video: Path) -> None:
    landscape = sample_frames(probe(tiny_video, LIMITS), max_side=64, limits=LIMITS)
    assert landscape.frames[0].shape == (36, 64, 3)
    portrait = sample_frames(probe(rotated_video, LIMITS), max_side=64, limits=LIMITS)
    assert portrait.frames[0].shape == (64, 36, 3)  # decoded upright, as viewers see it
    assert (portrait.source_width, portrait.source_height) == (90, 160)


@pytest.mark.parametrize(
    ("width", "height", "max_side", "expected"),
    [
        (1920, 1080, 512, (512, 288)),
        (1080, 1920, 512, (288, 512)),
        (161, 91, 512, (160, 90)),
        (100, 100, 512, (100, 100)),
        (4000, 3, 512, (512, 2)),
    ],
)
def test_frame_size(width: int, height: int, max_side: int, expected: tuple[int, int]) -> None:
    """Long side capped, never upscaled, both sides even (yuv/rgb scalers and codecs want that)."""
    assert frame_size(width, height, max_side) == expected


def test_max_sampled_frames_caps_the_batch(tiny_video: Path) -> None:
    capped = MediaLimits(max_sampled_frames=3)
    batch = sample_frames(probe(tiny_video, LIMITS), fps=24.0, scene_threshold=None, limits=capped)
    assert len(batch.frames) == 3
    assert list(batch.timestamps) == pytest.approx([0.0, 1 / 24, 2 / 24], abs=1e-3)


def test_rgb_channel_order(red_video: Path, blue_video: Path) -> None:
    red = sample_frames(probe(red_video, LIMITS), limits=LIMITS).frames[0].reshape(-1, 3).mean(axis=0)
    blue = sample_frames(probe(blue_video, LIMITS), limits=LIMITS).frames[0].reshape(-1, 3).mean(axis=0)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert blue[2] > 200 and blue[0] < 60 and blue[1] < 60


def test_corrupt_file_is_rejected(tiny_video: Path, corrupt_video: Path) -> None:
    info = dataclasses.replace(probe(tiny_video, LIMITS), path=corrupt_video)
    with pytest.raises(MediaRejected) as exc:
        sample_frames(info, limits=LIMITS)
    assert exc.value.code == "media.corrupt"


def test_not_a_video_is_rejected(tiny_video: Path, not_video: Path) -> None:
    info = dataclasses.replace(probe(tiny_video, LIMITS), path=not_video)
    with pytest.raises(MediaRejected) as exc:
        sample_frames(info, limits=LIMITS)
    assert exc.value.code == "media.corrupt"


def test_truncated_file_yields_the_frames_before_the_damage(tiny_video: Path, tmp_path: Path) -> None:
    """moov is at the front (faststart), so the header survives; ffmpeg decodes what is there."""
    truncated = tmp_path / "truncated.mp4"
    data = tiny_video.read_bytes()
    truncated.write_bytes(data[: len(data) * 6 // 10])
    info = probe(truncated, LIMITS)  # the header still promises 2 s
    batch = sample_frames(info, fps=24.0, scene_threshold=None, limits=LIMITS)
    assert 1 <= len(batch.frames) < 48


def test_decode_timeout_is_unavailable(tiny_video: Path) -> None:
    with pytest.raises(MediaUnavailable) as exc:
        sample_frames(probe(tiny_video, LIMITS), limits=MediaLimits(decode_timeout_s=0.001))
    assert exc.value.code == "media.timeout"


def test_bad_arguments(tiny_video: Path) -> None:
    info = probe(tiny_video, LIMITS)
    with pytest.raises(ValueError):
        sample_frames(info, fps=0.0, limits=LIMITS)
    with pytest.raises(ValueError):
        sample_frames(info, scene_threshold=1.5, limits=LIMITS)
