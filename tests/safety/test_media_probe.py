"""probe: container facts from the real ffprobe, and every limit it enforces before decoding."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from safety.media import MediaLimits, MediaRejected, MediaUnavailable, VideoInfo, probe, samples

LIMITS = MediaLimits()


def rejected(path: Path, limits: MediaLimits = LIMITS) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        probe(path, limits)
    return info.value


def test_probe_reads_container_facts(tiny_video: Path) -> None:
    info = probe(tiny_video, LIMITS)
    assert info.path == tiny_video
    assert info.size_bytes == tiny_video.stat().st_size
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert (info.width, info.height) == (160, 90)
    assert (info.display_width, info.display_height) == (160, 90)
    assert info.fps == pytest.approx(24.0)
    assert info.codec == "h264"
    assert info.nb_frames == 48
    assert info.has_audio is False
    assert info.rotation == 0


def test_probe_sees_audio(tmp_path: Path) -> None:
    video = samples.make_video(tmp_path / "av.mp4", duration_s=1.0, width=160, height=90, with_audio=True)
    assert probe(video, LIMITS).has_audio is True


def test_rotation_swaps_display_size(rotated_video: Path) -> None:
    info = probe(rotated_video, LIMITS)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (160, 90)
    assert (info.display_width, info.display_height) == (90, 160)
    # Limits apply to the size viewers see: a portrait 90x160 fits 100 wide, 200 high.
    portrait = MediaLimits(max_width=100, max_height=200)
    assert probe(rotated_video, portrait).display_height == 160


def test_too_long(tiny_video: Path) -> None:
    exc = rejected(tiny_video, MediaLimits(max_duration_s=1.0))
    assert exc.code == "media.too_long"
    assert exc.detail == "The video is 2.0 s long; the limit is 1 s."


def test_too_large(tiny_video: Path) -> None:
    exc = rejected(tiny_video, MediaLimits(max_bytes=1000))
    assert exc.code == "media.too_large"
    assert f"{tiny_video.stat().st_size} bytes" in exc.detail
    assert "1000 bytes" in exc.detail


def test_resolution_too_high(tiny_video: Path, rotated_video: Path) -> None:
    assert rejected(tiny_video, MediaLimits(max_width=100)).code == "media.resolution_too_high"
    assert rejected(tiny_video, MediaLimits(max_height=80)).code == "media.resolution_too_high"
    exc = rejected(tiny_video, MediaLimits(max_pixels=160 * 90 - 1))
    assert exc.code == "media.resolution_too_high"
    assert "160x90" in exc.detail and "14400" in exc.detail
    assert rejected(rotated_video, MediaLimits(max_height=100)).code == "media.resolution_too_high"


def test_too_many_frames(tiny_video: Path) -> None:
    exc = rejected(tiny_video, MediaLimits(max_frames=10))
    assert exc.code == "media.too_many_frames"
    assert exc.detail == "The video has 48 frames; the limit is 10."


def test_duration_is_checked_before_resolution_and_frames(tiny_video: Path) -> None:
    tight = MediaLimits(max_duration_s=1.0, max_width=10, max_frames=1)
    assert rejected(tiny_video, tight).code == "media.too_long"


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    assert rejected(tmp_path / "empty.mp4").code == "media.empty"
    assert rejected(tmp_path / "missing.mp4").code == "media.not_found"


def test_corrupt_file(corrupt_video: Path) -> None:
    assert rejected(corrupt_video).code == "media.corrupt"


def test_text_file_named_mp4_is_corrupt(not_video: Path) -> None:
    """ffprobe tries the MP4 demuxer (by extension), finds no moov atom and fails."""
    assert rejected(not_video).code == "media.corrupt"


def test_text_file_with_text_extension_is_not_a_video(not_video: Path, tmp_path: Path) -> None:
    """Without the demuxer allow-list ffprobe would call this an ANSI-art "video" (tty demuxer)."""
    txt = shutil.copy(not_video, tmp_path / "notes.txt")
    assert rejected(Path(txt)).code == "media.no_video"


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    png = tmp_path / "still.png"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x36",
            "-frames:v",
            "1",
            str(png),
        ],
        check=True,
    )
    assert rejected(png).code == "media.no_video"


def test_audio_only(audio_only: Path) -> None:
    exc = rejected(audio_only)
    assert exc.code == "media.no_video"


def test_probe_timeout_is_unavailable(tiny_video: Path) -> None:
    with pytest.raises(MediaUnavailable) as info:
        probe(tiny_video, MediaLimits(probe_timeout_s=0.001))
    assert info.value.code == "media.timeout"


def test_path_with_protocol_like_name_is_a_plain_file(tiny_video: Path, tmp_path: Path) -> None:
    """Names such as ``concat:...`` or ``-i`` must be opened as files, never as ffmpeg syntax."""
    weird_dir = tmp_path / "concat:x|y"
    weird_dir.mkdir()
    weird = Path(shutil.copy(tiny_video, weird_dir / "-i.mp4"))
    assert probe(weird, LIMITS).nb_frames == 48


def test_video_info_declared_frames_falls_back_to_duration_times_fps(tmp_path: Path) -> None:
    info = VideoInfo(tmp_path, 1, 2.5, 4, 4, 24.0, "vp9", None, False, 0)
    assert info.declared_frames == 60
