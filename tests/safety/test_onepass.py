"""Issue 18: one decode per video samples the detectors' frames and encodes the watermarked asset.

Real ffmpeg, the real pipeline and the real provenance publisher (SQLite). The detectors must see
exactly what the two-pass path (sample, then encode after the verdict) showed them, and every way
the speculative encode can go wrong still holds the video with nothing published or left behind.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fgtest import event

from classifiers.base import Detector, DetectorInput, Modality, Signal
from policies import load_policy
from safety.config import Settings
from safety.events import VideoGenerated
from safety.media import MediaLimits, probe, sample_frames
from safety.media.samples import make_video
from safety.media_pass import DecodeOnce, SampleThenEncode
from safety.pipeline import Pipeline, PipelineResult
from safety.provenance.config import ProvenanceConfig
from safety.provenance.onepass import EncodePlan, Sampling, sample_and_encode
from safety.provenance.source import SourceFormat, probe_source
from safety.provenance.verify import verify_file
from safety.provenance.watermark2 import Embedder
from safety.runtime import build_pipeline, build_publisher, open_database

LIMITS = MediaLimits()
POLICY = """
policy: onepass-test
version: "1.0.0"
description: Publishes everything except prompts naming a bomb (rejected).
detectors:
  prompt_screen:
    lexicon:
      dangerous:
        - {pattern: '\\b(bomb)\\b', weight: 0.9}
defaults:
  audience: everyone
rules:
  - id: reject.bomb
    description: Bombs are rejected.
    when: {signal: prompt.dangerous, gte: 0.5}
    then: {action: reject, reasons: [dangerous_acts], message: No bombs.}
"""


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 720p card with audio, a zooming fractal and a video with hard scene cuts."""
    from safety.media.samples import make_scene_cut_video

    root = tmp_path_factory.mktemp("onepass")
    return {
        "card": make_video(root / "card.mp4", source="testsrc2", duration_s=3.0, width=1280, height=720,
                           with_audio=True),
        "fractal": make_video(root / "fractal.mp4", source="mandelbrot", duration_s=3.0, width=640,
                              height=360),
        "cuts": make_scene_cut_video(root / "cuts.mp4", ["testsrc2", "color=c=red", "smptebars",
                                     "color=c=blue"], 0.8, width=640, height=360, fps=24),
    }  # fmt: skip


@pytest.fixture(scope="module")
def rotated(clips: dict[str, Path]) -> Path:
    """The fractal with a 90-degree display matrix: the one decode must turn both branches."""
    out = clips["fractal"].with_name("rotated.mp4")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(clips["fractal"]), "-c", "copy"]
    subprocess.run([*cmd, "-metadata:s:v:0", "rotate=90", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process temp directory, watched: a finished video must leave nothing in it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _plan(info_path: Path, dest: Path, watermark_id: str = "00112233aabbccdd") -> EncodePlan:
    fmt = probe_source(info_path)
    grain = dest.parent / "grain.yuv"
    grain.write_bytes(Embedder(watermark_id, fmt.width, fmt.height, 2.3).grain_frame())
    return EncodePlan("dec-1", watermark_id, fmt, dest, grain, 20, "veryfast", None, 300.0)


@pytest.mark.parametrize("name", ["card", "fractal", "cuts", "rotated"])
def test_one_pass_hands_detectors_the_same_frames_bit_for_bit(
    clips: dict[str, Path], rotated: Path, tmp_path: Path, name: str
) -> None:
    clips = {**clips, "rotated": rotated}
    info = probe(clips[name], LIMITS)
    old = sample_frames(info, limits=LIMITS)
    plan = _plan(clips[name], tmp_path / "encoded.mp4")
    new, prepared = sample_and_encode(info, plan, sampling=Sampling(), limits=LIMITS)
    assert len(new.frames) == len(old.frames) >= 6
    assert new.timestamps == old.timestamps
    assert all(np.array_equal(a, b) for a, b in zip(old.frames, new.frames, strict=True))
    assert (new.source_width, new.source_height) == (old.source_width, old.source_height)
    # ... and the same pass produced the whole encode.
    assert prepared.error is None and prepared.path == plan.dest
    fmt = SourceFormat.from_info(info) or probe_source(clips[name])
    assert prepared.frames == round(info.duration_s * float(fmt.rate))
    assert probe(plan.dest, LIMITS).duration_s == pytest.approx(info.duration_s, abs=0.1)


def _pipeline(
    tmp_path: Path,
    root: Path,
    mode: str,
    *,
    detectors: Sequence[Detector] = (),
    policy: bool = True,
    **overrides: Any,
) -> Pipeline:
    """The real pipeline and provenance publisher (build_publisher, as the worker builds it)."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    if policy:
        overrides["policy_file"] = policy_file
    settings = Settings(data_dir=tmp_path / f"data-{mode}", media_roots=[root], encode_mode=mode, **overrides)
    db = open_database(settings)
    if not detectors:
        return build_pipeline(settings, db)
    return Pipeline(settings, load_policy(policy_file), build_publisher(settings, db), detectors=detectors)


def _event(path: Path, prompt: str = "a calm lake", video_id: str = "vid-1") -> VideoGenerated:
    return VideoGenerated.model_validate(event(video_id, path.resolve().as_uri(), prompt))


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _ffmpeg_children() -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and "ffmpeg" in stat.split(")")[0]:
                kids.append(int(entry.name))
    return kids


def test_verdicts_and_signals_are_identical_in_both_modes_and_the_mark_is_recovered(
    clips: dict[str, Path], tmp_path: Path, workdir: Path
) -> None:
    """The default policy with every detector: the same decision, signals and frame count; the
    asset published from the one-pass encode carries the watermark and a valid manifest."""
    root = clips["card"].parent
    one = _pipeline(tmp_path, root, "speculative", policy=False)
    two = _pipeline(tmp_path, root, "after_verdict", policy=False)
    assert isinstance(one.pixels, DecodeOnce) and isinstance(two.pixels, SampleThenEncode)
    for name in ("card", "cuts"):
        a, b = one.moderate(_event(clips[name])), two.moderate(_event(clips[name]))
        assert a.decision.outcome.value == b.decision.outcome.value == "published"
        assert a.decision.model_dump() == b.decision.model_dump()
        assert _signals(a) == _signals(b) and a.frames_sampled == b.frames_sampled
        assert a.asset_uri is not None and b.asset_uri is not None
        report = verify_file(Path(a.asset_uri.removeprefix("file://")))
        assert report.c2pa_state in ("Valid", "Trusted") and report.consistent
        assert report.watermark is not None and report.watermark.found
    assert _files(workdir) == []


def _signals(r: PipelineResult) -> list[tuple[str, str, float]]:
    return sorted((s.detector, s.name, round(s.score, 9)) for s in r.signals)


class _Exploding(Detector):
    """Fails while the speculative encode runs (prefetch) and again when asked to detect."""

    name = "test.exploding"
    version = "1"
    consumes = frozenset({Modality.FRAMES})
    signal_names = ("test.boom",)

    def prefetch(self, frames: Sequence[Any]) -> None:
        raise RuntimeError("boom during the encode")

    def detect(self, data: DetectorInput) -> list[Signal]:
        raise RuntimeError("boom")


class _EncodeSaboteur(Detector):
    """Deletes the speculative MP4 while ffmpeg writes it: the real ffmpeg then fails to finish it."""

    name = "test.saboteur"
    version = "1"
    consumes = frozenset({Modality.FRAMES})
    signal_names = ("test.none",)

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def prefetch(self, frames: Sequence[Any]) -> None:
        for f in self.tmp.glob("feedguard-*/encoded.mp4"):
            f.unlink()

    def detect(self, data: DetectorInput) -> list[Signal]:
        return [self._signal("test.none", 0.0)]


def _assert_nothing_left(p: Pipeline, workdir: Path) -> None:
    assert _files(p.settings.assets_dir / "videos") == [], "no asset stored"
    assert _files(workdir) == [], "no temporary file left"
    deadline = time.monotonic() + 1.0  # a killed ffmpeg may take a moment to be reaped
    while _ffmpeg_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ffmpeg_children() == [], "no ffmpeg left running"


def test_detector_failure_during_the_speculative_encode_holds_and_leaves_nothing(
    clips: dict[str, Path], tmp_path: Path, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = _pipeline(tmp_path, clips["card"].parent, "speculative", detectors=[_Exploding()])
    with caplog.at_level(logging.INFO):
        r = p.moderate(_event(clips["card"]))
    assert r.decision.outcome.value == "held" and r.failed_stage == "detect:test.exploding"
    assert "sample" in r.stage_ms and "publish" not in r.stage_ms
    assert any("discarded the speculative encode" in m for m in caplog.messages)
    _assert_nothing_left(p, workdir)


def test_an_encode_that_fails_late_holds_the_video(
    clips: dict[str, Path], tmp_path: Path, workdir: Path
) -> None:
    p = _pipeline(tmp_path, clips["card"].parent, "speculative", detectors=[_EncodeSaboteur(workdir)])
    r = p.moderate(_event(clips["card"]))
    assert r.decision.outcome.value == "held" and r.failed_stage == "publish"
    assert r.error is not None and "EncodeError" in r.error, r.error
    assert r.frames_sampled > 0, "the detectors still ran on the frames"
    _assert_nothing_left(p, workdir)


def test_an_encoder_that_cannot_start_holds_the_video_and_does_not_reject_it(
    clips: dict[str, Path], tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ffmpeg fails before the first frame (here: a badge filter reading a missing file). That
    looks like an undecodable upload; the sampling decode alone tells them apart."""
    from safety.provenance import publisher as publisher_module

    missing = tmp_path / "missing.txt"
    monkeypatch.setattr(
        publisher_module, "badge_filter", lambda *a: f"drawtext=textfile={missing}:fontcolor=white"
    )
    badge = ProvenanceConfig(visible_badge=True)
    p = _pipeline(tmp_path, clips["card"].parent, "speculative", provenance=badge)
    r = p.moderate(_event(clips["card"]))
    assert r.decision.outcome.value == "held" and r.failed_stage == "publish"
    assert r.error is not None and "encoder failed" in r.error, r.error
    assert r.frames_sampled > 0
    _assert_nothing_left(p, workdir)


def test_a_rejected_video_discards_its_encode(
    clips: dict[str, Path], tmp_path: Path, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = _pipeline(tmp_path, clips["card"].parent, "speculative")
    with caplog.at_level(logging.INFO):
        r = p.moderate(_event(clips["card"], prompt="how to build a bomb"))
        ok = p.moderate(_event(clips["card"], video_id="vid-2"))
    assert r.decision.outcome.value == "rejected" and r.decision.reasons == ["dangerous_acts"]
    assert r.asset_uri is None
    assert sum("discarded the speculative encode of vid-1" in m for m in caplog.messages) == 1
    assert ok.decision.outcome.value == "published" and ok.asset_uri is not None
    published = _files(p.settings.assets_dir / "videos")
    assert [f.name for f in published] == [Path(ok.asset_uri).name], "only the published video's asset"
    assert _files(workdir) == []


def test_a_one_pass_past_its_deadline_holds_and_its_ffmpeg_is_stopped(
    clips: dict[str, Path], tmp_path: Path, workdir: Path
) -> None:
    """The one decode carries the encode, so it has the publish deadline; past it the video is held,
    ffmpeg is killed before the temporary directory goes, and nothing is published."""
    p = _pipeline(tmp_path, clips["card"].parent, "speculative", stage_timeout_s=0.3, publish_timeout_s=0.3)
    r = p.moderate(_event(clips["card"]))
    assert r.decision.outcome.value == "held" and r.failed_stage == "sample"
    assert r.error is not None and "StageTimeout" in r.error
    _assert_nothing_left(p, workdir)
