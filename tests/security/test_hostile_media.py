"""Hostile media files: every one is refused with the reason code of the limit or check that
stopped it, with bounded memory (each case runs in a process of its own whose peak RSS, and that
of its ffprobe/ffmpeg children, is read back), and the real pipeline turns each into a rejection.

The files are crafted cheaply: a 16000x16000 frame is a 760 KB PNG of one colour, ten hours is a
stream at one frame per 100 s, and a forged container is an 8-byte patch of a real one.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fgtest import ROOT, event

from safety.assets import LocalAssetStore
from safety.config import Settings
from safety.events import VideoGenerated
from safety.media import samples
from safety.pipeline import Pipeline
from safety.publishing import CopyPublisher

RUNNER = Path(__file__).with_name("media_case.py")
MAX_RSS_MIB = 1536  # 1.5 GiB: what one hostile file may cost a worker, ffmpeg included
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]

# case -> (expected reason code, stage that must stop it)
HOSTILE: dict[str, tuple[str, str]] = {
    "empty.mp4": ("media.empty", "fetch"),
    "sparse-600MiB.mp4": ("media.too_large", "fetch"),
    "head-only.mp4": ("media.corrupt", "probe"),
    "moov-lost.mp4": ("media.corrupt", "probe"),
    "tail-cut.mp4": ("media.corrupt", "sample"),
    "garbled.mp4": ("media.corrupt", "probe"),
    "text.mp4": ("media.corrupt", "probe"),
    "png-image.mp4": ("media.no_video", "probe"),
    "hls-playlist.mp4": ("media.no_video", "probe"),
    "ffconcat.mp4": ("media.no_video", "probe"),
    "audio-only.m4a": ("media.no_video", "probe"),
    "audio-only.mp4": ("media.no_video", "probe"),
    "declared-16000x16000.mkv": ("media.resolution_too_high", "probe"),
    "png-bomb.mkv": ("media.resolution_too_high", "sample"),
    "ten-hours.mp4": ("media.too_long", "probe"),
    "claims-10s-plays-10h.mkv": ("media.too_long", "sample"),
    "40000-frames.mp4": ("media.too_many_frames", "probe"),
}
# Real videos in other containers, named .mp4: judged by their content, not their name.
WELL_FORMED = ["matroska-named.mp4", "webm-named.mp4"]


def ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True, capture_output=True, timeout=60)


def solid_png(width: int, height: int) -> bytes:
    """A black RGB PNG of any size in a fraction of a second: the zlib stream repeats one
    full-flushed block (identical bytes each time), and the Adler-32 is computed to match."""
    row = b"\x00" * (1 + 3 * width)  # filter byte + pixels
    rows_per = max(1, (1 << 20) // len(row))
    blocks, rest = divmod(height, rows_per)
    assert blocks >= 2, "meant for big images"
    block = row * rows_per
    comp = zlib.compressobj(9)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)  # with the zlib header
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)  # the same bytes every time
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(block, adler)
    tail = comp.compress(row * rest) + comp.flush()
    adler = zlib.adler32(row * rest, adler)
    idat = first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def patch_once(path: Path, find: bytes, replace: bytes) -> None:
    data = path.read_bytes()
    assert data.count(find) == 1, f"{path.name}: expected one {find.hex()}"
    path.write_bytes(data.replace(find, replace))


def build(root: Path) -> None:
    """Every hostile file (about 2 s of ffmpeg on 2 cores)."""
    work = root / "work"
    work.mkdir()
    base = samples.make_video(work / "base.mp4", duration_s=6.0, width=64, height=36, fps=12)
    data = base.read_bytes()

    (root / "empty.mp4").touch()
    with (root / "sparse-600MiB.mp4").open("wb") as f:  # no disk used: only the size is hostile
        f.truncate(600 * 1024 * 1024)
    (root / "head-only.mp4").write_bytes(data[:1024])
    ffmpeg("-i", str(base), "-c", "copy", str(work / "moov-at-end.mp4"))  # no faststart
    (root / "moov-lost.mp4").write_bytes((work / "moov-at-end.mp4").read_bytes()[: len(data) // 2])
    (root / "tail-cut.mp4").write_bytes(data[: len(data) * 2 // 5])  # header intact, 60 % gone
    samples.make_corrupt(root / "garbled.mp4", from_video=base)
    samples.make_not_video(root / "text.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x36", "-frames:v", "1", str(work / "still.png"))
    (root / "png-image.mp4").write_bytes((work / "still.png").read_bytes())
    (root / "hls-playlist.mp4").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"
        "#EXTINF:10,\nhttp://127.0.0.1:9/secret.ts\n#EXT-X-ENDLIST\n"
    )
    (root / "ffconcat.mp4").write_text(f"ffconcat version 1.0\nfile '{base}'\nfile '/etc/passwd'\n")
    samples.make_audio_only(root / "audio-only.m4a", duration_s=1.0)
    samples.make_audio_only(root / "audio-only.mp4", duration_s=1.0)

    # 16000x16000 declared by the container of a 256x256 raw stream (PixelWidth/PixelHeight).
    raw = root / "declared-16000x16000.mkv"
    ffmpeg(
        *("-f", "lavfi", "-i", "color=c=gray:s=256x256:r=1", "-t", "2"),
        *("-c:v", "rawvideo", "-pix_fmt", "gray", str(raw)),
    )
    for element in (b"\xb0", b"\xba"):  # EBML ids of PixelWidth, PixelHeight; 2-byte values
        patch_once(raw, element + b"\x82\x01\x00", element + b"\x82" + (16000).to_bytes(2, "big"))

    # A decompression bomb: a 16x16 first frame (what ffprobe looks at), then 16000x16000
    # frames (768 MB each once decoded) in a 2.3 MB file. Muxed without decoding (-c copy).
    frames = work / "bomb"
    frames.mkdir()
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=16x16", "-frames:v", "1", str(frames / "f00.png"))
    big = solid_png(16000, 16000)
    for i in (1, 2, 3):
        (frames / f"f{i:02d}.png").write_bytes(big)
    ffmpeg(
        "-f",
        "image2",
        "-framerate",
        "2",
        "-i",
        str(frames / "f%02d.png"),
        "-c",
        "copy",
        str(root / "png-bomb.mkv"),
    )

    sparse = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=16x16:r=1/100",
        "-t",
        "36000",
        *sparse,
        str(root / "ten-hours.mp4"),
    )
    # Ten hours at one frame per 10 s whose Matroska Duration (ms, float64) is patched to 10 s.
    liar = root / "claims-10s-plays-10h.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=16x16:r=1/10", "-t", "36000", *sparse, str(liar))
    patch_once(
        liar, b"\x44\x89\x88" + struct.pack(">d", 36_000_000.0), b"\x44\x89\x88" + struct.pack(">d", 10_000.0)
    )
    # 40,000 declared frames: one second at 1000 fps, looped without re-encoding.
    ffmpeg("-f", "lavfi", "-i", "color=s=16x16:r=1000", "-t", "1", *sparse, str(work / "one-second.mp4"))
    ffmpeg(
        "-stream_loop", "39", "-i", str(work / "one-second.mp4"), "-c", "copy", str(root / "40000-frames.mp4")
    )

    ffmpeg("-i", str(base), "-c", "copy", "-f", "matroska", str(root / "matroska-named.mp4"))
    ffmpeg(
        "-i",
        str(base),
        "-t",
        "2",
        "-c:v",
        "libvpx",
        "-b:v",
        "200k",
        "-f",
        "webm",
        str(root / "webm-named.mp4"),
    )


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile_media")
    build(root)
    return root


@pytest.fixture(scope="module")
def outcomes(hostile_root: Path) -> dict[str, dict[str, Any]]:
    """Every case in a process of its own (forked by the runner after one import)."""
    names = [*HOSTILE, *WELL_FORMED]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *(str(hostile_root / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results: dict[str, dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return {Path(k).name: v for k, v in results.items()}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_is_refused_by_the_limit_that_stopped_it(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    code, stage = HOSTILE[name]
    got = outcomes[name]
    assert (got["outcome"], got["code"], got["stage"]) == ("rejected", code, stage), got
    assert got["detail"] and "/" not in got["detail"], "a sentence for the creator, no server paths"
    assert got["rss_self_mib"] < MAX_RSS_MIB and got["rss_children_mib"] < MAX_RSS_MIB, got


@pytest.mark.parametrize("name", WELL_FORMED)
def test_other_containers_are_judged_by_content_not_name(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    got = outcomes[name]
    assert got["outcome"] == "accepted" and got["frames"] >= 3, got
    assert got["rss_children_mib"] < MAX_RSS_MIB


def test_the_bomb_is_refused_before_a_huge_frame_is_allocated(outcomes: dict[str, dict[str, Any]]) -> None:
    """One decoded 16000x16000 RGB frame is 768 MB; refusing it must cost far less than that."""
    for name in ("png-bomb.mkv", "declared-16000x16000.mkv"):
        assert outcomes[name]["rss_children_mib"] < 512, outcomes[name]
    assert "16000x16000" in outcomes["declared-16000x16000.mkv"]["detail"]


@pytest.fixture(scope="module")
def pipeline(hostile_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The real pipeline, every detector, likeness against an empty SQLite registry."""
    from safety.runtime import build_pipeline, open_database

    data = tmp_path_factory.mktemp("hostile_pipeline")
    settings = Settings(data_dir=data, media_roots=[hostile_root])
    db = open_database(settings)
    p = build_pipeline(settings, db, CopyPublisher(LocalAssetStore(data / "assets")))
    yield p
    p.close()
    db.dispose()


def test_the_pipeline_rejects_every_hostile_file_with_its_code(
    pipeline: Pipeline, hostile_root: Path
) -> None:
    wrong = {}
    for name, (code, _) in HOSTILE.items():
        ev = VideoGenerated.model_validate(event("v-hostile", (hostile_root / name).as_uri()))
        decision = pipeline.moderate(ev).decision
        if (decision.outcome.value, decision.reasons) != ("rejected", [code]) or not decision.creator_message:
            wrong[name] = (decision.outcome.value, decision.reasons)
    assert not wrong, wrong
